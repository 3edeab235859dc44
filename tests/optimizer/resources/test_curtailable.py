"""Curtailment block: whole steps, merit order, notice, duration, rebound."""

from datetime import timedelta

import numpy as np
import pytest

from vpp.domain import CurtailableLoad, DemandResponseEvent, EventKind
from vpp.optimizer import DispatchSettings, dispatch
from vpp.optimizer.resources.curtailable import _curtailable, held_past_window

from builders import at, curtailable, district, enterprise, event, problem


def _shed(result, key):
    (schedule,) = [s for s in result.schedules if s.key == key]
    return np.array(schedule.baseline_kw) - np.array(schedule.power_kw), schedule


def test_add_curtailable_load_picks_cheaper_load_first():
    """Of two equal loads, the one asking less is curtailed."""
    d = district(
        enterprise("dear", [curtailable("line", [(300, 2.0)])]),
        enterprise("cheap", [curtailable("line", [(300, 1.0)])]),
    )
    result = dispatch(problem(d, event(target_kw=250)))
    shed_cheap, _ = _shed(result, "cheap-site/line")
    shed_dear, _ = _shed(result, "dear-site/line")
    assert np.allclose(shed_cheap[44:52], 300)
    assert np.allclose(shed_dear, 0)


def test_add_curtailable_load_sheds_steps_in_listed_order():
    """A load sheds its first (cheaper) step alone when that meets the target."""
    d = district(enterprise("mill", [curtailable("line", [(200, 1.0), (300, 2.0)])]))
    result = dispatch(problem(d, event(target_kw=150)))
    shed, _ = _shed(result, "mill-site/line")
    assert np.allclose(shed[44:52], 200)
    assert result.costs.compensation_cny == pytest.approx(200 * 2 * 1.0)


def test_add_curtailable_load_steps_are_all_or_nothing():
    """A target between two step levels is met by shedding whole steps, not a fraction."""
    d = district(enterprise("mill", [curtailable("line", [(200, 1.0), (300, 2.0)])]))
    result = dispatch(problem(d, event(target_kw=250)))
    shed, schedule = _shed(result, "mill-site/line")
    assert np.allclose(shed[44:52], 500)
    assert all(v == pytest.approx(500) for v in schedule.setpoint_kw[44:52])


def test_add_curtailable_load_respects_minimum_notice():
    """An event issued 10 min ahead cannot use a load that needs 60 min of notice at first."""
    d = district(
        enterprise(
            "mill", [curtailable("line", [(300, 1.0)], min_notice_min=60, max_duration_min=60)]
        )
    )
    issued = at(11) - timedelta(minutes=10)
    ev = DemandResponseEvent(
        event_id="rt", start=at(11), end=at(13), target_kw=300, issued_at=issued
    )
    result = dispatch(problem(d, ev))
    shed, _ = _shed(result, "mill-site/line")
    # Issued 10:50 + 60 min notice = 11:50: the first whole interval it can act in is 12:00.
    assert np.allclose(shed[44:48], 0)
    assert shed[44:52].max() == pytest.approx(300)


def test_add_curtailable_load_limits_continuous_duration():
    """A 4-h event uses a load with a 2-h limit for one continuous 2-h block only."""
    d = district(enterprise("mill", [curtailable("line", [(300, 1.0)], max_duration_min=120)]))
    result = dispatch(problem(d, event(11, 15, target_kw=300)))
    shed, _ = _shed(result, "mill-site/line")
    on = shed[44:60] > 1
    assert on.sum() == 8
    assert np.all(np.diff(np.flatnonzero(on)) == 1)
    assert result.max_shortfall_kw == pytest.approx(300)
    assert result.violations == ()


def test_add_curtailable_load_rebounds_after_the_event():
    """Half the curtailed energy returns, spread over the hour after the block."""
    d = district(
        enterprise(
            "mill",
            [curtailable("line", [(400, 1.0)], rebound_fraction=0.5, rebound_duration_min=60)],
        )
    )
    result = dispatch(problem(d, event(11, 13, target_kw=300)))
    shed, _ = _shed(result, "mill-site/line")
    assert np.allclose(shed[52:56], -400 * 0.5 * 2 / 1)  # 400 kW x 2 h x 0.5 over 1 h
    assert np.allclose(shed[56:], 0)


def test_add_curtailable_load_is_not_used_to_fill_a_valley():
    """Curtailment lowers load, so a valley-filling event leaves the load alone."""
    d = district(enterprise("mill", [curtailable("line", [(300, 1.0)])]))
    result = dispatch(problem(d, event(2, 4, target_kw=100, kind=EventKind.VALLEY_FILLING)))
    shed, _ = _shed(result, "mill-site/line")
    assert np.allclose(shed, 0)
    assert result.max_shortfall_kw == pytest.approx(100)


def test_add_curtailable_load_never_joins_two_blocks_into_one_longer_curtailment():
    """Without a rest rule two 1-h blocks still may not run back to back (found by hypothesis)."""
    d = district(
        enterprise(
            "mill",
            [
                curtailable(
                    "line", [(20, 1.0)], max_duration_min=60, max_events_per_day=2, min_rest_min=0
                )
            ],
        ),
    )
    result = dispatch(problem(d, event(8, 10, target_kw=10)))
    shed, _ = _shed(result, "mill-site/line")
    on = shed > 1
    runs = np.diff(np.concatenate([[0], on.astype(int), [0]]))
    assert (np.flatnonzero(runs == -1) - np.flatnonzero(runs == 1)).max() <= 4
    assert result.violations == ()


def test_add_curtailable_load_serves_the_part_of_the_window_it_may_act_in():
    """Notice cutting into the window leaves the rest, even for a load able to cover it all."""
    d = district(
        enterprise(
            "mill", [curtailable("line", [(300, 1.0)], min_notice_min=30, max_duration_min=240)]
        )
    )
    issued = at(11) - timedelta(minutes=15)
    ev = DemandResponseEvent(
        event_id="rt", start=at(11), end=at(13), target_kw=200, issued_at=issued
    )
    result = dispatch(problem(d, ev))
    shed, _ = _shed(result, "mill-site/line")
    assert np.allclose(shed[44], 0)  # 10:45 + 30 min: from 11:15 on
    assert np.allclose(shed[45:52], 300)
    assert result.violations == ()


def test_held_past_window_extends_only_blocks_ending_with_the_window():
    """Holds go in stride steps, within availability and the load's maximum duration."""
    allowed = np.ones(12, dtype=bool)
    blocks = [(2, 4), (0, 4), (4, 2)]  # window 2..6: the first and the last end with it
    held = held_past_window(blocks, allowed, window_stop=6, max_length=7, stride=1, hold=4)
    assert held == [(2, 5), (2, 6), (2, 7), (4, 3), (4, 4), (4, 5), (4, 6)]
    allowed[8] = False
    assert held_past_window([(2, 4)], allowed, 6, 8, 2, 4) == [(2, 6)]
    assert held_past_window([(2, 4)], allowed, 6, 8, 2, 0) == []
    # a hold whose 4-interval rebound would run past the horizon's end (12) hides it
    assert held_past_window([(2, 4)], np.ones(12, dtype=bool), 6, 9, 1, 3, 4) == [(2, 5), (2, 6)]


def test_add_curtailable_load_holds_past_the_window_to_stagger_its_rebound():
    """Released at the window's end, two loads' rebound breaks the rebound cap; the plan
    holds one a little longer instead, so their rebounds do not coincide."""
    loads = [
        enterprise(
            f"mill{i}",
            [curtailable("line", [(400, 1.0)], rebound_fraction=0.5, rebound_duration_min=60)],
        )
        for i in range(2)
    ]
    p = problem(district(*loads), event(11, 13, target_kw=800))
    at_once = dispatch(p, DispatchSettings(target_margin_pct=0, release_hold_max_min=0))
    staggered = dispatch(p, DispatchSettings(target_margin_pct=0))
    assert at_once.max_rebound_excess_kw > 100
    assert staggered.max_rebound_excess_kw < at_once.max_rebound_excess_kw
    assert staggered.violations == ()
    held = [
        s
        for s in staggered.schedules
        if any(v is not None for v in s.setpoint_kw[52:])  # commanded after 13:00
    ]
    assert held
    assert staggered.meets_target


def test_add_curtailable_load_never_holds_without_a_rebound_cap():
    """A hold only costs more where nothing caps the load after the event."""
    d = district(enterprise("mill", [curtailable("line", [(400, 1.0)], rebound_fraction=0.5)]))
    uncapped = DispatchSettings(rebound_cap="none")
    result = dispatch(problem(d, event(11, 13, target_kw=300)), uncapped)
    shed, _ = _shed(result, "mill-site/line")
    assert np.all(shed[52:] <= 1e-6)


def test_check_refuses_a_curtailment_after_the_window_that_is_not_a_hold():
    """Carried on past the window's end it is a hold; after a break it is a new block."""
    load = CurtailableLoad.model_validate(curtailable("line", [(100, 1.0)], max_duration_min=240))
    base = np.full(8, 500.0)
    nan = np.nan
    window = slice(2, 5)
    held = np.array([nan, nan, 400, 400, 400, 400, nan, nan])
    assert _curtailable(load, base, held, window, 15) == []
    apart = np.array([nan, nan, 400, 400, 400, nan, 400, nan])
    assert _curtailable(load, base, apart, window, 15) == ["curtailed outside the event window"]
    before = np.array([nan, 400, 400, 400, 400, nan, nan, nan])
    assert _curtailable(load, base, before, window, 15) == ["curtailed outside the event window"]
