"""Re-dispatch mid-event: the target rises a quarter into the event, the rest is re-solved.

Two re-plans from that interval on, each timed alone (median of ``repeats``):

controller
    the steps ``Controller._replan`` takes: resources already delivering keep their plans
    (batteries are re-planned whole), and the residual target over the remaining event
    intervals goes to :func:`vpp.controller.planning.replan` with the resources not yet in
    the event as candidates;
full
    every resource re-planned for the whole new target over the remaining intervals (the
    same ``replan`` with all resources as candidates): the most a re-dispatch can cost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from bench.instances import make_instance
from bench.measure import in_fresh_process, median, peak_rss_mb
from vpp.controller.planning import commanded, replan, response_kw
from vpp.domain import DispatchResult
from vpp.optimizer import DispatchSettings, dispatch

#: The new target as a multiple of the event's own [-].
TARGET_RISE = 1.1
#: When the target changes, as a fraction of the event's duration [-].
CHANGE_AT = 0.25


@dataclass
class Redispatch:
    """Seconds of the first plan and of the re-plans (median), and what the re-plan did."""

    case: str
    n_resources: int
    runs: int
    first_plan_s: float
    replan_s: float | None
    replan_build_s: float | None
    replan_solve_s: float | None
    status: str
    candidates: int
    residual_kw: float
    meets_residual: bool
    full_replan_s: float | None
    full_status: str
    full_meets_target: bool
    peak_rss_mb: float


def run_redispatch(n_resources: int, repeats: int = 3, seed: int = 0) -> Redispatch:
    return in_fresh_process(_measure, n_resources, repeats, seed)


def _measure(n_resources: int, repeats: int, seed: int) -> Redispatch:
    inst = make_instance(n_resources, 16, seed)
    problem = inst.problem
    settings = DispatchSettings(decompose_above_resources=None)
    started = time.perf_counter()
    first = dispatch(problem, settings)
    first_plan_s = time.perf_counter() - started
    grid = problem.grid
    window = grid.slice_of(problem.event.start, problem.event.end)
    assert window.start is not None
    assert window.stop is not None
    now = problem.event.start + (problem.event.end - problem.event.start) * CHANGE_AT
    index = grid.first_index_at_or_after(now)
    by_key = {s.key: s for s in first.schedules}
    kept = [k for k, s in by_key.items() if commanded(s) and s.kind != "battery"]
    batteries = {k for k, s in by_key.items() if commanded(s) and s.kind == "battery"}
    direction = problem.event.direction
    expected = np.zeros(grid.count)
    for key in kept:
        expected += response_kw(by_key[key], direction)
    residual = np.zeros(window.stop - window.start)
    for t in range(index, window.stop):
        residual[t - window.start] = max(0.0, first.target_kw * TARGET_RISE - expected[t])
    candidates = frozenset(k for k, s in by_key.items() if not commanded(s)) | batteries
    whole = np.zeros(window.stop - window.start)
    whole[index - window.start :] = first.target_kw * TARGET_RISE

    def timed(keys: frozenset[str], target_kw: np.ndarray) -> tuple[float | None, DispatchResult]:
        times: list[float] = []
        result = None
        for _ in range(repeats):
            started = time.perf_counter()
            result = replan(
                problem,
                candidates=keys,
                first_free_index=index,
                residual_kw=target_kw,
                issued_at=now,
                soc_by_key={},
                settings=settings,
            )
            times.append(time.perf_counter() - started)
        assert result is not None
        return median(times), result

    replan_s, result = timed(candidates, residual)
    full_s, full = timed(frozenset(by_key), whole)
    return Redispatch(
        case=f"{n_resources:,} x 16",
        n_resources=n_resources,
        runs=repeats,
        first_plan_s=first_plan_s,
        replan_s=replan_s,
        replan_build_s=result.solve.build_s,
        replan_solve_s=result.solve.solve_s,
        status=result.solve.status.value,
        candidates=len(candidates),
        residual_kw=float(residual.max()),
        meets_residual=result.meets_target,
        full_replan_s=full_s,
        full_status=full.solve.status.value,
        full_meets_target=full.meets_target,
        peak_rss_mb=peak_rss_mb(),
    )
