"""Which limits reach HiGHS: the wall clock in service, work limits in simulated time."""

import math

import pytest
from bench.instances import make_instance

from vpp.optimizer import DispatchSettings, build_model, dispatch, emit_highs
from vpp.optimizer.emit_highs import to_highs
from vpp.optimizer.problem import DETERMINISTIC_MAX_NODES

from builders import battery, curtailable, district, enterprise, event, problem


def _model(settings: DispatchSettings):
    d = district(
        enterprise("mill", [curtailable("line", [(200, 1.0), (300, 2.0)])]),
        enterprise("store", [battery(soc_initial=0.6)]),
    )
    return build_model(problem(d, event(target_kw=300)), settings).model


def _option(h, name: str):
    _status, value = h.getOptionValue(name)
    return value


def test_to_highs_wall_clock_limits_set_the_time_limit():
    """The service's solves stop at ``time_limit_s`` of wall-clock time."""
    settings = DispatchSettings(time_limit_s=7.5)
    h = to_highs(_model(settings), settings)
    assert _option(h, "time_limit") == 7.5


def test_to_highs_deterministic_limits_set_no_time_limit_but_a_node_limit():
    """In simulated time nothing bounds a solve by the wall clock, only by its work."""
    settings = DispatchSettings(time_limit_s=7.5, simplex_iteration_limit=50_000).deterministic()
    h = to_highs(_model(settings), settings)
    assert math.isinf(_option(h, "time_limit"))
    assert _option(h, "mip_max_nodes") == DETERMINISTIC_MAX_NODES
    assert _option(h, "simplex_iteration_limit") == 50_000


@pytest.mark.parametrize("nodes", [0, 123])
def test_deterministic_keeps_a_node_limit_already_given(nodes):
    """``deterministic()`` fills in a node limit only where none was set."""
    settings = DispatchSettings(mip_max_nodes=nodes).deterministic()
    assert settings.limits == "deterministic"
    assert settings.mip_max_nodes == nodes


def test_a_cut_solve_starts_no_milp_run_once_its_time_limit_is_spent(monkeypatch):
    """The time limit is the whole solve's: with it spent after the first MILP run (the
    deadline reported passed), the pooled model's solve returns that run's repaired plan,
    marked feasible and timed out, where it would otherwise have run the MILP again."""
    settings = DispatchSettings(
        mip_rel_gap=1e-7, time_limit_s=60, decompose_above_resources=None, ev_model="pooled"
    )
    p = make_instance(20, 16, 0).problem
    assert "2 MILP runs" in dispatch(p, settings).solve.termination
    monkeypatch.setattr(emit_highs, "_spent", lambda deadline: deadline is not None)
    result = dispatch(p, settings)
    assert result.solve.status == "feasible"
    assert "1 MILP runs" in result.solve.termination
    assert result.solve.termination.endswith("; time limit reached")
    assert result.violations == ()
