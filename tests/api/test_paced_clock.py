"""The device fabric moves a paced clock only when the work of the last tick is done."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from vpp.api.clock import PacedClock
from vpp.api.devices import DeviceFabric

T0 = datetime(2026, 7, 15, 3, 0, tzinfo=UTC)


class Solving:
    """Stands in for the controller: the fabric asks whether a solve runs and whether an
    event's task has work in hand."""

    busy = True
    awake = False


async def until(predicate: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        assert loop.time() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.01)


async def test_paced_clock_stands_still_while_a_solve_runs_and_moves_by_ticks_after() -> None:
    clock = PacedClock(T0, scale=3600.0)
    fabric = DeviceFabric(clock, None, simulated=True, tick_s=30.0)
    controller = Solving()
    fabric.pace(controller)  # type: ignore[arg-type]
    await fabric.start()
    try:
        # a hundred ticks' worth of wall time at this scale; a slow machine can only make
        # this pass without looking, never fail
        await asyncio.sleep(0.1)
        assert clock.now() == T0, "time moved while a solve ran"
        controller.busy = False
        await until(lambda: clock.now() >= T0 + timedelta(minutes=5), "ten ticks")
    finally:
        await fabric.stop()
    assert (clock.now() - T0) % timedelta(seconds=30) == timedelta(0)
