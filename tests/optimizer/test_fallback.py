"""The fallback when the MILP gives nothing: a rounded LP, within every limit, labelled."""

import importlib

import numpy as np

from vpp.domain import SolveStatus
from vpp.optimizer import DispatchSettings, build_model, dispatch
from vpp.optimizer.dispatch import extract_result
from vpp.optimizer.emit_highs import solve_highs
from vpp.optimizer.fallback import relax_and_round
from vpp.optimizer.solution import RawSolution

from builders import battery, curtailable, district, enterprise, event, problem


def _district():
    return district(
        enterprise("mill", [curtailable("line", [(200, 1.0), (300, 2.0)], max_duration_min=60)]),
        enterprise("works", [curtailable("line", [(250, 1.5)])]),
        enterprise("store", [battery(soc_initial=0.6)]),
    )


def test_relax_and_round_gives_a_checked_dispatch_labelled_fallback():
    """Rounded commitments, every limit respected, status 'fallback', target still met."""
    settings = DispatchSettings()
    p = problem(_district(), event(target_kw=600))
    built = build_model(p, settings)
    raw = relax_and_round(built.model, settings)
    assert raw.status.value == "fallback"
    assert built.model.violation(raw.x) < 1e-6
    result = extract_result(p, built, raw, settings)
    assert result.violations == ()
    assert result.meets_target


def test_relax_and_round_keeps_whole_commitments_when_rounding_down():
    """Rounding up breaks the mill's rest rule, so commitments are rounded down: a step the
    relaxation sheds whole (the works') stays shed; ``floor(1 - 1e-6)`` had dropped it."""
    d = district(
        enterprise("mill", [curtailable("line", [(200, 1.0), (300, 2.0)], max_duration_min=60)]),
        enterprise("works", [curtailable("line", [(250, 1.5)])]),
    )
    settings = DispatchSettings()
    built = build_model(problem(d, event(target_kw=400)), settings)
    m = built.model
    relaxed = solve_highs(m, settings, integer=np.zeros(m.n_vars, dtype=bool))
    assert relaxed.x is not None
    whole = m.value(relaxed.x, "curtailable_load.step_on") > 1 - 1e-6
    assert whole.any()
    raw = relax_and_round(m, settings)
    assert raw.x is not None
    assert "rounded down" in raw.termination
    assert np.all(m.value(raw.x, "curtailable_load.step_on")[whole] == 1.0)


def test_relax_and_round_costs_no_less_than_the_optimum():
    """The fallback is a feasible point: never cheaper than the MILP optimum."""
    settings = DispatchSettings(mip_rel_gap=0)
    p = problem(_district(), event(target_kw=600))
    built = build_model(p, settings)
    optimum = dispatch(p, settings).solve.objective_cny
    assert relax_and_round(built.model, settings).objective_cny >= optimum - 1e-6


def test_dispatch_falls_back_when_the_time_limit_leaves_no_solution(monkeypatch):
    """A MILP that returns nothing in time still yields a dispatch, reported as fallback."""
    # HiGHS cannot be made to time out before its first incumbent reliably on a small
    # model, so the MILP solve alone is replaced by its no-solution answer.
    dispatch_module = importlib.import_module("vpp.optimizer.dispatch")

    def nothing(model, settings):
        return RawSolution(None, SolveStatus.FAILED, "Time limit reached", None, None, 10.0)

    monkeypatch.setattr(dispatch_module, "solve", nothing)
    result = dispatch_module.dispatch(problem(_district(), event(target_kw=600)))
    assert result.solve.status.value == "fallback"
    assert result.meets_target
    assert result.violations == ()
    assert "rounded" in result.solve.termination


def test_dispatch_falls_back_deterministically_when_the_node_limit_leaves_no_solution():
    """Work limits reach the fallback the same way every time, however loaded the machine:
    no branch-and-bound node allowed, no incumbent, the rounded LP, twice the same."""
    settings = DispatchSettings(limits="deterministic", mip_max_nodes=0)
    first = dispatch(problem(_district(), event(target_kw=600)), settings)
    again = dispatch(problem(_district(), event(target_kw=600)), settings)
    assert first.solve.status.value == "fallback"
    assert first.meets_target
    assert first.violations == ()
    assert first.schedules == again.schedules
    assert first.solve.objective_cny == again.solve.objective_cny
