"""The reference emitter and our model are the same problem: same size, same optimum."""

from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest
from bench.instances import make_instance
from bench.reference import solve_reference

from vpp.domain import DemandResponseEvent, EventKind, Notice
from vpp.optimizer import DispatchSettings, build_model, dispatch

SETTINGS = DispatchSettings(mip_rel_gap=1e-6, time_limit_s=60, decompose_above_resources=None)


def _agree(problem):
    ours = dispatch(problem, SETTINGS)
    built = build_model(problem, SETTINGS)
    ref = solve_reference(problem, SETTINGS)
    assert ref.status == "Optimal"
    assert (ref.n_cols, ref.n_rows, ref.n_integer) == (
        built.model.n_vars,
        built.model.n_rows,
        built.model.n_integer,
    )
    assert ours.solve.objective_cny is not None
    assert ref.objective_cny is not None
    tol = 2 * SETTINGS.mip_rel_gap * abs(ref.objective_cny) + 1e-6
    assert ours.solve.objective_cny == pytest.approx(ref.objective_cny, abs=tol)


@pytest.mark.parametrize(
    ("n_resources", "n_intervals", "seed"),
    [(12, 16, 0), (25, 16, 1), (40, 16, 2), (18, 24, 3), (30, 16, 4)],
)
def test_reference_matches_our_optimum_on_random_districts(n_resources, n_intervals, seed):
    _agree(make_instance(n_resources, n_intervals, seed).problem)


def test_reference_matches_our_optimum_when_filling_a_valley():
    """Valley filling: no curtailment, battery mode binaries, response sign reversed."""
    problem = make_instance(25, 16, seed=7).problem
    event = problem.event
    valley = DemandResponseEvent(
        event_id="valley",
        kind=EventKind.VALLEY_FILLING,
        start=event.start,
        end=event.end,
        target_kw=3_000.0,
        notice=Notice.INTRADAY,
        issued_at=event.start - timedelta(hours=2),
    )
    _agree(replace(problem, event=valley))


def test_reference_matches_our_optimum_for_a_mid_event_replan():
    """A re-plan: later first free interval, a target profile, a subset of resources."""
    problem = make_instance(30, 16, seed=8).problem
    keys = frozenset(sorted(ref.key for ref in problem.refs())[::2])
    replan = replace(
        problem,
        resource_keys=keys,
        first_free_index=6,
        target_override_kw=np.array([0, 0, 800, 900, 900, 900, 700, 700.0]),
        issued_at=problem.event.start + timedelta(minutes=30),
        events_today={next(iter(keys)): 1},
    )
    _agree(replan)
