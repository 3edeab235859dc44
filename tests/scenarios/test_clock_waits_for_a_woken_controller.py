"""The simulated clock moves on only once the controller has done what a wake-up asked of it.

A task woken by the clock needs a few turns of the event loop to run; how soon it gets them
must not decide at which simulated minute it acts (before, a re-dispatch landed at 11:16 in
one run and 11:17 in the next).
"""

from __future__ import annotations

from datetime import timedelta

from scenarios.harness import Scene, short_event
from vpp.controller import EventState


async def test_controller_is_awake_from_its_wake_up_until_it_parks_again() -> None:
    """Right after the clock passes a run's wake-up the controller is awake; settling waits
    until the run has acted (here: sent the event's first setpoints) and parked again."""
    event = short_event(target_kw=300.0)
    async with Scene() as scene:
        run = scene.submit(event)
        assert scene.controller.awake, "a submitted event's task has not run yet"
        await scene.settle()
        assert not scene.controller.awake
        assert run.lifecycle.state is EventState.SCHEDULED

        scene.clock.advance_to(event.start)
        assert scene.controller.awake, "woken, not yet run"
        await scene.settle()
        assert not scene.controller.awake
        assert run.lifecycle.state is EventState.ACTIVE
        assert scene.now == event.start
        assert scene.adapter.stats.sent > 0

        scene.clock.advance_to(event.end + timedelta(minutes=15))
        await scene.settle()
        assert not scene.controller.awake
