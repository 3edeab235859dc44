"""An operator's cancel that lands while the controller is solving is acted on at once,
not when the run next wakes up (which, before an event, can be hours away)."""

from __future__ import annotations

import asyncio

from scenarios.harness import Scene, short_event
from vpp.controller import EventState


async def _until_solving(scene: Scene) -> None:
    while not scene.controller.busy:
        await asyncio.sleep(0)


async def test_cancel_during_a_replan_ends_the_event_without_moving_the_clock() -> None:
    event = short_event(target_kw=300.0)
    async with Scene() as scene:
        run = scene.submit(event)
        await scene.settle()
        assert run.lifecycle.state is EventState.SCHEDULED
        planned_at = scene.now

        scene.controller.modify(event.event_id, target_kw=500.0)
        await asyncio.wait_for(_until_solving(scene), timeout=5)
        scene.controller.cancel(event.event_id, "grid no longer needs it")
        await scene.wait_for(lambda: run.lifecycle.finished, "the cancel to take effect")

    assert scene.now == planned_at
    assert run.lifecycle.state is EventState.CANCELLED
    assert run.lifecycle.history[-1].note.startswith("grid no longer needs it")
