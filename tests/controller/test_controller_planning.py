"""Pure helpers of the controller's plans: recovery commands kept after the window, and the
room the rebound cap leaves a re-plan or a later event."""

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from vpp.controller.planning import (
    asked_kw,
    commanded,
    others_rebound_kw,
    rebound_room_kw,
    recovering_buildings_c,
    released_from,
    replan,
    settled_stop,
    soc_after,
    temperature_at,
    within_event,
)
from vpp.domain import Battery, DispatchResult, ResourceSchedule, SetpointMode, TimeGrid
from vpp.optimizer import DispatchSettings, dispatch
from vpp.optimizer.resources.hvac import planned_temperature_c

from builders import battery, building, curtailable, district, enterprise, event, problem

TZ = ZoneInfo("Asia/Shanghai")
GRID = TimeGrid(start=datetime(2026, 7, 15, 11, tzinfo=TZ), interval_min=15, count=6)


def schedule(
    resource_id: str, kind: str, base: list[float], power: list[float]
) -> ResourceSchedule:
    return ResourceSchedule(
        enterprise_id="e",
        feeder_id="f1",
        site_id="site",
        resource_id=resource_id,
        kind=kind,
        mode=SetpointMode.POWER,
        baseline_kw=tuple(base),
        power_kw=tuple(power),
        setpoint_kw=tuple(None if b == p else p for b, p in zip(base, power, strict=True)),
    )


@pytest.mark.parametrize("kind", ["battery", "ev_charger_pool", "hvac_load"])
def test_within_event_keeps_the_planned_recovery_of_kinds_that_need_one(kind):
    """Batteries recharge and EV pools catch up under the plan's commands, not at once."""
    s = schedule("r", kind, [0.0] * 6, [0.0, -50.0, -50.0, 40.0, 40.0, 0.0])
    assert within_event(s, 3).setpoint_kw == s.setpoint_kw


def test_within_event_releases_a_curtailed_load_at_the_window_end():
    s = schedule("r", "curtailable_load", [100.0] * 6, [100.0, 60.0, 60.0, 120.0, 100.0, 100.0])
    assert within_event(s, 3).setpoint_kw[3:] == (None, None, None)


def test_within_event_keeps_a_hold_that_carries_a_curtailment_past_the_window():
    """Held on without a break, the curtailment is the plan's staggered release: sent."""
    s = schedule("r", "curtailable_load", [100.0] * 6, [100.0, 60.0, 60.0, 60.0, 120.0, 100.0])
    assert within_event(s, 3).setpoint_kw == (None, 60.0, 60.0, 60.0, None, None)


def test_within_event_keeps_a_curtailed_loads_planned_rebound_as_its_load():
    """Released, the load still takes its rebound back: the plan's load after the window
    stays, so a re-plan's room under the cap counts the 20 kW that come back."""
    s = schedule("r", "curtailable_load", [100.0] * 6, [100.0, 60.0, 60.0, 120.0, 100.0, 100.0])
    kept = within_event(s, 3)
    assert kept.power_kw == s.power_kw
    d = district(enterprise("plant", [curtailable("line", [(200.0, 1.0)])]))
    plan = dispatch(problem(d, event(target_kw=100.0)), DispatchSettings(rebound_margin_pct=0))
    n = plan.grid.count
    load = schedule("load", "curtailable_load", [100.0] * n, [100.0] * n)
    load = load.model_copy(update={"power_kw": (100.0,) * 52 + (120.0,) * (n - 52)})
    room = rebound_room_kw(plan, {"load": within_event(load, 52)}, frozenset({"mine"}))
    assert room is not None
    assert room[60] == pytest.approx(1000.0 - 120.0)  # the rebound is not room


def test_rebound_room_kw_is_the_limit_less_every_other_resources_plan():
    """Two resources not re-planned draw 300 and 200 kW: the limit less 500 kW is left,
    and nothing where the plan had no limit (its window)."""
    d = district(enterprise("plant", [curtailable("line", [(200.0, 1.0)])]))
    plan = dispatch(problem(d, event(target_kw=100.0)), DispatchSettings(rebound_margin_pct=0))
    n = plan.grid.count
    others = {
        "a": schedule("a", "battery", [0.0] * n, [300.0] * n),
        "b": schedule("b", "battery", [0.0] * n, [200.0] * n),
        "mine": schedule("mine", "battery", [0.0] * n, [999.0] * n),
    }
    room = rebound_room_kw(plan, others, frozenset({"mine"}))
    assert room is not None
    assert room[60] == pytest.approx(1000.0 - 500.0)  # 15:00: the cap is the 1,000 kW peak
    assert np.isnan(room[44:52]).all()  # 11:00-13:00, the window
    uncapped = dispatch(problem(d, event(target_kw=100.0)), DispatchSettings(rebound_cap="none"))
    assert rebound_room_kw(uncapped, others, frozenset({"mine"})) is None


def test_replan_of_a_battery_keeps_making_the_room_another_resources_rebound_needs():
    """The first plan's battery discharges 400 kW under the plant's rebound (13:00-14:00,
    the rebound at 1,400 kW on a 1,000 kW cap). Re-planned alone from its measured charge,
    its room there is -400 kW: it discharges again, or the excess is reported; the room was
    once floored at its own 0 kW baseline, so a re-plan stopped discharging and said 0."""
    d = district(
        enterprise(
            "plant",
            [curtailable("line", [(400.0, 1.0)], rebound_fraction=0.5, rebound_duration_min=60)],
        ),
        enterprise(
            "storage", [battery("bess", soc_initial=0.9, soc_final_min=0.1, price_cny_per_kwh=5.0)]
        ),
    )
    settings = DispatchSettings(target_margin_pct=0.0, rebound_margin_pct=0.0)
    first = dispatch(problem(d, event(target_kw=400.0)), settings)
    schedules = {f"{s.site_id}/{s.resource_id}": s for s in first.schedules}
    bess = next(k for k in schedules if k.endswith("/bess"))
    candidates = frozenset({bess})
    room = rebound_room_kw(first, schedules, candidates)
    assert room is not None
    assert room[52:56] == pytest.approx([-400.0] * 4, abs=1e-3)

    def replanned_at(soc: float) -> DispatchResult:
        return replan(
            problem(d, event(target_kw=400.0)),
            candidates=candidates,
            first_free_index=52,
            residual_kw=np.zeros(8),
            issued_at=datetime(2026, 7, 15, 12, 55, tzinfo=TZ),
            soc_by_key={bess: soc},
            settings=settings,
            rebound_limit_kw=room,
        )

    again = replanned_at(0.9)
    power = np.array(next(s for s in again.schedules if s.resource_id == "bess").power_kw)
    assert power[52:56] == pytest.approx([-400.0] * 4, abs=1e-3)
    assert again.max_rebound_excess_kw == pytest.approx(0.0, abs=1e-3)
    # Too little charge left to make all of it: what it cannot make is reported.
    low = replanned_at(0.2)
    assert low.max_rebound_excess_kw > 100.0


def test_asked_kw_after_the_window_is_only_what_a_command_carries_on():
    """A hold (commanded at 60 kW after the 3-interval window) is asked; the planned rebound
    after it and a curtailment no command carries are not."""
    held = schedule("r", "curtailable_load", [100.0] * 6, [60.0, 60.0, 60.0, 60.0, 120.0, 80.0])
    held = held.model_copy(update={"setpoint_kw": (60.0, 60.0, 60.0, 60.0, None, None)})
    assert asked_kw(held, 1.0, slice(0, 3)).tolist() == pytest.approx([40, 40, 40, 40, 0, 0])
    assert settled_stop([asked_kw(held, 1.0, slice(0, 3))], slice(0, 3)) == 4
    released = held.model_copy(update={"setpoint_kw": (60.0, 60.0, 60.0, None, None, None)})
    assert asked_kw(released, 1.0, slice(0, 3)).tolist() == pytest.approx([40, 40, 40, 0, 0, 0])
    assert settled_stop([asked_kw(released, 1.0, slice(0, 3))], slice(0, 3)) == 3
    assert settled_stop([], slice(0, 3)) == 3


def test_others_rebound_kw_sums_other_events_recovery_but_not_their_batteries():
    """An earlier event's curtailment rebound takes room; its battery does not (a new plan
    starts from the measured charge), nor does a reduction make room."""
    load = schedule(
        "load", "curtailable_load", [100.0] * 6, [100.0, 60.0, 60.0, 130.0, 120.0, 100.0]
    )
    bess = schedule("bess", "battery", [0.0] * 6, [0.0, -50.0, -50.0, 80.0, 80.0, 0.0])
    later = TimeGrid(start=datetime(2026, 7, 15, 11, 30, tzinfo=TZ), interval_min=15, count=6)
    out = others_rebound_kw([(GRID, {"load": load, "bess": bess})], later)
    assert out == pytest.approx([0.0, 30.0, 20.0, 0.0, 0.0, 0.0])


def test_released_from_returns_the_resource_to_its_baseline():
    s = schedule("r", "battery", [0.0] * 6, [0.0, -50.0, -50.0, 40.0, 40.0, 0.0])
    released = released_from(s, 3)
    assert released.power_kw[3:] == (0.0, 0.0, 0.0)
    assert released.setpoint_kw[:3] == s.setpoint_kw[:3]


def _battery(**extra: object) -> Battery:
    return Battery.model_validate(battery(**extra))


def test_soc_after_discharge_spends_energy_through_the_discharge_efficiency() -> None:
    """2 min at -2,000 kW with 95% discharge efficiency from a 1,000 kWh battery at 0.5."""
    b = _battery(capacity_kwh=1000.0, max_discharge_kw=2000.0, discharge_efficiency=0.95)
    assert soc_after(b, 0.5, -2000.0, 2 / 60) == pytest.approx(0.5 - 2000 / 30 / 0.95 / 1000)


def test_soc_after_charge_stores_energy_through_the_charge_efficiency() -> None:
    b = _battery(capacity_kwh=1000.0, max_charge_kw=600.0, charge_efficiency=0.9)
    assert soc_after(b, 0.5, 600.0, 0.25) == pytest.approx(0.5 + 600 * 0.25 * 0.9 / 1000)


def test_soc_after_stops_at_the_soc_window() -> None:
    """The battery's own EMS stops at soc_min: a plan must not start below it."""
    b = _battery(capacity_kwh=100.0, max_discharge_kw=500.0, soc_min=0.1, soc_max=0.9)
    assert soc_after(b, 0.15, -500.0, 1.0) == pytest.approx(0.1)
    assert soc_after(b, 0.85, 500.0, 1.0) == pytest.approx(0.9)
    assert soc_after(b, 0.05, 0.0, 1.0) == pytest.approx(0.05)  # a report below stays


def _building(resource_id: str, **extra: object) -> dict[str, object]:
    return building(resource_id, recovery_min=180, price_cny_per_kwh=0.5, **extra)


def test_a_later_plan_starts_a_recovering_building_where_the_older_plan_leaves_it():
    """A building an older event is still bringing back is handed to the later plan at the
    temperature the older plan has it at then (not its setpoint), and the older plan's
    recovery of it is not counted as other load: the later plan makes that recovery."""
    d = district(enterprise("mall", [_building("chiller"), _building("late", precool_min=0)]))
    older = problem(d, event(11, 12, target_kw=150.0))
    plan = dispatch(older, DispatchSettings())
    schedules = {s.key: s for s in plan.schedules}
    key = "mall-site/chiller"
    assert commanded(schedules[key])
    assert all(v is not None for v in schedules["mall-site/late"].setpoint_kw[50:52])
    later = problem(d, event(14, 15, target_kw=50.0, issued_h=12.5))
    first = later.first_free()
    warm = recovering_buildings_c([(older, schedules)], later)
    hvac = next(r for r in d.resources() if r.key == key).resource
    temps = planned_temperature_c(hvac, older, np.asarray(schedules[key].power_kw))
    assert warm[key] == pytest.approx(temps[first - 1])
    assert warm[key] > hvac.setpoint_c + 0.1  # still warm from the older event
    # The later plan may not command the other building before its window: not handed over.
    assert "mall-site/late" not in warm
    counted = others_rebound_kw([(older.grid, schedules)], later.grid)
    owned = others_rebound_kw([(older.grid, schedules)], later.grid, frozenset(warm))
    assert counted[first:].sum() > owned[first:].sum()


def test_a_building_the_older_plan_has_let_go_is_not_handed_over():
    d = district(enterprise("mall", [_building("chiller")]))
    older = problem(d, event(11, 12, target_kw=150.0))
    schedules = {s.key: s for s in dispatch(older, DispatchSettings()).schedules}
    late = problem(d, event(20, 21, target_kw=50.0, issued_h=19.5))
    assert recovering_buildings_c([(older, schedules)], late) == {}


def test_a_measured_indoor_temperature_moves_the_handed_over_one_by_the_plans_error():
    """Where the building says how warm it is, the later plan starts it from the older
    plan's temperature plus what the older plan's open-loop commands got wrong (the
    weather): measured 0.6 °C above the older plan's model, handed over 0.6 °C warmer."""
    d = district(enterprise("mall", [_building("chiller")]))
    older = problem(d, event(11, 12, target_kw=150.0))
    schedules = {s.key: s for s in dispatch(older, DispatchSettings()).schedules}
    later = problem(d, event(14, 15, target_kw=50.0, issued_h=12.5))
    key = "mall-site/chiller"
    modelled = recovering_buildings_c([(older, schedules)], later)[key]
    hvac = next(r for r in d.resources() if r.key == key).resource
    temps = planned_temperature_c(hvac, older, np.asarray(schedules[key].power_kw))
    read_at = datetime(2026, 7, 15, 12, 20, tzinfo=TZ)  # a third of the way into 12:15-12:30
    t = older.grid.first_index_at_or_after(read_at) - 1
    planned_then = temps[t - 1] + (temps[t] - temps[t - 1]) / 3
    assert temperature_at(older.grid, temps, read_at) == pytest.approx(planned_then)
    warm = recovering_buildings_c([(older, schedules)], later, {key: (read_at, planned_then + 0.6)})
    assert warm[key] == pytest.approx(modelled + 0.6)
