"""Commercial-building cooling: electrical power [kW] and indoor temperature [°C].

First-order (1R1C) model, exact for power held constant over an interval:

    T[t] = a T[t-1] + (1 - a) (T_out[t] - R COP P[t]),   a = exp(-dt / (R C))

The baseline thermostat holds ``setpoint_c`` (power clipped to 0..rated), starting there.
Dispatch may depart from the baseline only from ``precool_min`` before the event until
``recovery_min`` after it, drawing at least the baseline power outside the event window and
at most the baseline power inside it. It keeps ``T`` in the comfort band (widened to the
baseline's own trajectory where the baseline already leaves it, so the band is never
infeasible) and must end no warmer than the baseline does, so pre-cooling before an event
and drifting up during it are possible while the building is returned to normal
afterwards. Extra energy against the baseline is priced at the district tariff.
Applies to HvacLoad.
"""

from __future__ import annotations

import numpy as np

from vpp.domain import DispatchResult, HvacLoad, ResourceRef, ResourceSchedule, SetpointMode
from vpp.optimizer.linear import FloatArray, LinearModel
from vpp.optimizer.problem import DispatchProblem, ModelContext
from vpp.optimizer.resources._block import (
    TOL_C,
    TOL_KW,
    KindBlock,
    column,
    deviating,
    held_through,
    resources_of,
)

KIND = "hvac_load"


def thermostat_baseline(
    hvac: HvacLoad, outdoor_c: FloatArray, dt_h: float
) -> tuple[FloatArray, FloatArray]:
    """Power [kW] and temperature [°C] of a thermostat holding the setpoint, from the setpoint."""
    a = np.exp(-dt_h / (hvac.thermal_resistance_c_per_kw * hvac.thermal_capacitance_kwh_per_c))
    gain = hvac.thermal_resistance_c_per_kw * hvac.cop
    power = np.zeros(outdoor_c.size)
    temp = np.zeros(outdoor_c.size)
    previous = hvac.setpoint_c
    for t, t_out in enumerate(outdoor_c):
        wanted = (t_out - (hvac.setpoint_c - a * previous) / (1.0 - a)) / gain
        power[t] = min(max(wanted, 0.0), hvac.rated_power_kw)
        previous = a * previous + (1.0 - a) * (t_out - gain * power[t])
        temp[t] = previous
    return power, temp


def add_hvac_load(
    m: LinearModel, refs: list[ResourceRef], problem: DispatchProblem, ctx: ModelContext
) -> KindBlock | None:
    """Power [kW] and indoor temperature [°C] for every building and interval."""
    if not refs:
        return None
    units: list[HvacLoad] = resources_of(refs, HvacLoad)
    n_r, n_t, dt = len(units), ctx.n_t, ctx.dt_h
    outdoor = np.array([ctx.grid.sample_daily(u.outdoor_temperature_c) for u in units])
    base = [thermostat_baseline(u, outdoor[r], dt) for r, u in enumerate(units)]
    base_power = np.array([p for p, _ in base])
    base_temp = np.array([t for _, t in base])

    controllable = np.array([ctx.grid.in_daily_windows(u.availability) for u in units])
    controllable &= ctx.free[None, :]
    t = np.arange(n_t)[None, :]
    span_start = ctx.window.start - np.array([[ctx.interval_count(u.precool_min)] for u in units])
    span_end = ctx.window.stop + np.array([[ctx.interval_count(u.recovery_min)] for u in units])
    controllable &= (t >= span_start) & (t < span_end)
    rated = column(units, "rated_power_kw")
    # Pre-cool before the event, shed during it, recover after: never warmer than the
    # baseline outside the event, so dispatch takes no unpaid comfort from the building.
    in_window = ctx.in_window[None, :]
    lower = np.where(controllable & in_window, 0.0, base_power)
    upper = np.where(controllable & ~in_window, rated, base_power)
    power = m.add_variables(f"{KIND}.power_kw", (n_r, n_t), lower, upper)
    # Back to normal when the recovery span ends: no warmer than the baseline there.
    temp_upper = np.where(t == np.minimum(span_end, n_t) - 1, base_temp + 1e-6, np.inf)
    # A baseline that already leaves the band is not counted against dispatch.
    temp_upper = np.minimum(np.maximum(column(units, "comfort_max_c"), base_temp), temp_upper)
    temp_lower = np.minimum(column(units, "comfort_min_c"), base_temp)
    temp = m.add_variables(f"{KIND}.temperature_c", (n_r, n_t), temp_lower, temp_upper)

    resistance = column(units, "thermal_resistance_c_per_kw")
    a = np.exp(-dt / (resistance * column(units, "thermal_capacitance_kwh_per_c")))
    previous = np.concatenate([np.full((n_r, 1), -1), temp[:, :-1]], axis=1)
    rhs = (1.0 - a) * outdoor
    rhs[:, 0] += a[:, 0] * column(units, "setpoint_c")[:, 0]
    m.add_constraints(
        f"{KIND}.temperature",
        [
            (temp, 1.0),
            (previous, np.broadcast_to(-a, (n_r, n_t))),
            (power, (1.0 - a) * resistance * column(units, "cop")),
        ],
        rhs,
        rhs,
    )
    m.add_cost("energy", power, ctx.energy_price_cny_per_kwh * dt)
    m.add_cost_constant("energy", -ctx.energy_price_cny_per_kwh * dt * float(base_power.sum()))

    def setpoint_kw(x: FloatArray) -> FloatArray:
        # A building still warmer than its baseline after the window would snap back
        # under its own thermostat, so the planned recovery stays commanded.
        power_kw = m.value(x, f"{KIND}.power_kw")
        return held_through(deviating(power_kw, base_power), power_kw)

    return KindBlock(
        KIND,
        refs,
        base_power,
        power,
        SetpointMode.POWER,
        setpoint_kw,
        column(units, "price_cny_per_kwh")[:, 0],
    )


def check_hvac_load(
    hvac: HvacLoad, schedule: ResourceSchedule, problem: DispatchProblem, result: DispatchResult
) -> list[str]:
    """Power outside 0..rated; the indoor temperature, re-simulated, outside comfort."""
    return _hvac(hvac, np.array(schedule.power_kw), problem)


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
