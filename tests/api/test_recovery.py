"""The service is killed mid-event (SIGKILL) and started again: the event resumes from the
current interval, completes and settles over what was measured.

The clock is paced (simulated devices): it stands still while the service is down and
never outruns the work, so how long the restart takes on the wall changes nothing."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import acme
from serve_process import ServeProcess

from vpp.store import Role, open_store

#: Simulated seconds per wall second at most: the 1-hour event lasts 15 s or more.
TIME_SCALE = "240"

#: How long to wait for a state before the test gives up: a guard against a hang, not a
#: measure of speed (the paced clock slows down on a busy machine) [s, wall].
GIVE_UP_S = 180.0

#: How long after it resumes an event's commands have surely reached their level: the
#: send lead (1 min) and the curtailable loads' ramp lead (5 min).
SETTLED_AFTER = timedelta(minutes=6)


async def tokens(db_url: str) -> dict[str, str]:
    async with open_store(db_url) as store:
        now = datetime.now(UTC)
        return {
            "operator": (await store.tokens.create(Role.OPERATOR, now))[1],
            "acme": (await store.tokens.create(Role.ENTERPRISE, now, "acme"))[1],
        }


def poll(
    url: str, headers: dict[str, str], done: Any, timeout_s: float = GIVE_UP_S
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        view: dict[str, Any] = httpx.get(url, headers=headers, timeout=5).json()
        if done(view):
            return view
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting on {url}")


@pytest.mark.slow
async def test_event_resumes_and_settles_after_the_service_is_killed(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'vpp.db'}"
    secrets = await tokens(db)
    operator = {"Authorization": f"Bearer {secrets['operator']}"}
    args = ("--db", db, "--simulated-devices", "--time-scale", TIME_SCALE)
    server = ServeProcess(tmp_path, *args).start(GIVE_UP_S)
    try:
        registered = httpx.put(
            f"{server.url}/v1/enterprises/acme",
            json=acme(),
            headers={"Authorization": f"Bearer {secrets['acme']}"},
        )
        assert registered.status_code == 201
        created = httpx.post(
            f"{server.url}/v1/events",
            json={"event_id": "ev-1", "lead_min": 15, "duration_min": 60, "target_kw": 200},
            headers=operator,
            timeout=30,
        )
        assert created.status_code == 201
        event_url = f"{server.url}/v1/events/ev-1"
        poll(event_url, operator, lambda v: v["history"][-1]["state"] == "active")
        server.kill()
        server.start(GIVE_UP_S)  # same database, same port
        view = poll(event_url, operator, lambda v: v["settlement"] is not None)
    finally:
        server.stop()

    incarnations = [(h["incarnation"], h["state"]) for h in view["history"]]
    assert incarnations[:4] == [(0, "received"), (0, "scheduled"), (0, "notified"), (0, "active")]
    assert incarnations[4:] == [
        (1, "received"),
        (1, "scheduled"),
        (1, "notified"),
        (1, "active"),
        (1, "completed"),
    ]
    assert view["history"][4]["note"].startswith("resumed after a restart")
    resumed_at = datetime.fromisoformat(view["history"][4]["at"])
    after = [
        i
        for i in view["intervals"]
        if datetime.fromisoformat(i["start"]) >= resumed_at + SETTLED_AFTER
    ]
    # The interval the restart fell in may fall short: its devices went back to normal when
    # their leases ended, until the resumed plan's commands ramped them down again. Every
    # interval after that is dispatched, measured and met.
    assert after, f"the restart took too long: resumed at {resumed_at}"
    assert all(i["met"] for i in after), after
    line = view["settlement"]["enterprises"][0]
    assert line["enterprise_id"] == "acme"
    assert line["delivered_kwh"] > 0
