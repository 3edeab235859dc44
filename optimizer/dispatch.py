"""Dispatch: build, solve and read back, each step timed; never "infeasible"."""

from __future__ import annotations

import logging
import math
import time
from concurrent.futures import Executor

import numpy as np

from vpp.domain import (
    CostBreakdown,
    DispatchResult,
    IntervalOutcome,
    ResourceSchedule,
    SolverError,
    SolveStats,
)
from vpp.optimizer.check import check_dispatch
from vpp.optimizer.fallback import relax_and_round
from vpp.optimizer.linear import FloatArray
from vpp.optimizer.model import BuiltModel, build_model
from vpp.optimizer.problem import DispatchProblem, DispatchSettings
from vpp.optimizer.solution import RawSolution
from vpp.optimizer.solve import solve
from vpp.optimizer.system import rebound_excess_kw

logger = logging.getLogger(__name__)

#: Objective terms that steer the solver but are not costs anyone pays.
NOT_MONEY = frozenset({"capability_reward", "tie_break"})


def dispatch(
    problem: DispatchProblem,
    settings: DispatchSettings | None = None,
    *,
    executor: Executor | None = None,
) -> DispatchResult:
    """The least-cost, rotation-aware dispatch meeting the event target as far as possible.

    The target is soft: an impossible target yields the largest response the portfolio
    can give and the shortfall per interval. When the MILP finds nothing within its time
    limit, a rounded LP relaxation is returned with status ``fallback``. Raises
    SolverError only when even that fails. Problems with more resources than
    ``settings.decompose_above_resources`` are decomposed into groups solved in parallel
    (:mod:`vpp.optimizer.decompose`) on ``executor`` (else the settings' executor, else
    one after another here): the caller owns it, creates it once and closes it
    (:mod:`vpp.optimizer.executors`).
    """
    settings = settings or DispatchSettings()
    limit = settings.decompose_above_resources
    if limit is not None and sum(1 for _ in problem.refs()) > limit:
        from vpp.optimizer.decompose import dispatch_decomposed

        # the decomposition's flexibility LPs solve the model themselves: no lazy rows
        sessions = settings.model_copy(update={"ev_model": "sessions"})
        return dispatch_decomposed(problem, sessions, executor=executor)
    return dispatch_monolithic(problem, settings)


def dispatch_monolithic(problem: DispatchProblem, settings: DispatchSettings) -> DispatchResult:
    """One model for the whole problem, solved by one solver call (and, with
    ``ev_model="pooled"``, the lazy cuts of its EV pools)."""
    built, raw = solve_monolithic(problem, settings)
    return extract_result(problem, built, raw, settings)


def solve_monolithic(
    problem: DispatchProblem, settings: DispatchSettings
) -> tuple[BuiltModel, RawSolution]:
    """Build the least-cost model and solve it, falling back to a rounded LP when the MILP
    gives nothing usable; the solution always has values (else SolverError)."""
    built = build_model(problem, settings, "min_cost")
    raw = solve(built.model, settings)
    if raw.x is None and built.model.n_integer:
        logger.warning("dispatch solve gave nothing usable (%s); falling back", raw.termination)
        raw = relax_and_round(built.model, settings)
    if raw.x is None and settings.ev_model == "pooled" and settings.backend == "highs":
        logger.warning("pooled EV model gave nothing usable (%s); per session", raw.termination)
        return solve_monolithic(problem, settings.model_copy(update={"ev_model": "sessions"}))
    if raw.x is None:
        raise SolverError(raw.status.value, raw.termination)
    return built, raw


def extract_result(
    problem: DispatchProblem, built: BuiltModel, raw: RawSolution, settings: DispatchSettings
) -> DispatchResult:
    """Read schedules, interval totals and costs from a solution and check them."""
    assert raw.x is not None
    started = time.perf_counter()
    x = raw.x
    ctx = built.context
    schedules: list[ResourceSchedule] = []
    total_base = np.zeros(ctx.n_t)
    total_power = np.zeros(ctx.n_t)
    for kb in built.blocks:
        power = _clean(x[kb.power_idx])
        setpoint = np.round(kb.setpoint_kw(x), 6)  # NaN: no setpoint
        total_base += kb.baseline_kw.sum(axis=0)
        total_power += power.sum(axis=0)
        for r, ref in enumerate(kb.refs):
            schedules.append(
                ResourceSchedule(
                    enterprise_id=ref.enterprise.enterprise_id,
                    feeder_id=ref.enterprise.feeder_id,
                    site_id=ref.site.site_id,
                    resource_id=ref.resource.resource_id,
                    kind=kb.kind,
                    mode=kb.mode,
                    baseline_kw=tuple(np.round(kb.baseline_kw[r], 6).tolist()),
                    power_kw=tuple(power[r].tolist()),
                    setpoint_kw=tuple(None if math.isnan(v) else v for v in setpoint[r].tolist()),
                )
            )
    in_window = ctx.in_window
    response = ctx.direction * (total_base - total_power)
    target = np.zeros(ctx.n_t)
    target[ctx.window] = ctx.target_profile_kw
    shortfall = np.where(in_window, np.maximum(0.0, target - response), 0.0)
    rebound = built.rebound
    excess = np.round(rebound_excess_kw(built.model, x, rebound, ctx.n_t), 6)
    excess[excess < 1e-6] = 0.0
    intervals = tuple(
        IntervalOutcome(
            start=start,
            in_event=bool(in_window[t]),
            target_kw=float(target[t]),
            baseline_kw=float(total_base[t]),
            expected_power_kw=float(total_power[t]),
            expected_response_kw=float(response[t]),
            shortfall_kw=float(np.round(shortfall[t], 6)),
            rebound_limit_kw=None
            if np.isnan(rebound.limit_kw[t])
            else float(np.round(rebound.limit_kw[t], 6)),
            rebound_excess_kw=float(excess[t]),
        )
        for t, start in enumerate(ctx.grid.starts)
    )
    costs = CostBreakdown(
        **{f"{k}_cny": v for k, v in built.model.costs_of(x).items() if k not in NOT_MONEY}
    )
    stats = SolveStats(
        status=raw.status,
        termination=raw.termination,
        backend=settings.backend,
        objective_cny=raw.objective_cny,
        mip_gap=raw.mip_gap,
        build_s=built.build_s + raw.translate_s,
        solve_s=raw.solve_s,
        extract_s=time.perf_counter() - started,
        n_variables=built.model.n_vars,
        n_constraints=built.model.n_rows,
        n_integer=built.model.n_integer,
    )
    result = DispatchResult(
        event=problem.event,
        grid=problem.grid,
        target_kw=ctx.target_kw,
        schedules=tuple(schedules),
        intervals=intervals,
        costs=costs,
        solve=stats,
        rebound_cap_kw=rebound.cap_kw,
        baseline_peak_kw=rebound.baseline_peak_kw,
    )
    violations = check_dispatch(problem, result)
    if violations:
        logger.error("dispatch violates limits: %s", "; ".join(violations))
    return result.model_copy(update={"violations": tuple(violations)})


def _clean(values: FloatArray) -> FloatArray:
    """Drop solver noise below a milliwatt so reports and setpoints read cleanly."""
    out = np.round(values, 6)
    out[np.abs(out) < 1e-6] = 0.0
    return out
