"""Curtailment block: whole steps, merit order, notice, duration, rebound."""

from datetime import timedelta

import numpy as np
import pytest

from vpp.domain import DemandResponseEvent, EventKind
from vpp.optimizer import dispatch

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
