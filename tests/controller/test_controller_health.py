"""How the controller judges silence (a missing ack) on a clock that runs by itself."""

from __future__ import annotations

from datetime import datetime, timedelta

from scenarios.harness import SCENE_START, STEEL_SITE, Scene, short_event
from vpp.controller import ControllerSettings, SimulatedClock
from vpp.hil_sim import SiteFaults

BESS = f"{STEEL_SITE}/bess"


class RunningClock(SimulatedClock):
    """Moved tick by tick like a simulated clock, but it says it runs by itself ``scale``
    times faster than the wall, as `vpp serve --time-scale` does."""

    def __init__(self, start: datetime, scale: float) -> None:
        super().__init__(start)
        self.scale = scale

    def wall_seconds_between(self, start: datetime, end: datetime) -> float:
        return (end - start).total_seconds() / self.scale


async def test_no_ack_on_a_sped_up_clock_is_judged_after_the_wall_floor_too() -> None:
    """At 60 times the wall's pace, 90 s of ack deadline are 1.5 s of wall time, which a
    broker on a loaded machine can miss: the battery that ignores its commands is dropped
    only once 10 s of wall time (600 s on this clock) have passed since its command."""
    event = short_event(target_kw=300.0)
    settings = ControllerSettings(silence_floor_wall_s=10.0)
    faults = {STEEL_SITE: SiteFaults(ignore_commands=frozenset({"bess"}))}
    clock = RunningClock(SCENE_START, scale=60.0)
    async with Scene(faults=faults, settings=settings, clock=clock) as scene:
        run = scene.submit(event)
        await scene.run_until(event.end)
        await scene.controller.wait(event.event_id)

    assert run.initial is not None
    (bess,) = (s for s in run.initial.schedules if s.key == BESS)
    first = next(t for t, v in enumerate(bess.setpoint_kw) if v is not None)
    first_sent = run.grid.starts[first] - timedelta(seconds=settings.send_lead_s)
    fault = run.dropped[BESS]
    assert fault.reason == f"no ack within {settings.ack_timeout_s:.0f} s"
    floor = timedelta(seconds=settings.silence_floor_wall_s * clock.scale)
    assert first_sent + floor <= fault.at <= first_sent + floor + timedelta(minutes=2)
