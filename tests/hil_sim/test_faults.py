"""Fault injection: specs parse, the seeded plan is reproducible and fair, each fault bites."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from vpp.domain import AckStatus, GatewayState, SetpointMode
from vpp.hil_sim import FaultPlan, FaultSpec, IgnoreCommands, LateAck, Offline, SiteFaults, Span

from builders import DAY, at, battery, curtailable, district, enterprise

PV = {"kind": "pv", "resource_id": "roof", "capacity_kw": 50.0, "generation_kw": [0.0] * 24}
#: 10 enterprises, each one site with a load, a battery and PV: 20 candidates, 10 sites.
BIG = district(
    *(
        enterprise(f"ent-{i:03d}", [curtailable("line", [(100.0, 1.0)]), battery("bess"), PV])
        for i in range(10)
    )
)
POWER = SetpointMode.POWER


def draw(spec: dict, seed: int = 1) -> FaultPlan:
    return FaultPlan.draw(BIG, FaultSpec.model_validate(spec), day=DAY.date(), seed=seed)


def test_fault_spec_reads_times_and_single_entries():
    """'HH:MM' becomes minutes after midnight; one entry or a list both work."""
    spec = FaultSpec.model_validate(
        {
            "offline": {"share": 0.1, "at": "11:30", "duration_min": 30},
            "stuck_meter": [{"share": 0.1, "at": 690}, {"share": 0.2, "at": "13:00"}],
        }
    )
    assert spec.offline == (Offline(share=0.1, at=690, duration_min=30),)
    assert [s.at for s in spec.stuck_meter] == [690, 780]
    assert FaultSpec().empty


@pytest.mark.parametrize(
    "bad",
    [
        {"offline": {"share": 0.1, "at": "25:00"}},
        {"offline": {"share": 0.1, "at": "noon"}},
        {"ignore_commands": {"share": 1.5}},
        {"late_ack": {"share": 0.1, "delay_s": 0}},
        {"broker_outage": {"at": "12:00"}},
        {"flood": {"share": 0.1}},
    ],
    ids=["hour", "text", "share", "delay", "no-duration", "unknown-kind"],
)
def test_fault_spec_refuses_nonsense(bad):
    """Bad times, shares and unknown fault kinds are configuration errors."""
    with pytest.raises(ValidationError):
        FaultSpec.model_validate(bad)


def test_fault_plan_is_reproducible_for_a_seed():
    """The same seed strikes the same resources; another seed others."""
    spec = {"ignore_commands": {"share": 0.25}, "offline": {"share": 0.3, "at": "12:00"}}
    assert draw(spec, seed=1) == draw(spec, seed=1)
    assert draw(spec, seed=1).assignments != draw(spec, seed=2).assignments


def test_fault_plan_respects_shares_and_spares_pv():
    """round(share x candidates) distinct resources (never PV) and sites are struck."""
    plan = draw(
        {
            "ignore_commands": {"share": 0.25},
            "late_ack": {"share": 0.5, "delay_s": 30},
            "offline": {"share": 0.3, "at": "12:00"},
        }
    )
    ignoring = [a for a in plan.assignments if isinstance(a.fault, IgnoreCommands)]
    late = [a for a in plan.assignments if isinstance(a.fault, LateAck)]
    offline = [a for a in plan.assignments if isinstance(a.fault, Offline)]
    assert len(ignoring) == 5  # 25 % of 20 loads and batteries
    assert len(late) == 10
    assert len(offline) == 3  # 30 % of 10 sites
    assert len({a.target for a in ignoring}) == 5
    assert all(a.resource_id in ("line", "bess") for a in ignoring + late)
    assert all(a.resource_id is None for a in offline)


def test_fault_plan_describes_each_assignment():
    """One readable line per struck resource or site, and one per broker outage."""
    plan = draw(
        {
            "ignore_commands": {"share": 0.05},
            "offline": {"share": 0.1, "at": "11:30", "duration_min": 30},
            "broker_outage": {"at": "12:10", "duration_min": 3},
        }
    )
    lines = plan.describe()
    assert len(lines) == 3
    assert lines[0].startswith("ent-")
    assert lines[0].endswith(": ignores commands")
    assert lines[0].count("/") == 2  # enterprise/site/resource
    assert lines[1].endswith(": gateway offline from 11:30 for 30 min")
    assert lines[2] == "broker: broker outage from 12:10 for 3 min"
    assert plan.broker_outage_spans() == [(at(12 + 10 / 60), at(12 + 13 / 60))]


def test_fault_plan_for_site_gives_absolute_times():
    """A site's gateway gets its faults as spans of simulated time."""
    plan = draw({"offline": {"share": 1.0, "at": "11:30", "duration_min": 30}})
    faults = plan.for_site("ent-003-site")
    assert faults.offline == Span(at(11.5), at(12))
    assert plan.for_site("ent-003-site").ignore_commands == frozenset()


async def test_ignore_commands_neither_acks_nor_obeys(make_harness):
    """A resource that ignores commands stays silent and keeps running normally."""
    h = await make_harness(SiteFaults(ignore_commands=frozenset({"bess"})))
    await h.send("bess", h.setpoint("bess", POWER, -200.0, at(10), at(11)))
    await h.tick(count=2)
    assert h.acks() == []
    assert h.gateway.stats.ignored == 1
    assert h.gateway.traces["bess"].power_kw == [0.0, 0.0]
    assert len(h.telemetry("bess")) == 2  # it still reports


async def test_late_ack_delays_ack_and_application(make_harness):
    """The ack comes delay_s late and the command acts only from then."""
    h = await make_harness(SiteFaults(ack_delay_s={"bess": 90.0}))
    await h.send("bess", h.setpoint("bess", POWER, -200.0, at(10), at(11)))
    assert h.acks() == []
    await h.tick()
    assert h.acks() == []
    await h.tick(count=2)
    assert [a.status for a in h.acks()] == [AckStatus.ACCEPTED]
    powers = h.gateway.traces["bess"].power_kw
    assert powers[0] == 0.0
    # applied from 10:01:30: half a minute, less half the 4-s ramp
    assert powers[1] == pytest.approx(-200.0 * (30.0 - 2.0) / 60.0)
    assert powers[2] == pytest.approx(-200.0)


async def test_offline_gateway_fires_will_keeps_obeying_and_comes_back(make_harness):
    """Offline: will fires, telemetry stops, commands in hand go on; back after the duration."""
    h = await make_harness(SiteFaults(offline=Span(at(10) + timedelta(minutes=2), at(10.1))))
    await h.send("bess", h.setpoint("bess", POWER, -200.0, at(10), at(11)))
    await h.tick(count=8)
    states = [s.state for s in h.statuses()]
    assert states == [GatewayState.ONLINE, GatewayState.OFFLINE, GatewayState.ONLINE]
    reported = [t.ts for t in h.telemetry("bess")]
    minutes = [(ts - at(10)).total_seconds() / 60 for ts in reported]
    assert minutes == [1, 6, 7, 8]  # silent from 10:02 until back at 10:06
    assert h.gateway.traces["bess"].power_kw[3] == pytest.approx(-200.0)  # obeyed while away
    assert h.gateway.stats.telemetry_suppressed == 3 * 4


async def test_a_later_offline_span_is_played_after_coming_back(make_harness):
    """A gateway handed a new offline span (the service strikes one by hand) vanishes again."""
    h = await make_harness(SiteFaults(offline=Span(at(10) + timedelta(minutes=1), at(10.05))))
    await h.tick(count=4)
    h.gateway.faults = SiteFaults(offline=Span(at(10) + timedelta(minutes=5), at(10.15)))
    await h.tick(count=6)
    states = [s.state for s in h.statuses()]
    online, offline = GatewayState.ONLINE, GatewayState.OFFLINE
    assert states == [online, offline, online, offline, online]


async def test_telemetry_silent_resource_still_obeys(make_harness):
    """A silent meter reports nothing from its time on; the device keeps following commands."""
    h = await make_harness(
        SiteFaults(telemetry_silent={"bess": Span(at(10) + timedelta(minutes=2), None)})
    )
    await h.send("bess", h.setpoint("bess", POWER, -200.0, at(10), at(11)))
    await h.tick(count=4)
    assert len(h.telemetry("bess")) == 1
    assert len(h.telemetry("process")) == 4
    assert h.gateway.traces["bess"].power_kw[-1] == pytest.approx(-200.0)


async def test_stuck_meter_repeats_its_last_value(make_harness):
    """A stuck meter keeps reporting the value from before it stuck while the device moves."""
    h = await make_harness(
        SiteFaults(stuck_meter={"bess": Span(at(10) + timedelta(minutes=2), None)})
    )
    await h.send("bess", h.setpoint("bess", POWER, -200.0, at(10), at(11)))
    await h.tick(count=4)
    first = -200.0 + 200.0 * 4.0 / 2.0 / 60.0  # the first minute holds the 4-s ramp
    assert [t.power_kw for t in h.telemetry("bess")] == pytest.approx([first] * 4)
    assert h.gateway.traces["bess"].power_kw[1:] == pytest.approx([-200.0] * 3)


def test_fault_times_are_read_on_the_wall_clock_on_a_dst_day():
    """'11:30' on the spring-forward day is 11:30 local, not 12:30; durations are elapsed."""
    berlin = ZoneInfo("Europe/Berlin")
    plan = FaultPlan(day=date(2026, 3, 29), timezone="Europe/Berlin")
    assert plan.at(690) == datetime(2026, 3, 29, 11, 30, tzinfo=berlin)
    across = plan.span(60, 120)  # 01:00 CET for two hours, over the missing hour
    assert across.start == datetime(2026, 3, 29, 1, tzinfo=berlin)
    assert across.end == datetime(2026, 3, 29, 4, tzinfo=berlin)
