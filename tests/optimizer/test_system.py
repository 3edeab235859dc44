"""System rows of the dispatch model: the rebound cap, checked on cases worked by hand.

The case: one plant at a flat 1,000 kW with one 400 kW step (1 CNY/kWh) and half of the
curtailed energy coming back within an hour, and, in the same district, a battery. The
target, 400 kW over 11:00-13:00, takes the whole step: 800 kWh curtailed, 400 kWh back over
13:00-14:00, i.e. 400 kW on top of the plant's 1,000 kW. The baseline peak (the default
cap) is 1,000 kW, so that rebound released at once would be 400 kW above the cap.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_properties import districts_and_events

from vpp.optimizer import DispatchSettings, check_dispatch, dispatch

from builders import at, battery, curtailable, district, enterprise, event, problem

#: No planning margins, so the figures are the hand-worked ones.
EXACT = DispatchSettings(target_margin_pct=0.0, rebound_margin_pct=0.0)
REBOUND = slice(52, 56)  # 13:00-14:00 in 15-min intervals


def plant(**extra):
    return curtailable(
        "line", [(400.0, 1.0)], rebound_fraction=0.5, rebound_duration_min=60, **extra
    )


def store(**extra):
    """A battery that may end the day empty, so it owes no recharge under the cap."""
    return battery("bess", soc_initial=0.9, soc_final_min=0.1, price_cny_per_kwh=5.0, **extra)


def test_rebound_cap_staggers_a_rebound_that_would_exceed_it():
    """The battery discharges the 400 kW of rebound: the portfolio stays at its 1,000 kW peak."""
    d = district(enterprise("plant", [plant()]), enterprise("storage", [store()]))
    result = dispatch(problem(d, event(target_kw=400.0)), EXACT)
    assert result.meets_target
    assert result.violations == ()
    assert result.rebound_cap_kw == pytest.approx(1000.0)
    assert result.baseline_peak_kw == pytest.approx(1000.0)
    power = {s.resource_id: np.array(s.power_kw) for s in result.schedules}
    assert power["line"][REBOUND] == pytest.approx([1400.0] * 4)
    assert power["bess"][REBOUND] == pytest.approx([-400.0] * 4, abs=1e-3)
    assert result.post_event_peak_kw == pytest.approx(1000.0, abs=1e-3)
    assert result.max_rebound_excess_kw == 0.0


def test_rebound_cap_none_releases_the_rebound_at_once():
    """Without a cap nothing pays the battery to absorb the rebound: 1,400 kW after the event."""
    d = district(enterprise("plant", [plant()]), enterprise("storage", [store()]))
    result = dispatch(
        problem(d, event(target_kw=400.0)), EXACT.model_copy(update={"rebound_cap": "none"})
    )
    assert result.rebound_cap_kw is None
    assert result.post_event_peak_kw == pytest.approx(1400.0)
    assert all(i.rebound_limit_kw is None for i in result.intervals)


def test_rebound_cap_that_cannot_be_met_reports_the_excess_and_keeps_the_target():
    """No battery: 400 kW above the cap in each of the four rebound intervals, priced
    20 CNY/kWh per interval and once more at its worst: 20 * 0.25 * (4 * 400 + 400)."""
    d = district(enterprise("plant", [plant()]))
    result = dispatch(problem(d, event(target_kw=400.0)), EXACT)
    assert result.meets_target  # the target comes first
    excess = [i.rebound_excess_kw for i in result.intervals]
    assert excess[REBOUND] == pytest.approx([400.0] * 4)
    assert sum(excess) == pytest.approx(1600.0)
    assert result.max_rebound_excess_kw == pytest.approx(400.0)
    assert result.costs.rebound_penalty_cny == pytest.approx(10_000.0)
    assert result.violations == ()


def test_rebound_cap_in_kw_below_the_baseline_asks_no_reduction_outside_the_event():
    """A 900 kW cap under a 1,000 kW baseline: the limit is the baseline there (dispatch must
    not make it worse, and owes nothing more), so only the rebound counts as excess."""
    d = district(enterprise("plant", [plant()]))
    result = dispatch(
        problem(d, event(target_kw=400.0)), EXACT.model_copy(update={"rebound_cap": 900.0})
    )
    assert result.rebound_cap_kw == pytest.approx(900.0)
    limits = [i.rebound_limit_kw for i in result.intervals if i.rebound_limit_kw is not None]
    assert limits == pytest.approx([1000.0] * len(limits))
    assert result.max_rebound_excess_kw == pytest.approx(400.0)


def test_rebound_cap_comes_from_the_district_unless_the_settings_override_it():
    d = district(enterprise("plant", [plant()]), rebound_cap=1200.0)
    p = problem(d, event(target_kw=400.0))
    assert dispatch(p, EXACT).max_rebound_excess_kw == pytest.approx(200.0)
    overridden = EXACT.model_copy(update={"rebound_cap": "baseline_peak"})
    assert dispatch(p, overridden).max_rebound_excess_kw == pytest.approx(400.0)


def test_rebound_cap_holds_before_the_event_too():
    """A battery that must be charged for the event charges where the baseline leaves room:
    the plant's load dips to 600 kW before 06:00, and the cap is the 1,000 kW peak."""
    profile = [600.0] * 6 + [1000.0] * 18
    d = district(
        enterprise("plant", [curtailable("line", [(50.0, 9.0)], typical_load_kw=profile)]),
        enterprise(
            "storage", [battery("bess", soc_initial=0.1, soc_final_min=0.1, price_cny_per_kwh=0.1)]
        ),
    )
    ev = event(target_kw=300.0, issued_h=-12)
    result = dispatch(problem(d, ev), EXACT)
    assert result.meets_target
    assert result.max_rebound_excess_kw == 0.0
    bess = next(s for s in result.schedules if s.resource_id == "bess")
    charging = [t for t, p in enumerate(bess.power_kw) if p > 1e-3]
    assert charging
    assert max(charging) < 24  # before 06:00, where the baseline is 600 kW
    assert result.violations == ()


def test_other_plans_load_beyond_the_room_counts_as_excess_so_charging_avoids_it():
    """An earlier event's recovery (``rebound_other_kw``) already 100 kW above the cap at
    00:00-03:00 and exactly at it at 03:00-06:00: the battery's charge, which cannot fit
    anywhere, goes where it adds least to the portfolio's excess (never on top of theirs),
    and the excess reported is the portfolio's, theirs included."""
    profile = [600.0] * 6 + [1000.0] * 18
    d = district(
        enterprise("plant", [curtailable("line", [(50.0, 9.0)], typical_load_kw=profile)]),
        enterprise(
            "storage", [battery("bess", soc_initial=0.1, soc_final_min=0.1, price_cny_per_kwh=0.1)]
        ),
    )
    other = np.zeros(96)
    other[:12] = 500.0  # room 400 kW: 100 kW above the cap
    other[12:24] = 400.0  # room 400 kW: at the cap
    result = dispatch(
        problem(d, event(target_kw=300.0, issued_h=-12), rebound_other_kw=other), EXACT
    )
    assert result.meets_target
    bess = np.array(next(s for s in result.schedules if s.resource_id == "bess").power_kw)
    assert bess[:12] == pytest.approx([0.0] * 12, abs=1e-3)
    assert bess[12:44].max() > 1.0
    limits = [i.rebound_limit_kw for i in result.intervals]
    assert limits[:12] == pytest.approx([500.0] * 12)  # below the plant's own 600 kW
    load = bess + np.array(next(s for s in result.schedules if s.resource_id == "line").power_kw)
    portfolio_excess = max(load[t] + other[t] - 1000.0 for t in range(44))
    assert result.max_rebound_excess_kw == pytest.approx(portfolio_excess, abs=1e-3)
    assert result.violations == ()


def test_rebound_limit_given_per_interval_replaces_the_cap_in_a_restricted_problem():
    """A re-plan of part of the portfolio holds the room the rest leaves it, not the cap."""
    d = district(enterprise("plant", [plant()]), enterprise("storage", [store()]))
    room = np.full(96, np.nan)
    room[REBOUND] = 1000.0
    p = problem(
        d,
        event(target_kw=400.0),
        resource_keys=frozenset({"plant-site/line"}),
        rebound_limit_kw=room,
    )
    result = dispatch(p, EXACT.model_copy(update={"release_hold_max_min": 0}))
    limits = [i.rebound_limit_kw for i in result.intervals]
    assert [t for t, v in enumerate(limits) if v is not None] == list(range(52, 56))
    assert result.max_rebound_excess_kw == pytest.approx(400.0)
    # Held past the window, the load releases later and keeps within the room instead.
    held = dispatch(p, EXACT)
    assert held.max_rebound_excess_kw == pytest.approx(0.0, abs=1e-6)
    assert held.violations == ()
    unrestricted = problem(d, event(target_kw=400.0), resource_keys=frozenset({"plant-site/line"}))
    assert all(i.rebound_limit_kw is None for i in dispatch(unrestricted, EXACT).intervals)


def test_check_dispatch_reports_load_above_the_rebound_limit_beyond_the_excess():
    d = district(enterprise("plant", [plant()]))
    p = problem(d, event(target_kw=400.0))
    result = dispatch(p, EXACT)
    intervals = list(result.intervals)
    t = REBOUND.start
    intervals[t] = intervals[t].model_copy(update={"rebound_excess_kw": 0.0})
    broken = result.model_copy(update={"intervals": tuple(intervals)})
    lines = check_dispatch(p, broken)
    assert any("above the rebound limit" in line for line in lines)
    assert at(13).isoformat() in " ".join(lines)


caps = st.one_of(st.just("baseline_peak"), st.just("none"), st.floats(500, 20_000))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(districts_and_events(), caps)
def test_rebound_cap_invariant_load_outside_the_window_within_limit_plus_reported_excess(case, cap):
    """Outside the window every free interval's planned load is at most its limit plus the
    reported excess; the limit is never below the baseline, and nothing inside the window
    or before the issue is capped."""
    d, ev = case
    result = dispatch(problem(d, ev), DispatchSettings(rebound_cap=cap))
    assert result.violations == ()
    for i in result.intervals:
        assert i.rebound_excess_kw >= 0.0
        if i.in_event or i.start < ev.issued_at or cap == "none":
            assert i.rebound_limit_kw is None
            assert i.rebound_excess_kw == 0.0
            continue
        assert i.rebound_limit_kw is not None
        assert i.rebound_limit_kw >= i.baseline_kw - 1e-6
        assert i.expected_power_kw <= i.rebound_limit_kw + i.rebound_excess_kw + 1e-3
    if cap != "none":
        assert result.rebound_cap_kw is not None


def owing_store() -> dict[str, object]:
    """A battery that must end the day at its starting charge: every kWh it gives in the
    window comes back as charge outside it, where a flat baseline leaves no room."""
    return battery("bess", soc_initial=0.5, soc_final_min=0.5, price_cny_per_kwh=1.0)


def window_response_kw(result) -> np.ndarray:
    return np.array([i.expected_response_kw for i in result.intervals if i.in_event])


def test_a_margin_priced_as_the_target_is_planned_above_the_rebound_cap() -> None:
    """The default: the margin is as firm as the target, so the battery gives 220 kW
    (200 + 10 %) and recharges the lot above the cap."""
    d = district(enterprise("storage", [owing_store()]))
    with_margin = EXACT.model_copy(update={"target_margin_pct": 10.0})
    result = dispatch(problem(d, event(target_kw=200.0)), with_margin)
    assert window_response_kw(result) == pytest.approx([220.0] * 8, abs=1e-3)
    assert result.max_rebound_excess_kw > 0.0
    assert result.violations == ()


def test_a_margin_cheaper_than_the_rebound_cap_is_given_up_before_the_cap() -> None:
    """Margin priced at 10 CNY/kWh, below the cap's 20: the battery gives the firm 200 kW
    only, meets the target (shortfall is against the target, not the margin), and puts
    less back above the cap."""
    d = district(enterprise("storage", [owing_store()]))
    firm = EXACT.model_copy(update={"target_margin_pct": 10.0})
    cheap = firm.model_copy(update={"margin_penalty_cny_per_kwh": 10.0})
    p = problem(d, event(target_kw=200.0))
    result = dispatch(p, cheap)
    assert window_response_kw(result) == pytest.approx([200.0] * 8, abs=1e-3)
    assert result.meets_target
    assert result.max_shortfall_kw == pytest.approx(0.0, abs=1e-6)
    assert result.max_rebound_excess_kw < dispatch(p, firm).max_rebound_excess_kw - 1.0
    assert result.violations == ()


def test_a_cheap_margin_is_still_planned_where_it_costs_the_cap_nothing() -> None:
    """A battery that may end the day empty owes no recharge: the margin is free to take."""
    d = district(enterprise("storage", [store()]))
    cheap = EXACT.model_copy(update={"target_margin_pct": 10.0, "margin_penalty_cny_per_kwh": 10.0})
    result = dispatch(problem(d, event(target_kw=200.0)), cheap)
    assert window_response_kw(result) == pytest.approx([220.0] * 8, abs=1e-3)
    assert result.max_rebound_excess_kw == 0.0


def test_a_margin_given_per_interval_replaces_the_settings_margin() -> None:
    """A re-plan's margin (``target_margin_kw``) is on top of its target; priced below the
    cap it goes, the target stays."""
    d = district(enterprise("storage", [owing_store()]))
    margin = np.array([0.0, 0.0, 50.0, 50.0, 50.0, 50.0, 0.0, 0.0])
    p = problem(d, event(target_kw=200.0), target_margin_kw=margin)
    firm = dispatch(p, EXACT)
    assert window_response_kw(firm) == pytest.approx(200.0 + margin, abs=1e-3)
    cheap = dispatch(p, EXACT.model_copy(update={"margin_penalty_cny_per_kwh": 10.0}))
    assert window_response_kw(cheap) == pytest.approx([200.0] * 8, abs=1e-3)


def test_a_margin_given_per_interval_must_have_one_value_per_event_interval() -> None:
    d = district(enterprise("storage", [owing_store()]))
    for bad in (np.zeros(3), np.full(8, -1.0), np.full(8, np.nan)):
        with pytest.raises(ValueError, match="target_margin_kw"):
            dispatch(problem(d, event(target_kw=200.0), target_margin_kw=bad), EXACT)


def test_a_margin_may_not_be_priced_above_the_target() -> None:
    with pytest.raises(ValueError, match="margin_penalty_cny_per_kwh"):
        DispatchSettings(shortfall_penalty_cny_per_kwh=100.0, margin_penalty_cny_per_kwh=101.0)
