"""An independent check of a dispatch against each resource's registered limits.

It re-simulates physics from the schedules rather than trusting the model's variables, so
a formulation bug shows up as a violation instead of a device commanded beyond its limits.
Each kind's own check sits next to its builder (:data:`RESOURCE_CHECKS`).
"""

from __future__ import annotations

import numpy as np

from vpp.domain import DispatchResult, kind_of
from vpp.optimizer.problem import DispatchProblem
from vpp.optimizer.resources import RESOURCE_CHECKS
from vpp.optimizer.resources._block import TOL_C, TOL_KW, TOL_KWH


def check_dispatch(problem: DispatchProblem, result: DispatchResult) -> list[str]:
    """Every breach of a registered or feeder limit, and of the target arithmetic, as lines.

    Resource lines start ``site/resource:``, feeder lines ``feeder f:``; empty if none.
    """
    refs = {ref.key: ref for ref in problem.district.resources()}
    problems: list[str] = []
    for schedule in result.schedules:
        resource = refs[schedule.key].resource
        power = np.array(schedule.power_kw)
        setpoint = np.array([np.nan if v is None else v for v in schedule.setpoint_kw])
        found: list[str] = []
        check_kind = RESOURCE_CHECKS.get(schedule.kind)
        if not np.all(np.isfinite(power)):
            found.append("power is not finite")
        elif not kind_of(resource).dispatchable and np.any(~np.isnan(setpoint)):
            found.append(f"{schedule.kind} is not dispatchable but has setpoints")
        elif check_kind is not None:
            found += check_kind(resource, schedule, problem, result)
        problems += [f"{schedule.key}: {text}" for text in found]
    problems += check_feeders(problem, result)
    problems += check_target(result)
    problems += check_rebound(result)
    return problems


def check_feeders(problem: DispatchProblem, result: DispatchResult) -> list[str]:
    """VPP load + background above the feeder's capacity (or above the baseline's own level
    where that already exceeded it)."""
    out = []
    grid = result.grid
    for feeder in problem.district.feeders:
        members = [s for s in result.schedules if s.feeder_id == feeder.feeder_id]
        if not members:
            continue
        power = np.sum([s.power_kw for s in members], axis=0)
        base = np.sum([s.baseline_kw for s in members], axis=0)
        headroom = feeder.capacity_kw - grid.sample_daily(feeder.background_load_kw)
        over = power - np.maximum(headroom, base)
        if over.max() > TOL_KW:
            t = int(np.argmax(over))
            out.append(
                f"feeder {feeder.feeder_id}: overloaded by {over.max():.1f} kW at "
                f"{grid.starts[t].isoformat()} ({int((over > TOL_KW).sum())} intervals)"
            )
    return out


def check_target(result: DispatchResult) -> list[str]:
    return [
        f"interval {i.start.isoformat()}: response {i.expected_response_kw:.1f} kW + shortfall "
        f"{i.shortfall_kw:.1f} kW below target {i.target_kw:.1f} kW"
        for i in result.event_intervals
        if i.expected_response_kw + i.shortfall_kw < i.target_kw - TOL_KW
    ]


def check_rebound(result: DispatchResult) -> list[str]:
    """Intervals whose planned load exceeds the rebound cap by more than the reported excess."""
    return [
        f"interval {i.start.isoformat()}: load {i.expected_power_kw:.1f} kW - excess "
        f"{i.rebound_excess_kw:.1f} kW above the rebound limit {i.rebound_limit_kw:.1f} kW"
        for i in result.intervals
        if i.rebound_limit_kw is not None
        and i.expected_power_kw - i.rebound_excess_kw > i.rebound_limit_kw + TOL_KW
    ]


__all__ = ["TOL_C", "TOL_KW", "TOL_KWH", "check_dispatch", "check_rebound"]
