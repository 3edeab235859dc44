"""A group's aggregated flexibility: LP capability and cost curve, checked by hand."""

from dataclasses import replace

import numpy as np
import pytest

from vpp.optimizer import DispatchSettings, max_sustained_response
from vpp.optimizer.flexibility import GroupFlexibility, group_flexibility

from builders import battery, curtailable, district, enterprise, event, problem

MARGIN = 1.005  # the default 0.5 % planning margin


def test_group_flexibility_of_one_step_is_its_size_at_its_price():
    """A 200 kW step at 1 CNY/kWh over 2 h: capability 200/1.005, 2.01 CNY per kW of level."""
    p = problem(district(enterprise("mill", [curtailable("line", [(200, 1.0)])])), event())
    flex = group_flexibility(replace(p, target_override_kw=np.ones(8)), DispatchSettings())
    assert flex.capability_kw == pytest.approx(200 / MARGIN, rel=1e-6)
    assert flex.cost_cny[0] == pytest.approx(0.0, abs=1e-6)
    assert flex.cost_cny[-1] == pytest.approx(2.0 * 200, rel=1e-4)
    assert flex.slope_cny_per_kw is not None
    assert flex.slope_cny_per_kw[1:-1] == pytest.approx(2.0 * MARGIN, rel=1e-4)


def test_group_flexibility_capability_matches_the_lp_sustained_response():
    """Capability is the LP's sustained level (the MILP's can only be lower)."""
    d = district(
        enterprise("mill", [curtailable("line", [(200, 1.0), (300, 2.0)])]),
        enterprise("store", [battery(soc_initial=0.9)]),
    )
    p = problem(d, event())
    flex = group_flexibility(replace(p, target_override_kw=np.ones(8)), DispatchSettings())
    milp, _ = max_sustained_response(p, DispatchSettings(mip_rel_gap=0))
    assert flex.capability_kw * MARGIN >= milp - 1e-3
    assert flex.capability_kw * MARGIN <= 500 + 380 + 1e-3  # steps + 760 kWh over 2 h


def test_segments_follow_the_tangents_between_levels():
    """Cost x^2 sampled at 0, 1, 2 with slopes 0, 2, 4: tangents meet at 0.5 and 1.5."""
    flex = GroupFlexibility(
        2.0,
        np.array([0.0, 1.0, 2.0]),
        np.array([0.0, 1.0, 4.0]),
        slope_cny_per_kw=np.array([0.0, 2.0, 4.0]),
    )
    assert flex.segments() == [(0.0, 0.5), (2.0, 0.5), (2.0, 0.5), (4.0, 0.5)]


def test_group_flexibility_plans_deliver_their_levels():
    """Each level's LP plan (the coordinator's columns) responds at least the level in
    every event interval, and costs what the curve says."""
    from vpp.optimizer.problem import build_context

    d = district(
        enterprise("mill", [curtailable("line", [(200, 1.0), (300, 2.0)])]),
        enterprise("store", [battery(soc_initial=0.9)]),
    )
    p = replace(problem(d, event()), target_override_kw=np.ones(8))
    flex = group_flexibility(p, DispatchSettings())
    window = build_context(p, DispatchSettings(), "min_cost").window
    assert flex.power_kw is not None
    assert flex.baseline_kw is not None
    assert flex.power_kw.shape == (flex.levels_kw.size, flex.baseline_kw.size)
    response = flex.baseline_kw[window] - flex.power_kw[:, window]
    assert np.all(response >= flex.levels_kw[:, None] * MARGIN - 1e-6)
    assert flex.levels_kw[-1] > 0
