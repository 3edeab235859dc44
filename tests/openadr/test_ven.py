"""The VEN's own behaviour against VTNs that misbehave: one that never answers (stopping
mid-request), one that answers garbage; and openleadr's logger left as configured."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from mosquitto_broker import free_port
from openadr_vtn import until
from vpp.openadr.decision import Opt
from vpp.openadr.mapping import VtnEvent
from vpp.openadr.settings import VenSettings
from vpp.openadr.ven import Ven


class Host:
    """A VEN host that keeps the registration in memory and opts in to everything."""

    def __init__(self) -> None:
        self.registration: dict[str, Any] | None = None
        self.events: list[VtnEvent] = []

    async def load_registration(self) -> dict[str, Any] | None:
        return self.registration

    async def save_registration(self, registration: dict[str, Any] | None) -> None:
        self.registration = registration

    async def on_event(self, event: VtnEvent) -> Opt:
        self.events.append(event)
        return "optIn"


async def serve(handler: Any) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/{service}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def silent_vtn() -> AsyncIterator[tuple[str, asyncio.Event]]:
    """Takes each request and answers none until the test is over."""
    arrived, over = asyncio.Event(), asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        arrived.set()
        await over.wait()
        return web.Response(status=503)

    async for url in serve(hang):
        yield url, arrived
        over.set()


@pytest.fixture
async def garbage_vtn() -> AsyncIterator[str]:
    async def garbage(request: web.Request) -> web.Response:
        return web.Response(text="<not-openadr/>", content_type="application/xml")

    async for url in serve(garbage):
        yield url


async def test_stop_with_a_request_in_flight_is_clean_and_logs_no_error(
    silent_vtn: tuple[str, asyncio.Event], caplog: pytest.LogCaptureFixture
) -> None:
    url, arrived = silent_vtn
    ven = Ven(VenSettings(vtn_url=url, ven_name="v", request_timeout_s=60.0), Host())
    ven.start()
    await asyncio.wait_for(arrived.wait(), 10)
    with caplog.at_level(logging.DEBUG):
        await ven.stop()
    assert ven.health.state == "stopped"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "CancelledError" not in caplog.text


async def test_garbage_from_the_vtn_is_counted_retried_and_never_fatal(garbage_vtn: str) -> None:
    ven = Ven(
        VenSettings(vtn_url=garbage_vtn, ven_name="v", poll_s=0.05, backoff_max_s=0.1), Host()
    )
    ven.start()
    try:
        await until(lambda: ven.health.consecutive_failures >= 3, what="three failures")
        assert ven.health.counts["malformed"] >= 3
        assert ven.health.state == "unreachable"
        assert "unparsable" in (ven.health.last_error or "")
        assert ven.health.next_try_in_s is not None
        assert ven.health.next_try_in_s <= 0.1
    finally:
        await ven.stop()


def test_importing_openleadr_keeps_the_configured_log_level() -> None:
    """openleadr sets its logger to INFO on import; vpp restores the level set before."""
    code = (
        "import logging; logging.getLogger('openleadr').setLevel(logging.ERROR);"
        "import vpp.openadr.library;"
        "assert logging.getLogger('openleadr').level == logging.ERROR, "
        "logging.getLogger('openleadr').level"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
