"""An independent check of a dispatch against each resource's registered limits.

It re-simulates physics from the schedules rather than trusting the model's variables, so
a formulation bug shows up as a violation instead of a device commanded beyond its limits.
"""

from __future__ import annotations

import numpy as np

from vpp.domain import (
    Battery,
    CurtailableLoad,
    DispatchResult,
    EvChargerPool,
    HvacLoad,
    Pv,
)
from vpp.optimizer.problem import DispatchProblem
from vpp.optimizer.resources.ev_charger import place_sessions
from vpp.optimizer.resources.hvac import thermostat_baseline

TOL_KW = 1e-3
TOL_KWH = 1e-2
TOL_C = 1e-2


def check_dispatch(problem: DispatchProblem, result: DispatchResult) -> list[str]:
    """Every breach of a registered or feeder limit, and of the target arithmetic, as lines.

    Resource lines start ``site/resource:``, feeder lines ``feeder f:``; empty if none.
    """
    refs = {ref.key: ref for ref in problem.district.resources()}
    grid = result.grid
    window = grid.slice_of(result.event.start, result.event.end)
    problems: list[str] = []
    for schedule in result.schedules:
        resource = refs[schedule.key].resource
        power = np.array(schedule.power_kw)
        base = np.array(schedule.baseline_kw)
        setpoint = np.array([np.nan if v is None else v for v in schedule.setpoint_kw])
        found: list[str] = []
        if not np.all(np.isfinite(power)):
            found.append("power is not finite")
        elif isinstance(resource, CurtailableLoad):
            found += _curtailable(resource, base, setpoint, window, grid.interval_min)
        elif isinstance(resource, Battery):
            found += _battery(resource, power, grid.dt_h)
        elif isinstance(resource, EvChargerPool):
            found += _ev(resource, power, problem)
        elif isinstance(resource, HvacLoad):
            found += _hvac(resource, power, problem)
        elif isinstance(resource, Pv) and np.any(~np.isnan(setpoint)):
            found.append("PV is not dispatchable but has setpoints")
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


def _curtailable(
    load: CurtailableLoad, base: np.ndarray, setpoint: np.ndarray, window: slice, interval_min: int
) -> list[str]:
    out = []
    shed = np.where(np.isnan(setpoint), 0.0, base - setpoint)
    levels = np.concatenate([[0.0], np.cumsum([s.power_kw for s in load.steps])])
    on = shed > TOL_KW
    if np.any(setpoint[on] < -TOL_KW):
        out.append("limit below zero")
    off_level = [v for v in shed[on] if np.min(np.abs(levels - v)) > TOL_KW]
    if off_level:
        out.append(f"shed {off_level[0]:.3f} kW is not a sum of its first steps")
    outside = on.copy()
    outside[window] = False
    if outside.any():
        out.append("curtailed outside the event window")
    longest = run = 0
    for flag in on:
        run = run + 1 if flag else 0
        longest = max(longest, run)
    if longest * interval_min > load.max_duration_min:
        out.append(f"curtailed {longest * interval_min} min, above max_duration_min")
    return out


def _battery(bat: Battery, power: np.ndarray, dt_h: float) -> list[str]:
    out = []
    if power.max() > bat.max_charge_kw + TOL_KW or -power.min() > bat.max_discharge_kw + TOL_KW:
        out.append("power beyond charge/discharge limits")
    stored = bat.soc_initial * bat.capacity_kwh + np.cumsum(
        np.where(power > 0, power * bat.charge_efficiency, power / bat.discharge_efficiency) * dt_h
    )
    if stored.min() < bat.soc_min * bat.capacity_kwh - TOL_KWH:
        out.append(f"SoC falls to {stored.min() / bat.capacity_kwh:.4f}, below soc_min")
    if stored.max() > bat.soc_max * bat.capacity_kwh + TOL_KWH:
        out.append(f"SoC rises to {stored.max() / bat.capacity_kwh:.4f}, above soc_max")
    return out


def _ev(pool: EvChargerPool, power: np.ndarray, problem: DispatchProblem) -> list[str]:
    out = []
    if power.min() < -TOL_KW or power.max() > pool.max_kw + TOL_KW:
        out.append("pool power outside 0..sum of charger ratings")
    sessions = place_sessions(pool, problem.grid)
    needed = sum(s.need_in_horizon_kwh for s in sessions)
    delivered = float(power.sum() * problem.grid.dt_h)
    if delivered < needed - TOL_KWH:
        out.append(f"delivers {delivered:.2f} kWh, sessions need {needed:.2f} kWh")
    return out


def _hvac(hvac: HvacLoad, power: np.ndarray, problem: DispatchProblem) -> list[str]:
    out = []
    if power.min() < -TOL_KW or power.max() > hvac.rated_power_kw + TOL_KW:
        out.append("power outside 0..rated_power_kw")
    grid = problem.grid
    outdoor = grid.sample_daily(hvac.outdoor_temperature_c)
    _, base_temp = thermostat_baseline(hvac, outdoor, grid.dt_h)
    a = np.exp(-grid.dt_h / (hvac.thermal_resistance_c_per_kw * hvac.thermal_capacitance_kwh_per_c))
    temp = hvac.setpoint_c
    for t in range(grid.count):
        temp = a * temp + (1 - a) * (
            outdoor[t] - hvac.thermal_resistance_c_per_kw * hvac.cop * power[t]
        )
        high = max(hvac.comfort_max_c, base_temp[t]) + TOL_C
        low = min(hvac.comfort_min_c, base_temp[t]) - TOL_C
        if not low <= temp <= high:
            out.append(f"indoor {temp:.2f} °C outside the comfort band at interval {t}")
            break
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


__all__ = ["check_dispatch", "check_rebound"]
