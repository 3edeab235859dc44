"""Invariants of every dispatch, on random small districts (hypothesis)."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vpp.domain import Battery, DemandResponseEvent, EventKind
from vpp.optimizer import dispatch

from builders import TZ, at, district, enterprise, problem

prices = st.floats(0.2, 3.0)


@st.composite
def curtailable_specs(draw, n):
    peak = draw(st.floats(300, 3000))
    steps = draw(st.lists(st.tuples(st.floats(20, 300), prices), min_size=1, max_size=3))
    total = sum(p for p, _ in steps)
    peak = max(peak, total * 1.05)
    return {
        "kind": "curtailable_load",
        "resource_id": f"load-{n}",
        "typical_load_kw": [
            peak * f for f in [1.0, *draw(st.lists(st.floats(0.5, 1.0), min_size=23, max_size=23))]
        ],
        "steps": [{"power_kw": p, "price_cny_per_kwh": c} for p, c in steps],
        "min_notice_min": draw(st.sampled_from([0, 30, 120])),
        "max_duration_min": draw(st.sampled_from([60, 120, 240])),
        "max_events_per_day": draw(st.integers(1, 2)),
        "min_rest_min": draw(st.sampled_from([0, 60])),
        "rebound_fraction": draw(st.floats(0, 0.8)),
    }


@st.composite
def battery_specs(draw, n):
    soc_min = draw(st.floats(0.0, 0.3))
    soc_max = draw(st.floats(soc_min + 0.2, 1.0))
    return {
        "kind": "battery",
        "resource_id": f"bess-{n}",
        "capacity_kwh": draw(st.floats(100, 4000)),
        "max_charge_kw": draw(st.floats(50, 2000)),
        "max_discharge_kw": draw(st.floats(50, 2000)),
        "charge_efficiency": draw(st.floats(0.85, 1.0)),
        "discharge_efficiency": draw(st.floats(0.85, 1.0)),
        "soc_min": soc_min,
        "soc_max": soc_max,
        "soc_initial": draw(st.floats(soc_min, soc_max)),
        "soc_final_min": draw(st.floats(soc_min, soc_max)),
        "price_cny_per_kwh": draw(prices),
    }


@st.composite
def ev_specs(draw, n):
    chargers = [
        {"charger_id": f"c{i}", "max_kw": draw(st.sampled_from([7.0, 60.0, 120.0]))}
        for i in range(3)
    ]
    sessions = []
    for i in range(3):
        arrive = draw(st.integers(0, 22))
        stay = draw(st.integers(1, 10))
        sessions.append(
            {
                "charger_id": f"c{i}",
                "arrival": f"{arrive:02d}:{draw(st.sampled_from([0, 10, 30])):02d}",
                "departure": f"{(arrive + stay) % 24:02d}:00",
                "energy_kwh": draw(st.floats(5, 200)),
            }
        )
    return {
        "kind": "ev_charger_pool",
        "resource_id": f"ev-{n}",
        "chargers": chargers,
        "sessions": sessions,
        "price_cny_per_kwh": draw(prices),
    }


@st.composite
def districts_and_events(draw):
    enterprises = []
    for n in range(draw(st.integers(1, 4))):
        resources = [draw(curtailable_specs(n))]
        if draw(st.booleans()):
            resources.append(draw(battery_specs(n)))
        if draw(st.booleans()):
            resources.append(draw(ev_specs(n)))
        enterprises.append(
            enterprise(f"ent-{n}", resources, feeder_id=draw(st.sampled_from(["f1", "f2"])))
        )
    feeders = [
        {
            "feeder_id": f,
            "capacity_kw": draw(st.floats(2000, 20000)),
            "background_load_kw": [draw(st.floats(0, 1500))] * 24,
        }
        for f in ("f1", "f2")
    ]
    d = district(*enterprises, feeders=feeders, rotation_counts={"ent-0": draw(st.integers(0, 3))})
    start_h = draw(st.integers(8, 19))
    length_h = draw(st.sampled_from([0.5, 1, 2, 3]))
    kind = draw(st.sampled_from(list(EventKind)))
    ev = DemandResponseEvent(
        event_id="prop",
        kind=kind,
        start=at(start_h),
        end=at(start_h + length_h),
        target_kw=draw(st.floats(10, 3000)),
        issued_at=at(start_h - draw(st.sampled_from([0.25, 2, 12]))),
    )
    return d, ev


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(districts_and_events())
def test_dispatch_invariants_hold_on_random_districts(case):
    """Within every limit; response + shortfall covers the target; SoC stays consistent."""
    d, ev = case
    result = dispatch(problem(d, ev))
    assert result.violations == ()
    for interval in result.event_intervals:
        assert interval.expected_response_kw + interval.shortfall_kw >= interval.target_kw - 1e-6
    refs = {ref.key: ref.resource for ref in d.resources()}
    dt = result.grid.dt_h
    for schedule in result.schedules:
        resource = refs[schedule.key]
        power = np.array(schedule.power_kw)
        for t, value in enumerate(schedule.setpoint_kw):
            if value is not None:
                assert result.grid.starts[t] >= ev.issued_at  # nothing is commanded in the past
        if isinstance(resource, Battery):
            assert power.max() <= resource.max_charge_kw + 1e-6
            assert -power.min() <= resource.max_discharge_kw + 1e-6
            energy = resource.soc_initial * resource.capacity_kwh + np.cumsum(
                np.where(
                    power > 0,
                    power * resource.charge_efficiency,
                    power / resource.discharge_efficiency,
                )
                * dt
            )
            assert energy.min() >= resource.soc_min * resource.capacity_kwh - 1e-3
            assert energy.max() <= resource.soc_max * resource.capacity_kwh + 1e-3
    assert result.grid.start.tzinfo == TZ
