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

A building still recovering from an earlier event starts the plan's first free interval
from its ``temperature_initial_c`` (measured, or the earlier plan's), not the baseline's:
its recovery is this plan's to make. Where that start lies outside the band, the band is
widened to what the building can reach from it, so a plan always exists.
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


def trajectory_c(
    initial_c: float, outdoor_c: FloatArray, power_kw: FloatArray, a: float, gain: float
) -> FloatArray:
    """Indoor temperature [°C] at the end of each interval from ``initial_c`` at the given
    powers [kW] (``a`` the interval's decay, ``gain`` = R COP [°C/kW])."""
    out = np.empty(outdoor_c.size)
    previous = initial_c
    for t in range(outdoor_c.size):
        previous = a * previous + (1.0 - a) * (outdoor_c[t] - gain * power_kw[t])
        out[t] = previous
    return out


def control_span(
    hvac: HvacLoad, interval_min: int, window: slice, first_free: int | None = None
) -> slice:
    """The intervals dispatch may move the building in: from ``precool_min`` before the
    window to ``recovery_min`` after it (whole intervals, so neither is exceeded). A
    building a plan starts warm at ``first_free`` has ``recovery_min`` from there, however
    late that is (its recovery extended from a measured temperature)."""
    recovery = hvac.recovery_min // interval_min
    stop = window.stop + recovery
    if hvac.temperature_initial_c is not None and first_free is not None:
        stop = max(stop, first_free + recovery)
    return slice(window.start - hvac.precool_min // interval_min, stop)


def commandable_at(hvac: HvacLoad, problem: DispatchProblem, index: int) -> bool:
    """Whether ``problem`` may move the building in interval ``index`` (its control span
    and its availability)."""
    grid = problem.grid
    span = control_span(
        hvac, grid.interval_min, grid.slice_of(problem.event.start, problem.event.end)
    )
    return span.start <= index < span.stop and bool(grid.in_daily_windows(hvac.availability)[index])


def restarts(units: list[HvacLoad], first_free: int, n_t: int) -> np.ndarray:
    """Which buildings start the first free interval from a given temperature."""
    given = np.array([u.temperature_initial_c is not None for u in units], dtype=bool)
    return given & (first_free < n_t)


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
    spans = [control_span(u, ctx.grid.interval_min, ctx.window, ctx.first_free) for u in units]
    span_start = np.array([[span.start] for span in spans])
    span_end = np.array([[span.stop] for span in spans])
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

    resistance = column(units, "thermal_resistance_c_per_kw")
    a = np.exp(-dt / (resistance * column(units, "thermal_capacitance_kwh_per_c")))
    gain = resistance * column(units, "cop")
    start_c = column(units, "setpoint_c")[:, 0]
    restart = restarts(units, ctx.first_free, n_t)
    for r in np.flatnonzero(restart):
        # The band widened to what the building can reach from where it is.
        initial = float(units[r].temperature_initial_c)  # type: ignore[arg-type]
        span = slice(ctx.first_free, n_t)
        coolest = trajectory_c(initial, outdoor[r, span], upper[r, span], a[r, 0], gain[r, 0])
        warmest = trajectory_c(initial, outdoor[r, span], lower[r, span], a[r, 0], gain[r, 0])
        temp_upper[r, span] = np.maximum(temp_upper[r, span], coolest + 1e-6)
        temp_lower[r, span] = np.minimum(temp_lower[r, span], warmest - 1e-6)
    temp = m.add_variables(f"{KIND}.temperature_c", (n_r, n_t), temp_lower, temp_upper)

    previous = np.concatenate([np.full((n_r, 1), -1), temp[:, :-1]], axis=1)
    rhs = (1.0 - a) * outdoor
    rhs[:, 0] += a[:, 0] * start_c
    for r in np.flatnonzero(restart):
        # The chain starts again at the first free interval, from the given temperature.
        f = ctx.first_free
        rhs[r, f] = (1.0 - a[r, 0]) * outdoor[r, f] + a[r, 0] * units[r].temperature_initial_c
        previous[r, f] = -1
    m.add_constraints(
        f"{KIND}.temperature",
        [
            (temp, 1.0),
            (previous, np.broadcast_to(-a, (n_r, n_t))),
            (power, (1.0 - a) * gain),
        ],
        rhs,
        rhs,
    )
    m.add_cost("energy", power, ctx.energy_price_cny_per_kwh * dt)
    m.add_cost_constant("energy", -ctx.energy_price_cny_per_kwh * dt * float(base_power.sum()))

    def setpoint_kw(x: FloatArray) -> FloatArray:
        # A building still warmer than its baseline after the window would snap back
        # under its own thermostat, so the planned recovery stays commanded; one this plan
        # starts away from its baseline is commanded from its first free interval on.
        power_kw = m.value(x, f"{KIND}.power_kw")
        held = held_through(deviating(power_kw, base_power), power_kw)
        for r in np.flatnonzero(restart):
            commanded = np.flatnonzero(~np.isnan(held[r]))
            last = commanded[-1] + 1 if commanded.size else min(span_end[r, 0], n_t)
            held[r, ctx.first_free : last] = power_kw[r, ctx.first_free : last]
        return held

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
    gain = hvac.thermal_resistance_c_per_kw * hvac.cop
    first = problem.first_free()
    high_c = np.maximum(hvac.comfort_max_c, base_temp)
    low_c = np.minimum(hvac.comfort_min_c, base_temp)
    if hvac.temperature_initial_c is not None and first < grid.count:
        # Started away from the baseline: the band reaches as far as the building can.
        rest = slice(first, grid.count)
        full = np.full(grid.count - first, hvac.rated_power_kw)
        initial = hvac.temperature_initial_c
        coolest = trajectory_c(initial, outdoor[rest], full, a, gain)
        warmest = trajectory_c(initial, outdoor[rest], 0.0 * full, a, gain)
        high_c[rest] = np.maximum(high_c[rest], coolest)
        low_c[rest] = np.minimum(low_c[rest], warmest)
    temps = planned_temperature_c(hvac, problem, power)
    outside = np.flatnonzero((temps > high_c + TOL_C) | (temps < low_c - TOL_C))
    if outside.size:
        t = int(outside[0])
        out.append(f"indoor {temps[t]:.2f} °C outside the comfort band at interval {t}")
    return out


def planned_temperature_c(
    hvac: HvacLoad, problem: DispatchProblem, power: FloatArray
) -> FloatArray:
    """Indoor temperature [°C] at the end of each interval of ``problem``'s grid under
    ``power`` [kW]: from the setpoint, restarted at the first free interval where the
    building starts from a given temperature (as the model does)."""
    grid = problem.grid
    outdoor = grid.sample_daily(hvac.outdoor_temperature_c)
    a = np.exp(-grid.dt_h / (hvac.thermal_resistance_c_per_kw * hvac.thermal_capacitance_kwh_per_c))
    gain = hvac.thermal_resistance_c_per_kw * hvac.cop
    first = problem.first_free()
    if hvac.temperature_initial_c is None or first >= grid.count:
        return trajectory_c(hvac.setpoint_c, outdoor, power, a, gain)
    before = trajectory_c(hvac.setpoint_c, outdoor[:first], power[:first], a, gain)
    after = trajectory_c(hvac.temperature_initial_c, outdoor[first:], power[first:], a, gain)
    return np.concatenate([before, after])
