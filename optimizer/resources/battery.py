"""Batteries: charge and discharge power [kW] and stored energy [kWh].

    soc_kwh[r, t] = soc_kwh[r, t-1] + (eta_c charge[r, t] - discharge[r, t] / eta_d) dt
    power[r, t]   = charge[r, t] - discharge[r, t]

with ``soc_min <= soc <= soc_max`` (times capacity), the final SoC at least
``min(soc_final_min, soc_initial)`` (energy the dispatch takes is given back; charging the
idle baseline would not do is not the event's business), and no power outside the availability
windows or before the first free interval. Throughput costs degradation and losses cost
energy. With positive prices and efficiencies below one, charging and discharging at once
never pays while shaving a peak, so no binary is needed then (DOMAIN.md); filling a valley
would reward burning energy in losses, so a charge/discharge mode binary is added for it.
Applies to Battery; baseline: idle (0 kW).
"""

from __future__ import annotations

import numpy as np

from vpp.domain import (
    Battery,
    DispatchResult,
    Notice,
    ResourceRef,
    ResourceSchedule,
    SetpointMode,
)
from vpp.optimizer.linear import FloatArray, LinearModel
from vpp.optimizer.problem import DispatchProblem, ModelContext
from vpp.optimizer.resources._block import (
    TOL_KW,
    TOL_KWH,
    KindBlock,
    column,
    deviating,
    resources_of,
)

KIND = "battery"


def add_battery(
    m: LinearModel, refs: list[ResourceRef], problem: DispatchProblem, ctx: ModelContext
) -> KindBlock | None:
    """Charge, discharge, power [kW] and SoC [kWh] for every battery and interval."""
    if not refs:
        return None
    bats: list[Battery] = resources_of(refs, Battery)
    n_r, n_t, dt = len(bats), ctx.n_t, ctx.dt_h

    cap, p_c, p_d = (
        column(bats, "capacity_kwh"),
        column(bats, "max_charge_kw"),
        column(bats, "max_discharge_kw"),
    )
    eta_c, eta_d = column(bats, "charge_efficiency"), column(bats, "discharge_efficiency")
    active = np.array([ctx.grid.in_daily_windows(b.availability) for b in bats]) & ctx.free[None, :]

    charge = m.add_variables(f"{KIND}.charge_kw", (n_r, n_t), 0.0, np.where(active, p_c, 0.0))
    discharge = m.add_variables(f"{KIND}.discharge_kw", (n_r, n_t), 0.0, np.where(active, p_d, 0.0))
    power = m.add_variables(f"{KIND}.power_kw", (n_r, n_t), -p_d, p_c)

    soc0 = column(bats, "soc_initial") * cap
    # The dispatch must leave the battery no emptier than required, but owes no charging
    # the idle baseline would not do: final >= min(soc_final_min, soc_initial).
    final = np.minimum(column(bats, "soc_final_min"), column(bats, "soc_initial")) * cap
    floor = np.maximum(column(bats, "soc_min"), reserve_soc(problem, column(bats, "soc_initial")))
    soc_lower = np.broadcast_to(floor * cap, (n_r, n_t)).copy()
    soc_lower[:, -1:] = np.maximum(soc_lower[:, -1:], final)
    soc = m.add_variables(f"{KIND}.soc_kwh", (n_r, n_t), soc_lower, column(bats, "soc_max") * cap)

    m.add_constraints(
        f"{KIND}.power_balance", [(power, 1.0), (charge, -1.0), (discharge, 1.0)], 0.0, 0.0
    )
    previous = np.concatenate([np.full((n_r, 1), -1), soc[:, :-1]], axis=1)
    rhs = np.zeros((n_r, n_t))
    rhs[:, 0] = soc0[:, 0]
    m.add_constraints(
        f"{KIND}.soc_balance",
        [(soc, 1.0), (previous, -1.0), (charge, -eta_c * dt), (discharge, dt / eta_d)],
        rhs,
        rhs,
    )
    if ctx.direction < 0:
        charging = m.add_variables(f"{KIND}.charging", (n_r, n_t), 0.0, 1.0, integer=True)
        m.add_constraints(f"{KIND}.charge_mode", [(charge, 1.0), (charging, -p_c)], upper=0.0)
        m.add_constraints(f"{KIND}.discharge_mode", [(discharge, 1.0), (charging, p_d)], upper=p_d)

    m.add_cost("degradation", charge, column(bats, "degradation_cny_per_kwh") * dt)
    m.add_cost("degradation", discharge, column(bats, "degradation_cny_per_kwh") * dt)
    price = ctx.energy_price_cny_per_kwh
    m.add_cost("energy", charge, price * (1.0 - eta_c) * dt)
    m.add_cost("energy", discharge, price * (1.0 / eta_d - 1.0) * dt)

    baseline = np.zeros((n_r, n_t))

    def setpoint_kw(x: FloatArray) -> FloatArray:
        return deviating(m.value(x, f"{KIND}.power_kw"), baseline)

    return KindBlock(
        KIND,
        refs,
        baseline,
        power,
        SetpointMode.POWER,
        setpoint_kw,
        paid_price_cny_per_kwh=column(bats, "price_cny_per_kwh")[:, 0],
    )


def reserve_soc(problem: DispatchProblem, soc_initial: FloatArray) -> FloatArray:
    """The state of charge [0..1] a plan keeps in each battery for later calls: the
    district's ``storage_reserve`` in a day-ahead event (an intraday or real-time call may
    come that day, with no time to recharge under the rebound cap), never above the charge
    the battery starts with (a reserve does not oblige charging); 0 for the later calls,
    which may use it."""
    if problem.event.notice is not Notice.DAY_AHEAD or problem.event.direction < 0:
        return np.zeros_like(soc_initial)
    out: FloatArray = np.minimum(problem.district.storage_reserve, soc_initial)
    return out


def check_battery(
    bat: Battery, schedule: ResourceSchedule, problem: DispatchProblem, result: DispatchResult
) -> list[str]:
    """Power beyond its ratings; the state of charge, re-simulated, outside its band."""
    return _battery(bat, np.array(schedule.power_kw), result.grid.dt_h)


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
