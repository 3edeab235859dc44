"""EV charger pools: each session's charging power [kW], delayed or reduced but delivered.

Sessions recur daily; each plug-in is placed on the grid with its arrival rounded up and
its departure rounded down to interval boundaries. The baseline is uncontrolled charging:
full charger power from arrival until the vehicle has its energy (or departs). Dispatch may
move and reduce charging within the connection:

    sum_t p[s, t] dt >= need_in_horizon[s],   0 <= p[s, t] <= max_kw(charger of s)
    power[r, t] = sum_{s in r} p[s, t]

where ``need_in_horizon`` is the session's energy less what it received before the horizon
and less what the charger could still give it after the horizon ends. A charger's minimum
power is left to the gateway's allocation within the pool limit (DOMAIN.md: repairing it
after the solve moved delivery by under 0.1%). Applies to EvChargerPool.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache

import numpy as np

from vpp.domain import (
    DispatchResult,
    EvChargerPool,
    ResourceRef,
    ResourceSchedule,
    SetpointMode,
    TimeGrid,
)
from vpp.optimizer.linear import FloatArray, LinearModel
from vpp.optimizer.problem import DispatchProblem, ModelContext
from vpp.optimizer.resources._block import (
    TOL_KW,
    TOL_KWH,
    KindBlock,
    deviating,
    held_through,
    resources_of,
)

KIND = "ev_charger_pool"
EARLINESS_CNY_PER_KWH_PER_INTERVAL = 1e-5


@dataclass(frozen=True)
class PlacedSession:
    """One plug-in on the grid: connected intervals [arrive, depart) (may reach outside)."""

    charger_id: str
    arrive: int
    depart: int
    max_kw: float
    need_kwh: float
    baseline_kw: FloatArray  # over the horizon
    need_in_horizon_kwh: float


def place_sessions(pool: EvChargerPool, grid: TimeGrid) -> list[PlacedSession]:
    """Every daily session of the pool that is connected during the grid's horizon."""
    max_kw = {c.charger_id: c.max_kw for c in pool.chargers}
    dt = grid.dt_h
    first_day = grid.start.astimezone(grid.tz).date() - timedelta(days=1)
    n_days = math.ceil((grid.end - grid.start) / timedelta(days=1)) + 2
    start_utc = grid.start.astimezone(UTC)
    connected = [(session, session.connected_min) for session in pool.sessions]
    placed: list[PlacedSession] = []
    for day_offset in range(n_days):
        day = first_day + timedelta(days=day_offset)
        for session, minutes in connected:
            arrive, depart = _on_grid(
                start_utc, grid.interval_min, grid.tz, day, session.arrival, minutes
            )
            if depart <= max(arrive, 0) or arrive >= grid.count:
                continue
            p_max = max_kw[session.charger_id]
            need = min(session.energy_kwh, p_max * (depart - arrive) * dt)
            # Uncontrolled: full power from arrival, on a timeline that may start before 0.
            profile = np.clip(need / dt - p_max * np.arange(depart - arrive), 0.0, p_max)
            lo, hi = max(arrive, 0), min(depart, grid.count)
            baseline = np.zeros(grid.count)
            baseline[lo:hi] = profile[lo - arrive : hi - arrive]
            before_kwh = float(profile[: max(0, -arrive)].sum() * dt)
            after_capacity_kwh = p_max * max(0, depart - grid.count) * dt
            need_in = max(0.0, need - before_kwh - after_capacity_kwh)
            placed.append(
                PlacedSession(session.charger_id, arrive, depart, p_max, need, baseline, need_in)
            )
    return placed


@lru_cache(maxsize=65_536)
def _on_grid(
    start_utc: datetime,
    interval_min: int,
    tz: tzinfo,
    day: date,
    arrival: time,
    connected_min: int,
) -> tuple[int, int]:
    """[arrive, depart) of one plug-in in grid intervals, arrival rounded up, departure down.

    Cached: a district's sessions share few distinct arrival times, and this datetime
    arithmetic was most of a large model's build time.
    """
    arrival_utc = datetime.combine(day, arrival, tzinfo=tz).astimezone(UTC)
    departure_utc = arrival_utc + timedelta(minutes=connected_min)
    interval = timedelta(minutes=interval_min)
    # Elapsed time in UTC: aware times sharing a tzinfo subtract on the wall clock.
    arrive = math.ceil((arrival_utc - start_utc) / interval - 1e-9)
    depart = math.floor((departure_utc - start_utc) / interval + 1e-9)
    return arrive, depart


def add_ev_charger_pool(
    m: LinearModel, refs: list[ResourceRef], problem: DispatchProblem, ctx: ModelContext
) -> KindBlock | None:
    """Session charging [kW] and pool power [kW] for every pool and interval."""
    if not refs:
        return None
    n_r, n_t, dt = len(refs), ctx.n_t, ctx.dt_h
    baseline = np.zeros((n_r, n_t))
    # One variable per (session, connected interval inside the horizon).
    owner: list[int] = []
    pair_t: list[np.ndarray] = []
    pair_session: list[np.ndarray] = []
    lower: list[np.ndarray] = []
    upper: list[np.ndarray] = []
    need_lo: list[float] = []
    need_hi: list[float] = []
    pools = resources_of(refs, EvChargerPool)
    for r, pool in enumerate(pools):
        controllable = ctx.grid.in_daily_windows(pool.availability) & ctx.free
        for session in place_sessions(pool, ctx.grid):
            baseline[r] += session.baseline_kw
            times = np.arange(max(session.arrive, 0), min(session.depart, n_t))
            fixed = ~controllable[times]
            base = session.baseline_kw[times]
            s = len(owner)
            owner.append(r)
            pair_t.append(times)
            pair_session.append(np.full(times.size, s))
            lower.append(np.where(fixed, base, 0.0))
            upper.append(np.where(fixed, base, session.max_kw))
            need_lo.append(session.need_in_horizon_kwh)
            need_hi.append(float(base.sum() * dt))

    t_of = np.concatenate(pair_t) if pair_t else np.zeros(0, dtype=np.int64)
    s_of = np.concatenate(pair_session) if pair_session else np.zeros(0, dtype=np.int64)
    charge = m.add_variables(
        f"{KIND}.session_kw",
        t_of.size,
        np.concatenate(lower) if lower else 0.0,
        np.concatenate(upper) if upper else 0.0,
    )
    power = m.add_variables(f"{KIND}.power_kw", (n_r, n_t), 0.0)
    r_of = np.array(owner, dtype=np.int64)[s_of] if owner else np.zeros(0, dtype=np.int64)
    m.add_sparse_constraints(
        f"{KIND}.power_balance",
        n_r * n_t,
        (
            np.concatenate([np.arange(n_r * n_t), r_of * n_t + t_of]),
            np.concatenate([power.ravel(), charge]),
            np.concatenate([np.ones(n_r * n_t), -np.ones(t_of.size)]),
        ),
        lower=0.0,
        upper=0.0,
    )
    # Energy by departure: at least the need, at most what uncontrolled charging gave.
    m.add_sparse_constraints(
        f"{KIND}.session_energy",
        len(owner),
        (s_of, charge, np.full(t_of.size, dt)),
        lower=np.minimum(need_lo, need_hi),
        upper=np.array(need_hi, dtype=np.float64),
    )
    # A vanishing reward for charging, larger the earlier, keeps sessions on their
    # uncontrolled schedule (and inside the horizon) wherever the event does not need
    # them to move.
    m.add_cost("tie_break", charge, EARLINESS_CNY_PER_KWH_PER_INTERVAL * dt * (t_of - n_t))
    prices = np.array([pool.price_cny_per_kwh for pool in pools])

    def setpoint_kw(x: FloatArray) -> FloatArray:
        return held_through(deviating(m.value(x, f"{KIND}.power_kw"), baseline), power_of(x))

    def power_of(x: FloatArray) -> FloatArray:
        return m.value(x, f"{KIND}.power_kw")

    return KindBlock(KIND, refs, baseline, power, SetpointMode.LIMIT, setpoint_kw, prices)


def check_ev_charger_pool(
    pool: EvChargerPool,
    schedule: ResourceSchedule,
    problem: DispatchProblem,
    result: DispatchResult,
) -> list[str]:
    """Power outside its chargers' range; less energy than its sessions need."""
    return _ev(pool, np.array(schedule.power_kw), problem)


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
