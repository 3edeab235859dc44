"""A device that ignores its commands is dropped for want of an ack, and others replace it."""

from __future__ import annotations

from datetime import timedelta

from scenarios.harness import STEEL_SITE, Scene, short_event
from vpp.controller import EventState, event_outcome
from vpp.hil_sim import SiteFaults

BESS = f"{STEEL_SITE}/bess"


async def test_battery_ignoring_commands_is_replaced_and_target_met_after_replan() -> None:
    """The battery, alone in the first plan, never answers; once its ack is overdue the
    controller drops it, dispatches the curtailable loads instead and meets the target in
    every interval that starts after the re-plan."""
    event = short_event(target_kw=300.0)
    faults = {STEEL_SITE: SiteFaults(ignore_commands=frozenset({"bess"}))}
    async with Scene(faults=faults) as scene:
        run = scene.submit(event)
        await scene.run_until(event.end + timedelta(minutes=15))
        await scene.controller.wait(event.event_id)
        outcome = event_outcome(run, scene.controller.monitor, scene.district, "default")

    assert run.initial is not None
    assert [s.key for s in run.initial.schedules if any(v is not None for v in s.setpoint_kw)] == [
        BESS
    ], "the cheap battery alone should make up the first plan"
    assert scene.gateways[STEEL_SITE].stats.ignored > 0
    assert all(s.command_kw is None for s in scene.samples(BESS)), "it never obeyed"

    fault = run.dropped[BESS]
    timeout_s = scene.controller.settings.ack_timeout_s
    assert fault.reason == f"no ack within {timeout_s:.0f} s"
    assert scene.controller.faults == [fault]
    (replan,) = run.replans
    assert replan.dropped == (BESS,)
    assert replan.reason == f"{BESS}: {fault.reason}"
    assert replan.added, "another resource should take the battery's place"
    assert BESS not in replan.added
    assert set(run.kept()) == set(replan.added)

    assert run.lifecycle.state is EventState.COMPLETED
    after = [i for i in outcome.intervals if i.start >= replan.at]
    assert after, "the re-plan should come before the event's last interval"
    for interval in after:
        assert interval.met, interval
