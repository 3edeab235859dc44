"""The dashboard's server-sent events from ``vpp serve``: what a push carries, and an open
stream does not keep an interrupted service from stopping."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import acme
from serve_process import ServeProcess

from vpp.store import Role, open_store


async def _tokens(db_url: str) -> dict[str, str]:
    async with open_store(db_url) as store:
        now = datetime.now(UTC)
        return {
            "operator": (await store.tokens.create(Role.OPERATOR, now))[1],
            "acme": (await store.tokens.create(Role.ENTERPRISE, now, "acme"))[1],
        }


@pytest.mark.slow
async def test_stream_pushes_the_event_and_ends_when_the_service_stops(tmp_path: Path):
    db = f"sqlite+aiosqlite:///{tmp_path / 'vpp.db'}"
    tokens = await _tokens(db)
    server = ServeProcess(tmp_path, "--db", db, "--simulated-devices", "--time-scale", "60")
    server.start()
    pushes: list[dict[str, Any]] = []
    first = threading.Event()
    try:
        registered = httpx.put(
            f"{server.url}/v1/enterprises/acme",
            json=acme(),
            headers={"Authorization": f"Bearer {tokens['acme']}"},
            timeout=30,
        )
        assert registered.status_code == 201
        created = httpx.post(
            f"{server.url}/v1/events",
            json={"event_id": "e1", "lead_min": 0, "duration_min": 30, "target_kw": 100},
            headers={"Authorization": f"Bearer {tokens['operator']}"},
            timeout=30,
        )
        assert created.status_code == 201
        client = httpx.Client(base_url=server.url)
        assert client.post("/ui/login", data={"token": tokens["operator"]}).status_code == 303

        def read() -> None:
            with client.stream("GET", "/ui/operator/events/e1/stream", timeout=None) as reply:
                assert reply.headers["content-type"].startswith("text/event-stream")
                try:
                    for line in reply.iter_lines():
                        if line.startswith("data: "):
                            pushes.append(json.loads(line.removeprefix("data: ")))
                            first.set()
                except httpx.RemoteProtocolError:
                    pass  # the stopping service cuts the stream off

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        assert first.wait(timeout=30), "no push arrived"
    finally:
        server.stop()
    assert server.process is not None
    assert server.process.returncode != -9, "the open stream kept the service from stopping"
    push = pushes[0]
    assert push["event_id"] == "e1"
    assert len(push["intervals"]) == 2
    assert all(isinstance(i["target_kw"], int) for i in push["intervals"])
