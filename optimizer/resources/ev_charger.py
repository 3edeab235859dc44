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

import logging
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache

import highspy
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from vpp.domain import (
    DispatchResult,
    EvChargerPool,
    ResourceRef,
    ResourceSchedule,
    SetpointMode,
    TimeGrid,
)
from vpp.optimizer.linear import Cut, FloatArray, IntArray, LinearModel
from vpp.optimizer.problem import DispatchProblem, ModelContext
from vpp.optimizer.resources._block import (
    TOL_KW,
    TOL_KWH,
    KindBlock,
    deviating,
    held_through,
    resources_of,
)

logger = logging.getLogger(__name__)

KIND = "ev_charger_pool"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_US_PER_MIN = 60_000_000
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
    received_before_kwh: float = 0.0  # charged uncontrolled before the horizon starts


@dataclass(frozen=True)
class PlugIns:
    """Each daily plug-in of a pool's sessions from the day before the horizon to the day
    after, day by day: the session's index in the pool and its [arrive, depart) in grid
    intervals (arrival rounded up, departure down; may reach outside the grid)."""

    session: IntArray
    arrive: IntArray
    depart: IntArray


def plug_ins(pool: EvChargerPool, grid: TimeGrid) -> PlugIns:
    """The pool's plug-ins on the grid (:class:`PlugIns`): a day's at once where the zone's
    offset holds all day, one by one on a day the clocks change."""
    first_day = grid.start.astimezone(grid.tz).date() - timedelta(days=1)
    n_days = math.ceil((grid.end - grid.start) / timedelta(days=1)) + 2
    start_utc = grid.start.astimezone(UTC)
    start_us = (start_utc - _EPOCH) // _MICROSECOND
    interval_us = grid.interval_min * _US_PER_MIN
    sessions = pool.sessions
    arrival_us = np.array([_time_of_day_us(s.arrival) for s in sessions], dtype=np.int64)
    connected_us = np.array([s.connected_min for s in sessions], dtype=np.int64) * _US_PER_MIN
    arrive = np.empty((n_days, len(sessions)), dtype=np.int64)
    depart = np.empty_like(arrive)
    for day_offset in range(n_days):
        day = first_day + timedelta(days=day_offset)
        midnight_us = _utc_midnight_us(grid.tz, day)
        if midnight_us is None:
            for k, session in enumerate(sessions):
                arrive[day_offset, k], depart[day_offset, k] = _on_grid(
                    start_utc,
                    grid.interval_min,
                    grid.tz,
                    day,
                    session.arrival,
                    session.connected_min,
                )
            continue
        # As _on_grid: elapsed microseconds over the interval's, a float either way.
        since_us = midnight_us + arrival_us - start_us
        arrive[day_offset] = np.ceil(since_us / interval_us - 1e-9)
        depart[day_offset] = np.floor((since_us + connected_us) / interval_us + 1e-9)
    session_index = np.tile(np.arange(len(sessions), dtype=np.int64), n_days)
    return PlugIns(session_index, arrive.ravel(), depart.ravel())


def _time_of_day_us(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


@lru_cache(maxsize=4096)
def _utc_midnight_us(tz: tzinfo, day: date) -> int | None:
    """The UTC time of ``day``'s local midnight [microseconds since the epoch] where the
    zone's offset is the same all day (sampled every half hour and at the next midnight);
    None on a day the clocks change."""
    midnight = datetime.combine(day, time())
    offsets = {tz.utcoffset(midnight + timedelta(minutes=30 * k)) for k in range(49)}
    if len(offsets) != 1 or None in offsets:
        return None
    (offset,) = offsets
    assert offset is not None
    return (midnight - _EPOCH.replace(tzinfo=None) - offset) // _MICROSECOND


@dataclass(frozen=True)
class Placement:
    """A pool's plug-ins connected during the horizon, as arrays over them (the fields of
    :class:`PlacedSession`; ``baseline_kw`` and ``connected`` are (plug-in, interval))."""

    session: IntArray
    arrive: IntArray
    depart: IntArray
    max_kw: FloatArray
    need_kwh: FloatArray
    baseline_kw: FloatArray
    need_in_horizon_kwh: FloatArray
    received_before_kwh: FloatArray
    connected: NDArray[np.bool_]


def placement(pool: EvChargerPool, grid: TimeGrid) -> Placement:
    """Every daily session of the pool that is connected during the grid's horizon, with
    its uncontrolled charging: full power from arrival until it has its energy."""
    plug = plug_ins(pool, grid)
    keep = (plug.depart > np.maximum(plug.arrive, 0)) & (plug.arrive < grid.count)
    session, arrive, depart = plug.session[keep], plug.arrive[keep], plug.depart[keep]
    rating = {c.charger_id: c.max_kw for c in pool.chargers}
    p_max = np.array([rating[s.charger_id] for s in pool.sessions], dtype=np.float64)[session]
    energy = np.array([s.energy_kwh for s in pool.sessions], dtype=np.float64)[session]
    dt = grid.dt_h
    need = np.minimum(energy, p_max * (depart - arrive) * dt)
    # Uncontrolled: full power from arrival, on a timeline that may start before 0.
    since_arrival = np.arange(grid.count) - arrive[:, None]
    profile = np.clip(need[:, None] / dt - p_max[:, None] * since_arrival, 0.0, p_max[:, None])
    connected = (since_arrival >= 0) & (np.arange(grid.count) < depart[:, None])
    baseline = np.where(connected, profile, 0.0)
    before = np.zeros(session.size)
    for j in np.flatnonzero(arrive < 0).tolist():
        early = np.clip(need[j] / dt - p_max[j] * np.arange(-arrive[j]), 0.0, p_max[j])
        before[j] = float(early.sum() * dt)
    after_capacity = p_max * np.maximum(0, depart - grid.count) * dt
    need_in = np.maximum(0.0, need - before - after_capacity)
    return Placement(session, arrive, depart, p_max, need, baseline, need_in, before, connected)


def place_sessions(pool: EvChargerPool, grid: TimeGrid) -> list[PlacedSession]:
    """Every daily session of the pool that is connected during the grid's horizon."""
    p = placement(pool, grid)
    charger = [pool.sessions[i].charger_id for i in p.session.tolist()]
    return [
        PlacedSession(*fields)
        for fields in zip(
            charger,
            p.arrive.tolist(),
            p.depart.tolist(),
            p.max_kw.tolist(),
            p.need_kwh.tolist(),
            list(p.baseline_kw),
            p.need_in_horizon_kwh.tolist(),
            p.received_before_kwh.tolist(),
            strict=True,
        )
    ]


def planned_energy_owed_kwh(
    pool: EvChargerPool, grid: TimeGrid, power_kw: FloatArray
) -> FloatArray:
    """What the pool's plugged-in vehicles still need at each interval boundary of the grid
    (0..count) when the pool draws ``power_kw`` [kWh]: the need of every session arrived
    by then less what the pool has given since the horizon began (and each session before
    it). A session gone by then had its energy, as the model has it, so it drops out.

    The same quantity a pool's gateway reports (``Telemetry.energy_owed_kwh``), so a plan
    can be held against the field's vehicles.
    """
    arrived = np.zeros(grid.count + 1)
    for session in place_sessions(pool, grid):
        owed_at_start = session.need_kwh - session.received_before_kwh
        arrived[max(session.arrive, 0) :] += owed_at_start
    given = np.concatenate([[0.0], np.cumsum(np.asarray(power_kw, dtype=np.float64))]) * grid.dt_h
    owed: FloatArray = np.maximum(arrived - given, 0.0)
    return owed


def arrivals_kwh(pool: EvChargerPool, tz: tzinfo, start: datetime, end: datetime) -> float:
    """What the pool's sessions registered to plug in after ``start`` and by ``end`` (aware,
    any offset) need [kWh], each capped by what its charger gives in its connection; the
    registered arrivals are local times in ``tz``. Cars arrive early or late, so a pool's
    reading may already hold some of them."""
    if start.utcoffset() is None or end.utcoffset() is None:
        raise ValueError("start, end: need aware times")
    max_kw = {c.charger_id: c.max_kw for c in pool.chargers}
    first_day = start.astimezone(tz).date() - timedelta(days=1)
    days = (end - start) // timedelta(days=1) + 3
    total = 0.0
    for day_offset in range(days):
        day = first_day + timedelta(days=day_offset)
        for session in pool.sessions:
            arrival = datetime.combine(day, session.arrival, tzinfo=tz)
            if start < arrival <= end:
                hours = session.connected_min / 60.0
                total += min(session.energy_kwh, max_kw[session.charger_id] * hours)
    return total


def with_energy_owed(
    pool: EvChargerPool, grid: TimeGrid, index: int, owed_kwh: float
) -> EvChargerPool:
    """The pool as it stands at the start of interval ``index``: the sessions plugged in
    then arrive then, together owing ``owed_kwh`` [kWh] (shared in proportion to the energy
    each is registered to need), so a plan from ``index`` on places the catch-up the field's
    vehicles really need. Sessions arriving later, or gone, stay as registered.

    Sessions recur daily: another day's plug-in of a rewritten session within the horizon
    moves with it (horizons of a day or less have none).
    """
    at = grid.starts[index].astimezone(grid.tz)
    plug = plug_ins(pool, grid)
    plugged = np.unique(plug.session[(plug.arrive <= index) & (index < plug.depart)]).tolist()
    if not plugged:
        return pool
    weights = np.array([pool.sessions[i].energy_kwh for i in plugged])
    shares = owed_kwh * weights / weights.sum()
    sessions = list(pool.sessions)
    for i, share in zip(plugged, shares, strict=True):
        session = pool.sessions[i]
        sessions[i] = session.model_copy(
            update={"arrival": at.time().replace(tzinfo=None), "energy_kwh": float(share)}
        )
    kept = [s for s in sessions if s.energy_kwh > 0.0]
    return pool.model_copy(update={"sessions": tuple(kept)})


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


@dataclass(frozen=True)
class SessionBounds:
    """Every pool's sessions on the horizon, as dense arrays over (session, interval).

    Charging of session s in interval t lies in [lower_kw, upper_kw] (zero outside its
    connection, equal where the pool is not controllable) and its energy in
    [need_lo_kwh, need_hi_kwh]; ``owner[s]`` is the pool's index among the refs.
    """

    owner: IntArray
    lower_kw: FloatArray
    upper_kw: FloatArray
    need_lo_kwh: FloatArray
    need_hi_kwh: FloatArray
    baseline_kw: FloatArray  # (pool, interval)
    connected: NDArray[np.bool_]


def session_bounds(pools: list[EvChargerPool], ctx: ModelContext) -> SessionBounds:
    n_t, dt = ctx.n_t, ctx.dt_h
    baseline = np.zeros((len(pools), n_t))
    owner: list[IntArray] = []
    rows_lo: list[FloatArray] = []
    rows_hi: list[FloatArray] = []
    rows_on: list[NDArray[np.bool_]] = []
    need_lo: list[FloatArray] = []
    need_hi: list[FloatArray] = []
    for r, pool in enumerate(pools):
        controllable = ctx.grid.in_daily_windows(pool.availability) & ctx.free
        placed = placement(pool, ctx.grid)
        for row in placed.baseline_kw:
            baseline[r] += row
        on = placed.connected
        base = placed.baseline_kw  # zero where not connected
        owner.append(np.full(on.shape[0], r, dtype=np.int64))
        rows_on.append(on)
        rows_lo.append(np.where(on & ~controllable, base, 0.0))
        rows_hi.append(np.where(on, np.where(controllable, placed.max_kw[:, None], base), 0.0))
        need_lo.append(placed.need_in_horizon_kwh)
        need_hi.append(base.sum(axis=1) * dt)
    if not owner:
        return SessionBounds(
            np.zeros(0, dtype=np.int64),
            np.zeros((0, n_t)),
            np.zeros((0, n_t)),
            np.zeros(0),
            np.zeros(0),
            baseline,
            np.zeros((0, n_t), dtype=bool),
        )
    hi = np.concatenate(need_hi)
    return SessionBounds(
        np.concatenate(owner),
        np.concatenate(rows_lo),
        np.concatenate(rows_hi),
        np.minimum(np.concatenate(need_lo), hi),
        hi,
        baseline,
        np.concatenate(rows_on),
    )


def add_ev_charger_pool(
    m: LinearModel, refs: list[ResourceRef], problem: DispatchProblem, ctx: ModelContext
) -> KindBlock | None:
    """Pool power [kW] for every pool and interval, and what the sessions allow of it."""
    if not refs:
        return None
    n_r = len(refs)
    pools = resources_of(refs, EvChargerPool)
    sessions = session_bounds(pools, ctx)
    baseline = sessions.baseline_kw
    if ctx.settings.ev_model == "pooled":
        power = _add_pooled(m, sessions, n_r, ctx)
    else:
        power = _add_per_session(m, sessions, n_r, ctx)
    prices = np.array([pool.price_cny_per_kwh for pool in pools])

    def setpoint_kw(x: FloatArray) -> FloatArray:
        return held_through(deviating(m.value(x, f"{KIND}.power_kw"), baseline), power_of(x))

    def power_of(x: FloatArray) -> FloatArray:
        return m.value(x, f"{KIND}.power_kw")

    return KindBlock(KIND, refs, baseline, power, SetpointMode.LIMIT, setpoint_kw, prices)


def _earliness_cny_per_kw(ctx: ModelContext) -> FloatArray:
    """A vanishing reward for charging, larger the earlier: it keeps sessions on their
    uncontrolled schedule (and inside the horizon) wherever the event does not need them
    to move [CNY/kW per interval]."""
    steps = np.arange(ctx.n_t, dtype=np.float64) - ctx.n_t
    return np.asarray(EARLINESS_CNY_PER_KWH_PER_INTERVAL * ctx.dt_h * steps, dtype=np.float64)


def _add_per_session(
    m: LinearModel, sessions: SessionBounds, n_r: int, ctx: ModelContext
) -> IntArray:
    """One charging column per (session, connected interval): the model as DOMAIN.md has it."""
    n_t, dt = ctx.n_t, ctx.dt_h
    s_of, t_of = np.nonzero(sessions.connected)
    charge = m.add_variables(
        f"{KIND}.session_kw",
        t_of.size,
        sessions.lower_kw[s_of, t_of],
        sessions.upper_kw[s_of, t_of],
    )
    power = m.add_variables(f"{KIND}.power_kw", (n_r, n_t), 0.0)
    r_of = sessions.owner[s_of]
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
        sessions.owner.size,
        (s_of, charge, np.full(t_of.size, dt)),
        lower=sessions.need_lo_kwh,
        upper=sessions.need_hi_kwh,
    )
    m.add_cost("tie_break", charge, _earliness_cny_per_kw(ctx)[t_of])
    return power


def _add_pooled(m: LinearModel, sessions: SessionBounds, n_r: int, ctx: ModelContext) -> IntArray:
    """Pool power within the sum of its sessions' bounds, and every other condition for the
    sessions to share it out, added when a solution breaks it.

    The feasible pool powers are the sum of the sessions' sets (each a box cut by an
    energy range). A solution outside it is cut off, first by the limits on the energy of
    spans of consecutive intervals (:class:`SpanLimits`, those the sessions' windows make
    bind), then by a hyperplane ``y . P <= support(y)`` from the sessions' own data
    (:class:`PoolSeparator`), so the loop ends on a pool power the sessions can deliver:
    the per-session model's optimum with a fraction of its columns. The earliness reward
    is the same per interval for every session, so it prices pool power alike.
    """
    n_t, dt = ctx.n_t, ctx.dt_h
    lower = np.zeros((n_r, n_t))
    upper = np.zeros((n_r, n_t))
    np.add.at(lower, sessions.owner, sessions.lower_kw)
    np.add.at(upper, sessions.owner, sessions.upper_kw)
    power = m.add_variables(f"{KIND}.power_kw", (n_r, n_t), lower, upper)
    spans = SpanLimits.of(sessions, n_r, n_t, dt)
    # Energy drawn before each interval boundary [kW x intervals]: a span's energy is a
    # difference of two, and the bounds of those from the start are column bounds.
    prefix = spans.starts == 0
    first = np.zeros((n_r, n_t + 1))
    last = np.zeros((n_r, n_t + 1))
    first[:, spans.stops[prefix]] = spans.least[:, prefix]
    last[:, spans.stops[prefix]] = spans.most[:, prefix]
    drawn = m.add_variables(f"{KIND}.drawn_kw_intervals", (n_r, n_t + 1), first, last)
    m.add_constraints(
        f"{KIND}.drawn",
        [(drawn[:, 1:], 1.0), (drawn[:, :-1], -1.0), (power, -1.0)],
        lower=0.0,
        upper=0.0,
    )
    suffix = np.flatnonzero((spans.stops == n_t) & (spans.starts > 0))
    r_of, k_of = np.nonzero(spans.tight[:, suffix])
    k_of = suffix[k_of]
    m.add_sparse_constraints(
        f"{KIND}.drawn_after",
        r_of.size,
        (
            np.repeat(np.arange(r_of.size), 2),
            np.stack([drawn[r_of, n_t], drawn[r_of, spans.starts[k_of]]], axis=1),
            np.tile([1.0, -1.0], r_of.size),
        ),
        lower=spans.least[r_of, k_of],
        upper=spans.most[r_of, k_of],
    )
    m.add_cost("tie_break", power, np.broadcast_to(_earliness_cny_per_kw(ctx), power.shape))
    m.add_separator(PoolSeparator(sessions, spans, power, drawn, dt))
    return power


@dataclass(frozen=True)
class SpanLimits:
    """The most and the least each pool's sessions can draw over spans [start, stop) of
    consecutive intervals (up to :data:`MAX_SPAN_INTERVALS` long, and every span from the
    horizon's start or to its end) [kW x intervals], and where that is tighter than the
    sum of the pool's power bounds."""

    starts: IntArray
    stops: IntArray
    most: FloatArray  # (pool, span)
    least: FloatArray
    tight: NDArray[np.bool_]

    @classmethod
    def of(cls, sessions: SessionBounds, n_r: int, n_t: int, dt_h: float) -> SpanLimits:
        starts, stops = np.triu_indices(n_t + 1, k=1)
        keep = (stops - starts <= MAX_SPAN_INTERVALS) | (starts == 0) | (stops == n_t)
        starts, stops = starts[keep], stops[keep]
        most = np.zeros((n_r, starts.size))
        least = np.zeros((n_r, starts.size))
        box_lo = np.zeros((n_r, starts.size))
        box_hi = np.zeros((n_r, starts.size))
        bounds = np.searchsorted(sessions.owner, np.arange(n_r + 1))
        for r in range(n_r):
            mine = slice(bounds[r], bounds[r + 1])
            low, high = sessions.lower_kw[mine], sessions.upper_kw[mine]
            room = _cumulative(high - low)
            base = _cumulative(low)
            room_in = room[:, stops] - room[:, starts]
            base_in = base[:, stops] - base[:, starts]
            extra_lo = np.maximum(sessions.need_lo_kwh[mine] / dt_h - base[:, -1], 0.0)
            extra_hi = np.maximum(sessions.need_hi_kwh[mine] / dt_h - base[:, -1], 0.0)
            outside = room[:, -1:] - room_in
            most[r] = (base_in + np.minimum(room_in, extra_hi[:, None])).sum(axis=0)
            least[r] = (base_in + np.maximum(extra_lo[:, None] - outside, 0.0)).sum(axis=0)
            box_lo[r] = base_in.sum(axis=0)
            box_hi[r] = (base_in + room_in).sum(axis=0)
        tight = (most < box_hi - SPAN_TOL_KW) | (least > box_lo + SPAN_TOL_KW)
        return cls(starts, stops, most, least, tight)


def _cumulative(kw: FloatArray) -> FloatArray:
    out = np.zeros((kw.shape[0], kw.shape[1] + 1))
    np.cumsum(kw, axis=1, out=out[:, 1:])
    return out


#: Below this a span limit or a pool's mismatch is solver noise [kW x intervals].
SPAN_TOL_KW = 1e-6
MISMATCH_TOL_KW = 1e-6
#: Spans longer than this are left to the support cuts, except those from the horizon's
#: start or to its end: all spans of a day of 96 intervals made the build 3x dearer.
MAX_SPAN_INTERVALS = 16
#: Span cuts per pool and round, the most violated first.
SPAN_CUTS_PER_POOL = 16


class PoolSeparator:
    """Checks that every pool's power can be shared out among its sessions; cuts where not.

    First the span limits: each violated one is a cut on two ``drawn`` columns. When none
    is, one LP over all sessions finds, for the given pool powers, the least total
    mismatch between each pool's power and its sessions' charging (zero: every pool is
    feasible). For a pool with a mismatch, the LP's prices on its power rows give a
    direction ``y`` in which the pool's power exceeds the most its sessions can give,
    ``support(y) = sum_s max{y . p_s}``; that inequality is the cut. Both are valid for
    every feasible pool power, so the loop never cuts off the optimum.
    """

    def __init__(
        self,
        sessions: SessionBounds,
        spans: SpanLimits,
        power: IntArray,
        drawn: IntArray,
        dt_h: float,
    ) -> None:
        self.sessions = sessions
        self.spans = spans
        self.power = power
        self.drawn = drawn
        self.dt_h = dt_h
        self._lp: highspy.Highs | None = None
        self.last_charge_kw: FloatArray | None = None

    def __call__(self, x: FloatArray) -> list[Cut]:
        return self._span_cuts(x) or self._support_cuts(x[self.power])

    def _span_cuts(self, x: FloatArray) -> list[Cut]:
        sp_ = self.spans
        drawn = x[self.drawn]
        energy = drawn[:, sp_.stops] - drawn[:, sp_.starts]
        excess = np.maximum(energy - sp_.most, sp_.least - energy)
        excess[~sp_.tight] = 0.0
        cuts: list[Cut] = []
        worst = np.argsort(-excess, axis=1)[:, :SPAN_CUTS_PER_POOL]
        violated = np.take_along_axis(excess, worst, 1) > SPAN_TOL_KW
        for r, k in zip(*np.nonzero(violated), strict=True):
            span = worst[r, k]
            cols = self.drawn[r, [sp_.stops[span], sp_.starts[span]]]
            cuts.append(Cut(cols, np.array([1.0, -1.0]), sp_.least[r, span], sp_.most[r, span]))
        return cuts

    def _support_cuts(self, target: FloatArray) -> list[Cut]:
        mismatch, y = self._share_out(target)
        cuts: list[Cut] = []
        for r in np.flatnonzero(mismatch > MISMATCH_TOL_KW):
            mine = self.sessions.owner == r
            # The prices are +-1 on two sets of intervals: the pool draws too much over one
            # or too little over the other (g-polymatroids), each a stronger cut than y's.
            signs = np.sign(np.round(y[r], 9))
            candidates = [(signs > 0) * 1.0, (signs < 0) * -1.0, y[r], -y[r]]
            found = 0
            for direction in candidates:
                if not direction.any():
                    continue
                bound = support_kw(self.sessions, mine, direction, self.dt_h)
                if direction @ target[r] > bound + MISMATCH_TOL_KW:
                    found += 1
                    cuts.append(Cut(self.power[r], direction.copy(), -np.inf, bound))
            if not found:  # by LP duality only within the solver's tolerances
                logger.warning("EV pool %d: mismatch %.3g kW and no cut", r, mismatch[r])
        return cuts

    def _share_out(self, target: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Least mismatch per pool [kW] and the prices of the pools' power rows."""
        s, n_r = self.sessions, target.shape[0]
        if self._lp is None:
            self._lp = _share_out_lp(s, n_r, target.shape[1], self.dt_h)
        h = self._lp
        n_rows = target.size
        rows = np.arange(n_rows, dtype=np.int32)
        flat = target.ravel()
        h.changeRowsBounds(n_rows, rows, flat, flat)  # type: ignore[attr-defined]
        h.run()
        solution = h.getSolution()
        n_charge = int(s.connected.sum())
        col = np.array(solution.col_value)
        slack = col[n_charge:].reshape(2, n_r, -1).sum(axis=0)
        self.last_charge_kw = col[:n_charge]
        dual = np.array(solution.row_dual)[:n_rows].reshape(target.shape)
        return slack.sum(axis=1), dual


def _share_out_lp(s: SessionBounds, n_r: int, n_t: int, dt_h: float) -> highspy.Highs:
    """min sum(over + under) s.t. sum_s p[s, t] + over - under = P[r, t] (rows r * n_t + t,
    bounds set per call), energy of each session within its range, p within its bounds."""
    from vpp.optimizer.emit_highs import new_highs

    s_of, t_of = np.nonzero(s.connected)
    n_charge = s_of.size
    n_bal = n_r * n_t
    n_rows = n_bal + s.owner.size
    rows = np.concatenate(
        [s.owner[s_of] * n_t + t_of, n_bal + s_of, np.arange(n_bal), np.arange(n_bal)]
    )
    cols = np.concatenate(
        [
            np.arange(n_charge),
            np.arange(n_charge),
            n_charge + np.arange(n_bal),
            n_charge + n_bal + np.arange(n_bal),
        ]
    )
    vals = np.concatenate(
        [np.ones(n_charge), np.full(n_charge, dt_h), np.ones(n_bal), -np.ones(n_bal)]
    )
    csc = sp.csc_matrix((vals, (rows, cols)), shape=(n_rows, n_charge + 2 * n_bal))
    lp = highspy.HighsLp()
    lp.num_col_ = n_charge + 2 * n_bal
    lp.num_row_ = n_rows
    lp.col_cost_ = np.concatenate([np.zeros(n_charge), np.ones(2 * n_bal)])
    lp.col_lower_ = np.concatenate([s.lower_kw[s_of, t_of], np.zeros(2 * n_bal)])
    lp.col_upper_ = np.concatenate([s.upper_kw[s_of, t_of], np.full(2 * n_bal, highspy.kHighsInf)])
    lp.row_lower_ = np.concatenate([np.zeros(n_bal), s.need_lo_kwh])
    lp.row_upper_ = np.concatenate([np.zeros(n_bal), s.need_hi_kwh])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
    lp.a_matrix_.index_ = csc.indices.astype(np.int32)
    lp.a_matrix_.value_ = csc.data
    h = new_highs()
    h.passModel(lp)
    return h


def support_kw(
    sessions: SessionBounds, mine: NDArray[np.bool_], y: FloatArray, dt_h: float
) -> float:
    """max sum_s y . p_s over the chosen sessions' charging sets [kW-weighted]: each session
    starts at its lower bounds and adds energy where y is largest, as much as y > 0 pays
    for, at least its need and at most its range (a fractional knapsack)."""
    lower = sessions.lower_kw[mine]
    room = sessions.upper_kw[mine] - lower
    base = lower.sum(axis=1)
    need_lo = np.maximum(sessions.need_lo_kwh[mine] / dt_h - base, 0.0)
    need_hi = np.maximum(sessions.need_hi_kwh[mine] / dt_h - base, 0.0)
    order = np.argsort(-y, kind="stable")
    y_o, room_o = y[order], room[:, order]
    paying = (room_o * (y_o > 0)).sum(axis=1)
    energy = np.clip(paying, need_lo, need_hi)
    before = np.cumsum(room_o, axis=1) - room_o
    fill = np.clip(energy[:, None] - before, 0.0, room_o)
    return float((lower @ y).sum() + (fill @ y_o).sum())


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
    needed = sum(placement(pool, problem.grid).need_in_horizon_kwh.tolist())
    delivered = float(power.sum() * problem.grid.dt_h)
    if delivered < needed - TOL_KWH:
        out.append(f"delivers {delivered:.2f} kWh, sessions need {needed:.2f} kWh")
    return out
