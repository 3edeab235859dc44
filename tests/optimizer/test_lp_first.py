"""A MILP answered by its rounded LP relaxation only where the relaxation's bound proves it."""

import highspy
import numpy as np
import pytest

from scaled import scaled_problem
from vpp.optimizer import DispatchSettings, build_model, dispatch
from vpp.optimizer.emit_highs import new_highs, solve_highs
from vpp.optimizer.lp_first import round_relaxation

from builders import curtailable, district, enterprise, event, problem


def _two_binaries(h: highspy.Highs) -> None:
    """min -x0 - x1 with x0 + 2 x1 <= 2, x binary: relaxation (1, 0.5) at -1.5, optimum -1."""
    inf = highspy.kHighsInf
    h.setOptionValue("threads", 1)  # as every solve here: HiGHS' thread pool is global
    h.addVars(2, np.zeros(2), np.ones(2))
    h.changeColsCost(2, np.array([0, 1], np.int32), np.array([-1.0, -1.0]))
    h.addRow(-inf, 2.0, 2, np.array([0, 1], np.int32), np.array([1.0, 2.0]))
    kind = np.full(2, int(highspy.HighsVarType.kInteger), np.uint8)
    h.changeColsIntegrality(2, np.array([0, 1], np.int32), kind)


def test_round_relaxation_proves_a_rounded_plan_within_a_wide_gap():
    """Rounded (1, 0) costs -1 against the bound -1.5: a gap of 50 % is proven at 60 %."""
    h = new_highs()
    _two_binaries(h)
    ints = np.array([0, 1], np.int32)
    rounded = round_relaxation(h, ints, (np.zeros(2), np.ones(2)), mip_rel_gap=0.6)
    assert rounded is not None
    assert rounded.proven
    assert rounded.bound_cny == pytest.approx(-1.5)
    assert rounded.objective_cny == pytest.approx(-1.0)
    assert h.getInfo().objective_function_value == pytest.approx(-1.0)


def test_round_relaxation_gives_back_the_milp_with_its_plan_where_nothing_is_proven():
    """At a 1 % gap the 50 % plan proves nothing: the instance is the MILP again, its
    integrality and bounds restored, and solving it gives the optimum."""
    h = new_highs()
    _two_binaries(h)
    ints = np.array([0, 1], np.int32)
    rounded = round_relaxation(h, ints, (np.zeros(2), np.ones(2)), mip_rel_gap=0.01)
    assert rounded is not None
    assert not rounded.proven
    assert rounded.objective_cny == pytest.approx(-1.0)
    lp = h.getLp()
    assert list(lp.integrality_) == [highspy.HighsVarType.kInteger] * 2
    assert list(lp.col_upper_) == [1.0, 1.0]
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    assert h.getInfo().objective_function_value == pytest.approx(-1.0)


def test_dispatch_proves_a_rounded_relaxation_against_its_own_bound():
    """300 resources: one commitment is fractional; the rounded plan is reported with its
    gap to the LP relaxation's optimum, which is within the asked gap, and it is checked."""
    p = scaled_problem(300)
    settings = DispatchSettings(decompose_above_resources=None, lp_first=True)
    result = dispatch(p, settings)
    assert "LP relaxation rounded" in result.solve.termination
    assert result.solve.status.value == "optimal"
    assert result.violations == ()
    built = build_model(p, settings)
    relaxed = solve_highs(built.model, settings, integer=np.zeros(built.model.n_vars, bool))
    assert relaxed.objective_cny is not None
    objective = result.solve.objective_cny
    assert objective is not None
    assert result.solve.mip_gap == pytest.approx((objective - relaxed.objective_cny) / objective)
    assert result.solve.mip_gap is not None
    assert result.solve.mip_gap <= settings.mip_rel_gap


def test_dispatch_leaves_the_milp_its_answer_where_rounding_proves_nothing():
    """Two 300-kW steps for 250 kW: the relaxation sheds 84 % of one; rounding proves
    nothing at a zero gap, so the MILP decides, as it does without the LP first."""
    d = district(
        enterprise("mill", [curtailable("line", [(300, 1.0)], rebound_fraction=0.3)]),
        enterprise("works", [curtailable("line", [(300, 1.2)])]),
    )
    p = problem(d, event(target_kw=250))
    first = dispatch(p, DispatchSettings(mip_rel_gap=0, lp_first=True))
    milp = dispatch(p, DispatchSettings(mip_rel_gap=0))
    assert "LP relaxation" not in first.solve.termination
    assert first.solve.objective_cny == pytest.approx(milp.solve.objective_cny, rel=1e-9)
    assert [s.power_kw for s in first.schedules] == [s.power_kw for s in milp.schedules]
