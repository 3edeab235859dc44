"""The dispatcher: leases leave on time, expire with their interval, stay within limits,
are sent again only when the plan changes, and are released when taken back."""

from __future__ import annotations

from datetime import timedelta

from controller_fakes import BESS, FIRST, LINE, FakeAdapter, parts, planned_run, schedule

from vpp.controller import ControllerSettings
from vpp.controller.dispatcher import Dispatcher, claimed_by_others, hand_over
from vpp.domain import SetpointMode

from builders import at


def dispatcher(adapter: FakeAdapter | None = None) -> tuple[Dispatcher, FakeAdapter]:
    _, fake, roster, _ = parts()
    adapter = adapter or fake
    return Dispatcher(adapter, ControllerSettings(), roster), adapter


def test_send_time_is_the_send_lead_and_the_longest_ramp_lead_before_the_interval() -> None:
    d, _ = dispatcher()
    # send_lead 60 s + the longest ramp lead (hvac, 600 s) before 11:00
    assert d.send_time(planned_run(), FIRST) == at(11) - timedelta(seconds=660)


async def test_a_lease_leaves_its_send_lead_before_it_takes_effect_and_ends_with_its_interval() -> (
    None
):
    d, adapter = dispatcher()
    run = planned_run()
    # the line deepens its response and ramps slowly: in force 300 s early, sent 60 s before
    await d.send_due(run, at(11) - timedelta(seconds=361))
    assert adapter.commands(LINE) == []
    await d.send_due(run, at(11) - timedelta(seconds=360))
    [lease] = adapter.commands(LINE)
    assert lease.mode is SetpointMode.LIMIT
    assert lease.power_kw == 800.0
    assert lease.valid_from == at(11) - timedelta(seconds=300)
    assert lease.valid_until == at(11.25)
    assert adapter.commands(BESS) == []  # a battery ramps in seconds: it waits for 10:59
    await d.send_due(run, at(11) - timedelta(seconds=60))
    [battery_lease] = adapter.commands(BESS)
    assert battery_lease.valid_from == at(11)
    assert battery_lease.power_kw == -100.0
    assert {s.command_id for s in adapter.sent} == run.command_ids
    assert d.event_of(lease.command_id) == "ev"


async def test_an_unchanged_lease_is_not_sent_again_and_a_changed_one_is() -> None:
    d, adapter = dispatcher()
    run = planned_run()
    await d.send_due(run, at(10.99))
    await d.send_due(run, at(10.995))
    assert len(adapter.commands(LINE)) == 1
    run.schedules[LINE] = schedule(LINE, {t: 700.0 for t in range(FIRST, FIRST + 4)}, 1000.0)
    await d.send_due(run, at(10.995))
    assert [s.power_kw for s in adapter.commands(LINE)] == [800.0, 700.0]


async def test_a_lease_beyond_the_registered_limits_is_refused_and_counted() -> None:
    d, adapter = dispatcher()
    # the battery may discharge 500 kW at most
    run = planned_run(schedules=[schedule(BESS, {FIRST: -900.0}, 0.0)])
    await d.send_due(run, at(10.99))
    assert adapter.sent == []
    assert d.refused_setpoints == 1


async def test_a_command_a_replan_took_back_is_released() -> None:
    d, adapter = dispatcher()
    run = planned_run()
    await d.send_due(run, at(10.99))
    run.schedules[BESS] = schedule(BESS, {}, 0.0)
    await d.send_due(run, at(10.995))
    assert [s.mode for s in adapter.commands(BESS)] == [SetpointMode.POWER, SetpointMode.RELEASE]
    release = adapter.commands(BESS)[-1]
    assert release.valid_until - release.valid_from == timedelta(seconds=900)


async def test_only_resources_the_event_commanded_are_released() -> None:
    d, adapter = dispatcher()
    run = planned_run()
    await d.send_due(run, at(10.9))  # the line's first lease only
    released = await d.release_keys(run, [LINE, BESS], at(10.95))
    assert released == 1
    assert adapter.commands(LINE)[-1].mode is SetpointMode.RELEASE
    assert adapter.commands(BESS) == []


async def test_stopping_releases_every_resource_holding_a_lease() -> None:
    d, adapter = dispatcher()
    await d.send_due(planned_run(), at(10.99))
    await d.release_in_force(at(11))
    releases = [s for s in adapter.sent if s.mode is SetpointMode.RELEASE]
    assert {f"{s.site_id}/{s.resource_id}" for s in releases} == {LINE, BESS}


def test_a_newer_plan_takes_its_resources_from_an_older_one_at_its_first_command() -> None:
    older = planned_run()
    newer = planned_run(schedules=[schedule(BESS, {FIRST + 2: -200.0}, 0.0)])
    hand_over(newer, [older, newer], at(10))
    assert older.schedules[BESS].setpoint_kw[FIRST : FIRST + 4] == (-100.0, -100.0, None, None)
    assert older.schedules[LINE].setpoint_kw[FIRST + 3] == 800.0  # not the newer one's
    assert claimed_by_others(older, [older, newer]) == {BESS}
    assert claimed_by_others(newer, [older, newer]) == {LINE, BESS}


def test_a_newer_plan_takes_a_resource_at_a_first_command_of_zero_kw() -> None:
    """0 kW is a command (an EV pool stopped, a battery held idle), not the lack of one."""
    older = planned_run()
    newer = planned_run(schedules=[schedule(BESS, {FIRST + 1: 0.0, FIRST + 2: -200.0}, 0.0)])
    hand_over(newer, [older, newer], at(10))
    assert older.schedules[BESS].setpoint_kw[FIRST : FIRST + 4] == (-100.0, None, None, None)


async def test_an_event_at_local_midnight_ramps_into_its_first_interval_too() -> None:
    """The horizon starts at the event day's midnight: an event at 00:00 still has its
    slowly ramping loads limited 300 s before it (the load ran at its baseline before the
    horizon), not from 00:00 with the first interval's response lost to the ramp."""
    d, adapter = dispatcher()
    run = planned_run(schedules=(schedule(LINE, {0: 800.0, 1: 800.0}, 1000.0),))
    midnight = run.grid.starts[0]
    await d.send_due(run, midnight - timedelta(seconds=360))
    [lease] = adapter.commands(LINE)
    assert lease.valid_from == midnight - timedelta(seconds=300)
    assert lease.power_kw == 800.0
