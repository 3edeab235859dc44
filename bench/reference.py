"""The reference emitter: the dispatch MILP written by hand as sparse matrices for highspy.

An independent, minimal build of the same problem :func:`vpp.optimizer.build_model` makes
(min-cost objective, peak shaving or valley filling), written for speed and nothing else:
no names, no blocks, no Pyomo, no result extraction beyond the figures the benchmark
reports. Columns and rows go into flat lists of numpy arrays and one COO matrix. It shares
with the optimiser only the problem's data preparation (the event window, notice and
target in :func:`~vpp.optimizer.problem.build_context`, EV session placement, the
thermostat baseline and the curtailment candidate blocks), so the ratio of our build time
to this one's is our modelling overhead, and the equality of the two optima (tested in
``tests/bench``) checks both formulations.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import highspy
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from vpp.domain import Battery, CurtailableLoad, EvChargerPool, HvacLoad, Pv, ResourceRef
from vpp.optimizer import DispatchProblem, DispatchSettings
from vpp.optimizer.emit_highs import new_highs
from vpp.optimizer.problem import ModelContext, build_context
from vpp.optimizer.resources.battery import reserve_soc
from vpp.optimizer.resources.curtailable import candidate_blocks, hold_intervals
from vpp.optimizer.resources.ev_charger import EARLINESS_CNY_PER_KWH_PER_INTERVAL, place_sessions
from vpp.optimizer.resources.hvac import thermostat_baseline

F = NDArray[np.float64]
I = NDArray[np.int64]  # noqa: E741
T = TypeVar("T")


@dataclass
class _Lp:
    """Columns and COO rows appended as arrays; the only bookkeeping the reference keeps."""

    n_col: int = 0
    n_row: int = 0
    col_lo: list[F] = field(default_factory=list)
    col_hi: list[F] = field(default_factory=list)
    cost: list[F] = field(default_factory=list)
    integer: list[I] = field(default_factory=list)
    r: list[I] = field(default_factory=list)
    c: list[I] = field(default_factory=list)
    v: list[F] = field(default_factory=list)
    row_lo: list[F] = field(default_factory=list)
    row_hi: list[F] = field(default_factory=list)
    offset: float = 0.0

    def cols(self, n: int, lo: object = 0.0, hi: object = np.inf, cost: object = 0.0) -> I:
        idx = np.arange(self.n_col, self.n_col + n, dtype=np.int64)
        self.col_lo.append(np.broadcast_to(np.asarray(lo, np.float64), (n,)))
        self.col_hi.append(np.broadcast_to(np.asarray(hi, np.float64), (n,)))
        self.cost.append(np.broadcast_to(np.asarray(cost, np.float64), (n,)))
        self.n_col += n
        return idx

    def binaries(self, n: int, cost: object = 0.0) -> I:
        idx = self.cols(n, 0.0, 1.0, cost)
        self.integer.append(idx)
        return idx

    def rows(self, n: int, r: I, c: I, v: object, lo: object, hi: object) -> None:
        """``n`` new rows from (local row, column, value) triplets."""
        self.r.append(np.asarray(r, np.int64) + self.n_row)
        self.c.append(np.asarray(c, np.int64))
        self.v.append(np.broadcast_to(np.asarray(v, np.float64), np.shape(r)))
        self.row_lo.append(np.broadcast_to(np.asarray(lo, np.float64), (n,)))
        self.row_hi.append(np.broadcast_to(np.asarray(hi, np.float64), (n,)))
        self.n_row += n


@dataclass
class _Kind:
    """What the system rows need from a kind: power columns (r, t), baselines, prices."""

    refs: list[ResourceRef]
    power: I
    base: F
    paid_price: F | None


@dataclass(frozen=True)
class ReferenceResult:
    """The figures the benchmark compares; times in seconds, objective in CNY."""

    status: str
    objective_cny: float | None
    mip_gap: float | None
    build_s: float
    translate_s: float
    solve_s: float
    n_cols: int
    n_rows: int
    n_integer: int


def solve_reference(problem: DispatchProblem, settings: DispatchSettings) -> ReferenceResult:
    """Build the min-cost dispatch as matrices, hand it to HiGHS and solve it."""
    started = time.perf_counter()
    lp, integer = build_reference(problem, settings)
    built = time.perf_counter()
    h = _to_highs(lp, integer, settings)
    translated = time.perf_counter()
    h.run()
    solved = time.perf_counter()
    status = h.modelStatusToString(h.getModelStatus())
    info = h.getInfo()
    has_point = info.primal_solution_status == 2
    return ReferenceResult(
        status=status,
        objective_cny=float(info.objective_function_value) if has_point else None,
        mip_gap=float(info.mip_gap) if has_point and integer.any() else None,
        build_s=built - started,
        translate_s=translated - built,
        solve_s=solved - translated,
        n_cols=lp.n_col,
        n_rows=lp.n_row,
        n_integer=int(integer.sum()),
    )


def build_reference(
    problem: DispatchProblem, settings: DispatchSettings
) -> tuple[_Lp, NDArray[np.bool_]]:
    ctx = build_context(problem, settings, "min_cost")
    lp = _Lp()
    by_kind: dict[type, list[ResourceRef]] = defaultdict(list)
    for ref in problem.refs():
        by_kind[type(ref.resource)].append(ref)
    kinds = [
        kind
        for refs, add in (
            (by_kind[CurtailableLoad], _curtailable),
            (by_kind[Battery], _battery),
            (by_kind[EvChargerPool], _ev),
            (by_kind[HvacLoad], _hvac),
            (by_kind[Pv], _pv),
        )
        if refs and (kind := add(lp, refs, problem, ctx)) is not None
    ]
    _paid(lp, kinds, ctx)
    _target(lp, kinds, ctx)
    _rebound(lp, kinds, problem, ctx)
    _feeders(lp, kinds, problem, ctx)
    integer = np.zeros(lp.n_col, dtype=bool)
    if lp.integer:
        integer[np.concatenate(lp.integer)] = True
    return lp, integer


def _to_highs(lp: _Lp, integer: NDArray[np.bool_], settings: DispatchSettings) -> highspy.Highs:
    a = sp.csc_matrix(
        (np.concatenate(lp.v), (np.concatenate(lp.r), np.concatenate(lp.c))),
        shape=(lp.n_row, lp.n_col),
    )
    model = highspy.HighsLp()
    model.num_col_ = lp.n_col
    model.num_row_ = lp.n_row
    model.col_cost_ = np.concatenate(lp.cost)
    model.offset_ = lp.offset
    model.col_lower_ = np.concatenate(lp.col_lo)
    model.col_upper_ = np.concatenate(lp.col_hi)
    model.row_lower_ = np.concatenate(lp.row_lo)
    model.row_upper_ = np.concatenate(lp.row_hi)
    model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    model.a_matrix_.start_ = a.indptr.astype(np.int32)
    model.a_matrix_.index_ = a.indices.astype(np.int32)
    model.a_matrix_.value_ = a.data
    if integer.any():
        kinds = (highspy.HighsVarType.kContinuous, highspy.HighsVarType.kInteger)
        model.integrality_ = [kinds[flag] for flag in integer.tolist()]
    h = new_highs()  # silent, its banner to the log: stdout carries only the tables
    h.setOptionValue("time_limit", float(settings.time_limit_s))
    h.setOptionValue("mip_rel_gap", float(settings.mip_rel_gap))
    h.setOptionValue("threads", int(settings.threads))
    h.setOptionValue("random_seed", int(settings.seed))
    h.passModel(model)
    return h


def _rt(n_r: int, n_t: int) -> tuple[I, I]:
    """Row-major (r, t) grids of resource and interval numbers."""
    return np.repeat(np.arange(n_r), n_t), np.tile(np.arange(n_t), n_r)


def _curtailable(
    lp: _Lp, refs: list[ResourceRef], problem: DispatchProblem, ctx: ModelContext
) -> _Kind:
    n_r, n_t, grid = len(refs), ctx.n_t, ctx.grid
    base = np.empty((n_r, n_t))
    stride = max(1, ctx.settings.curtail_start_stride_min // grid.interval_min)
    hold = hold_intervals(problem, ctx)
    # Per block-step: resource, start, length, step kW, cost, rebound kW and length.
    br: list[int] = []
    bs: list[int] = []
    bl: list[int] = []
    bk: list[int] = []
    bkw: list[float] = []
    bcost: list[float] = []
    rkw: list[float] = []
    rlen: list[int] = []
    loads: list[tuple[int, int, int, list[int]]] = []  # (r, rest, events left, first steps)
    for r, ref in enumerate(refs):
        load = ref.resource
        assert isinstance(load, CurtailableLoad)
        known = problem.load_baselines_kw.get(ref.key)
        base[r] = known if known is not None else grid.sample_daily(load.typical_load_kw)
        if ctx.direction < 0:
            continue
        max_len = load.max_duration_min // grid.interval_min
        left = load.max_events_per_day - problem.events_today.get(ref.key, 0)
        if max_len <= 0 or left <= 0:
            continue
        allowed = grid.in_daily_windows(load.availability)
        allowed[: ctx.notice_index(load.min_notice_min)] = False
        adder = ctx.rotation_adder(ref.enterprise.enterprise_id)
        back = math.ceil(load.rebound_duration_min / grid.interval_min)
        firsts: list[int] = []
        for s, length in candidate_blocks(allowed, ctx.window, max_len, stride, hold, back):
            firsts.append(len(br))
            for k, step in enumerate(load.steps):
                br.append(r)
                bs.append(s)
                bl.append(length)
                bk.append(k)
                bkw.append(step.power_kw)
                bcost.append((step.price_cny_per_kwh + adder) * step.power_kw * length * ctx.dt_h)
                rkw.append(step.power_kw * load.rebound_fraction * length / back)
                rlen.append(back)
        rest = max(1, math.ceil(load.min_rest_min / grid.interval_min))
        loads.append((r, rest, left, firsts))

    power = lp.cols(n_r * n_t, 0.0).reshape(n_r, n_t)
    z = lp.binaries(len(br), np.array(bcost))
    # power + sum shed z - sum rebound z = baseline
    rows = [np.arange(n_r * n_t)]
    cols = [power.ravel()]
    vals = [np.ones(n_r * n_t)]
    for i in range(len(br)):
        shed = np.arange(bs[i], bs[i] + bl[i])
        rows.append(br[i] * n_t + shed)
        cols.append(np.full(shed.size, z[i]))
        vals.append(np.full(shed.size, bkw[i]))
        after = np.arange(bs[i] + bl[i], min(bs[i] + bl[i] + rlen[i], n_t))
        if rkw[i] > 0 and after.size:
            rows.append(br[i] * n_t + after)
            cols.append(np.full(after.size, z[i]))
            vals.append(np.full(after.size, -rkw[i]))
    flat = base.ravel()
    lp.rows(n_r * n_t, np.concatenate(rows), np.concatenate(cols), np.concatenate(vals), flat, flat)
    # z[c, k] <= z[c, k-1]
    later = np.flatnonzero(np.array(bk, dtype=np.int64) > 0)
    if later.size:
        n = later.size
        lp.rows(
            n,
            np.repeat(np.arange(n), 2),
            np.stack([z[later], z[later - 1]], axis=1).ravel(),
            np.tile([1.0, -1.0], n),
            -np.inf,
            0.0,
        )
    _curtail_rules(lp, loads, bs, bl, z, ctx)
    return _Kind(refs, power, base, None)


def _curtail_rules(
    lp: _Lp,
    loads: list[tuple[int, int, int, list[int]]],
    starts: list[int],
    lengths: list[int],
    z: I,
    ctx: ModelContext,
) -> None:
    """One running-or-resting block per load at a time; at most the events left today."""
    assert ctx.window.start is not None
    assert ctx.window.stop is not None
    rr: list[int] = []
    rc: list[int] = []
    n_rest = 0
    er: list[int] = []
    ec: list[int] = []
    e_hi: list[float] = []
    for _, rest, left, firsts in loads:
        if len(firsts) > left:
            er += [len(e_hi)] * len(firsts)
            ec += [int(z[i]) for i in firsts]
            e_hi.append(left)
        if len(firsts) < 2:
            continue
        s = np.array([starts[i] for i in firsts])
        end = s + np.array([lengths[i] for i in firsts]) + rest
        for t in range(ctx.window.start, ctx.window.stop):
            live = np.flatnonzero((s <= t) & (t < end))
            if live.size > 1:
                rr += [n_rest] * live.size
                rc += [int(z[firsts[j]]) for j in live]
                n_rest += 1
    if n_rest:
        lp.rows(n_rest, np.array(rr), np.array(rc), 1.0, -np.inf, 1.0)
    if e_hi:
        lp.rows(len(e_hi), np.array(er), np.array(ec), 1.0, -np.inf, np.array(e_hi))


def _units(refs: list[ResourceRef], kind: type[T]) -> list[T]:
    out = [ref.resource for ref in refs]
    if not all(isinstance(u, kind) for u in out):
        raise TypeError(f"reference: expected only {kind.__name__} resources")
    return out  # type: ignore[return-value]


def _column(units: Sequence[object], attr: str) -> F:
    return np.array([getattr(u, attr) for u in units], dtype=np.float64)[:, None]


def _battery(
    lp: _Lp, refs: list[ResourceRef], problem: DispatchProblem, ctx: ModelContext
) -> _Kind:
    bats = _units(refs, Battery)
    n_r, n_t, dt = len(bats), ctx.n_t, ctx.dt_h
    cap, p_c, p_d = (
        _column(bats, a) for a in ("capacity_kwh", "max_charge_kw", "max_discharge_kw")
    )
    eta_c, eta_d = _column(bats, "charge_efficiency"), _column(bats, "discharge_efficiency")
    deg = _column(bats, "degradation_cny_per_kwh") * dt
    on = np.array([ctx.grid.in_daily_windows(b.availability) for b in bats])
    on &= ctx.free[None, :]
    price = ctx.energy_price_cny_per_kwh
    ch_cost = np.broadcast_to(deg + price * (1.0 - eta_c) * dt, (n_r, n_t)).ravel()
    dis_cost = np.broadcast_to(deg + price * (1.0 / eta_d - 1.0) * dt, (n_r, n_t)).ravel()
    ch = lp.cols(n_r * n_t, 0.0, np.where(on, p_c, 0.0).ravel(), ch_cost)
    dis = lp.cols(n_r * n_t, 0.0, np.where(on, p_d, 0.0).ravel(), dis_cost)
    power = lp.cols(
        n_r * n_t,
        np.broadcast_to(-p_d, (n_r, n_t)).ravel(),
        np.broadcast_to(p_c, (n_r, n_t)).ravel(),
    )
    floor = np.maximum(_column(bats, "soc_min"), reserve_soc(problem, _column(bats, "soc_initial")))
    soc_lo = np.broadcast_to(floor * cap, (n_r, n_t)).copy()
    final = np.minimum(_column(bats, "soc_final_min"), _column(bats, "soc_initial")) * cap
    soc_lo[:, -1:] = np.maximum(soc_lo[:, -1:], final)
    soc_hi = np.broadcast_to(_column(bats, "soc_max") * cap, (n_r, n_t)).ravel()
    soc = lp.cols(n_r * n_t, soc_lo.ravel(), soc_hi)
    n = n_r * n_t
    row = np.arange(n)
    # power - charge + discharge = 0
    lp.rows(
        n, np.tile(row, 3), np.concatenate([power, ch, dis]), np.repeat([1.0, -1.0, 1.0], n), 0, 0
    )
    # soc[t] - soc[t-1] - eta_c dt charge + dt / eta_d discharge = soc0 at t = 0, else 0
    _, t = _rt(n_r, n_t)
    has_prev = t > 0
    rhs = np.where(t == 0, np.repeat((_column(bats, "soc_initial") * cap)[:, 0], n_t), 0.0)
    lp.rows(
        n,
        np.concatenate([row, row[has_prev], row, row]),
        np.concatenate([soc, soc[row[has_prev] - 1], ch, dis]),
        np.concatenate(
            [
                np.ones(n),
                -np.ones(int(has_prev.sum())),
                np.broadcast_to(-eta_c * dt, (n_r, n_t)).ravel(),
                np.broadcast_to(dt / eta_d, (n_r, n_t)).ravel(),
            ]
        ),
        rhs,
        rhs,
    )
    if ctx.direction < 0:
        mode = lp.binaries(n)
        p_c_flat = np.broadcast_to(p_c, (n_r, n_t)).ravel()
        p_d_flat = np.broadcast_to(p_d, (n_r, n_t)).ravel()
        lp.rows(
            n,
            np.tile(row, 2),
            np.concatenate([ch, mode]),
            np.concatenate([np.ones(n), -p_c_flat]),
            -np.inf,
            0.0,
        )
        lp.rows(
            n,
            np.tile(row, 2),
            np.concatenate([dis, mode]),
            np.concatenate([np.ones(n), p_d_flat]),
            -np.inf,
            p_d_flat,
        )
    return _Kind(
        refs,
        power.reshape(n_r, n_t),
        np.zeros((n_r, n_t)),
        _column(bats, "price_cny_per_kwh")[:, 0],
    )


def _ev(lp: _Lp, refs: list[ResourceRef], problem: DispatchProblem, ctx: ModelContext) -> _Kind:
    n_r, n_t, dt = len(refs), ctx.n_t, ctx.dt_h
    base = np.zeros((n_r, n_t))
    t_of: list[I] = []
    r_of: list[I] = []
    s_of: list[I] = []
    lo: list[F] = []
    hi: list[F] = []
    need_lo: list[float] = []
    need_hi: list[float] = []
    for r, ref in enumerate(refs):
        pool = ref.resource
        assert isinstance(pool, EvChargerPool)
        free = ctx.grid.in_daily_windows(pool.availability) & ctx.free
        for session in place_sessions(pool, ctx.grid):
            base[r] += session.baseline_kw
            times = np.arange(max(session.arrive, 0), min(session.depart, n_t))
            fixed = ~free[times]
            b = session.baseline_kw[times]
            s_of.append(np.full(times.size, len(need_lo)))
            r_of.append(np.full(times.size, r))
            t_of.append(times)
            lo.append(np.where(fixed, b, 0.0))
            hi.append(np.where(fixed, b, session.max_kw))
            need_lo.append(session.need_in_horizon_kwh)
            need_hi.append(float(b.sum() * dt))
    t_all = np.concatenate(t_of) if t_of else np.zeros(0, np.int64)
    s_all = np.concatenate(s_of) if s_of else np.zeros(0, np.int64)
    r_all = np.concatenate(r_of) if r_of else np.zeros(0, np.int64)
    tie = EARLINESS_CNY_PER_KWH_PER_INTERVAL * dt * (t_all - n_t)
    charge = lp.cols(
        t_all.size, np.concatenate(lo) if lo else 0.0, np.concatenate(hi) if hi else 0.0, tie
    )
    power = lp.cols(n_r * n_t, 0.0)
    # power[r, t] - sum of its sessions' charging = 0
    lp.rows(
        n_r * n_t,
        np.concatenate([np.arange(n_r * n_t), r_all * n_t + t_all]),
        np.concatenate([power, charge]),
        np.concatenate([np.ones(n_r * n_t), -np.ones(t_all.size)]),
        0.0,
        0.0,
    )
    if need_lo:
        hi_arr = np.array(need_hi)
        lp.rows(len(need_lo), s_all, charge, dt, np.minimum(need_lo, hi_arr), hi_arr)
    prices = np.array([pool.price_cny_per_kwh for pool in _units(refs, EvChargerPool)])
    return _Kind(refs, power.reshape(n_r, n_t), base, prices)


def _hvac(lp: _Lp, refs: list[ResourceRef], problem: DispatchProblem, ctx: ModelContext) -> _Kind:
    units = _units(refs, HvacLoad)
    n_r, n_t, dt = len(units), ctx.n_t, ctx.dt_h
    outdoor = np.array([ctx.grid.sample_daily(u.outdoor_temperature_c) for u in units])
    pairs = [thermostat_baseline(u, outdoor[r], dt) for r, u in enumerate(units)]
    bp = np.array([p for p, _ in pairs])
    bt = np.array([t for _, t in pairs])
    t = np.arange(n_t)[None, :]
    free = np.array([ctx.grid.in_daily_windows(u.availability) for u in units]) & ctx.free[None, :]
    assert ctx.window.start is not None
    assert ctx.window.stop is not None
    first = ctx.window.start - np.array([[u.precool_min // ctx.grid.interval_min] for u in units])
    end = ctx.window.stop + np.array([[u.recovery_min // ctx.grid.interval_min] for u in units])
    free &= (t >= first) & (t < end)
    in_w = ctx.in_window[None, :]
    price = ctx.energy_price_cny_per_kwh
    power = lp.cols(
        n_r * n_t,
        np.where(free & in_w, 0.0, bp).ravel(),
        np.where(free & ~in_w, _column(units, "rated_power_kw"), bp).ravel(),
        price * dt,
    )
    lp.offset -= price * dt * float(bp.sum())
    t_hi = np.where(t == np.minimum(end, n_t) - 1, bt + 1e-6, np.inf)
    t_hi = np.minimum(np.maximum(_column(units, "comfort_max_c"), bt), t_hi)
    t_lo = np.minimum(_column(units, "comfort_min_c"), bt)
    temp = lp.cols(n_r * n_t, t_lo.ravel(), t_hi.ravel())
    res = _column(units, "thermal_resistance_c_per_kw")
    a = np.exp(-dt / (res * _column(units, "thermal_capacitance_kwh_per_c")))
    gain = (1.0 - a) * res * _column(units, "cop")
    rhs = (1.0 - a) * outdoor
    rhs[:, 0] += a[:, 0] * _column(units, "setpoint_c")[:, 0]
    n = n_r * n_t
    row = np.arange(n)
    prev = np.tile(np.arange(n_t), n_r) > 0
    lp.rows(
        n,
        np.concatenate([row, row[prev], row]),
        np.concatenate([temp, temp[row[prev] - 1], power]),
        np.concatenate(
            [
                np.ones(n),
                np.broadcast_to(-a, (n_r, n_t)).ravel()[prev],
                np.broadcast_to(gain, (n_r, n_t)).ravel(),
            ]
        ),
        rhs.ravel(),
        rhs.ravel(),
    )
    return _Kind(refs, power.reshape(n_r, n_t), bp, _column(units, "price_cny_per_kwh")[:, 0])


def _pv(lp: _Lp, refs: list[ResourceRef], problem: DispatchProblem, ctx: ModelContext) -> _Kind:
    gen = np.array([ctx.grid.sample_daily(u.generation_kw) for u in _units(refs, Pv)])
    power = lp.cols(gen.size, -gen.ravel(), -gen.ravel())
    return _Kind(refs, power.reshape(gen.shape), -gen, None)


def _paid(lp: _Lp, kinds: list[_Kind], ctx: ModelContext) -> None:
    """paid[r, t] >= direction (base - power) over the window, paid at price + rotation adder."""
    d, dt = ctx.direction, ctx.dt_h
    for kind in kinds:
        if kind.paid_price is None:
            continue
        power = kind.power[:, ctx.window]
        n_r, n_w = power.shape
        adder = np.array([ctx.rotation_adder(ref.enterprise.enterprise_id) for ref in kind.refs])
        cost = np.repeat((kind.paid_price + adder) * dt, n_w)
        paid = lp.cols(n_r * n_w, 0.0, np.inf, cost)
        row = np.arange(n_r * n_w)
        lp.rows(
            n_r * n_w,
            np.tile(row, 2),
            np.concatenate([paid, power.ravel()]),
            np.repeat([1.0, d], n_r * n_w),
            d * kind.base[:, ctx.window].ravel(),
            np.inf,
        )


def _target(lp: _Lp, kinds: list[_Kind], ctx: ModelContext) -> None:
    """sum_r -direction power + shortfall >= planned - direction sum_r base; worst shortfall."""
    d = ctx.direction
    n_w = ctx.target_profile_kw.size
    penalty = ctx.settings.shortfall_penalty_cny_per_kwh * ctx.dt_h
    short = lp.cols(n_w, 0.0, np.inf, penalty)
    worst = lp.cols(1, 0.0, np.inf, penalty)
    rows = [np.arange(n_w)]
    cols = [short]
    vals = [np.ones(n_w)]
    constant = np.zeros(n_w)
    for kind in kinds:
        power = kind.power[:, ctx.window]
        rows.append(np.tile(np.arange(n_w), power.shape[0]))
        cols.append(power.ravel())
        vals.append(np.full(power.size, -d))
        constant += d * kind.base[:, ctx.window].sum(axis=0)
    planned = ctx.target_profile_kw * (1.0 + ctx.settings.target_margin_pct / 100.0)
    lp.rows(
        n_w,
        np.concatenate(rows),
        np.concatenate(cols),
        np.concatenate(vals),
        planned - constant,
        np.inf,
    )
    lp.rows(
        n_w,
        np.tile(np.arange(n_w), 2),
        np.concatenate([np.full(n_w, worst[0]), short]),
        np.repeat([1.0, -1.0], n_w),
        0.0,
        np.inf,
    )


def _rebound(lp: _Lp, kinds: list[_Kind], problem: DispatchProblem, ctx: ModelContext) -> None:
    """sum_r power - excess <= max(cap (1 - margin), sum_r base) in every free interval
    outside the window; the excess priced per interval and once more at its worst. The
    whole portfolio only (re-plans' limits and other plans' load are not modelled here)."""
    setting = ctx.settings.rebound_cap or problem.district.rebound_cap
    if setting == "none" or problem.resource_keys is not None:
        return
    base = np.sum([kind.base.sum(axis=0) for kind in kinds], axis=0)
    cap = float(base.max()) if setting == "baseline_peak" else float(setting)
    limit = np.maximum(cap * (1.0 - ctx.settings.rebound_margin_pct / 100.0), base)
    ts = np.array([t for t in range(ctx.first_free, ctx.n_t) if not ctx.in_window[t]])
    if ts.size == 0:
        return
    penalty = ctx.settings.rebound_penalty_cny_per_kwh * ctx.dt_h
    excess = lp.cols(ts.size, 0.0, np.inf, penalty)
    worst = lp.cols(1, 0.0, np.inf, penalty)
    rows = [np.arange(ts.size)]
    cols = [excess]
    vals = [-np.ones(ts.size)]
    for kind in kinds:
        power = kind.power[:, ts]
        rows.append(np.tile(np.arange(ts.size), power.shape[0]))
        cols.append(power.ravel())
        vals.append(np.ones(power.size))
    lp.rows(
        ts.size,
        np.concatenate(rows),
        np.concatenate(cols),
        np.concatenate(vals),
        -np.inf,
        limit[ts],
    )
    lp.rows(
        ts.size,
        np.tile(np.arange(ts.size), 2),
        np.concatenate([np.full(ts.size, worst[0]), excess]),
        np.repeat([1.0, -1.0], ts.size),
        0.0,
        np.inf,
    )


def _feeders(lp: _Lp, kinds: list[_Kind], problem: DispatchProblem, ctx: ModelContext) -> None:
    """sum of a feeder's VPP power <= max(capacity - background, its baseline total)."""
    n_t = ctx.n_t
    members: dict[str, list[tuple[_Kind, int]]] = defaultdict(list)
    for kind in kinds:
        for r, ref in enumerate(kind.refs):
            members[ref.enterprise.feeder_id].append((kind, r))
    feeders = [f for f in problem.district.feeders if f.feeder_id in members]
    rows: list[I] = []
    cols: list[I] = []
    hi: list[F] = []
    for i, feeder in enumerate(feeders):
        base = np.zeros(n_t)
        for kind, r in members[feeder.feeder_id]:
            rows.append(i * n_t + np.arange(n_t))
            cols.append(kind.power[r])
            base += kind.base[r]
        room = feeder.capacity_kw - ctx.grid.sample_daily(feeder.background_load_kw)
        hi.append(np.maximum(room, base))
    if feeders:
        lp.rows(
            len(feeders) * n_t,
            np.concatenate(rows),
            np.concatenate(cols),
            1.0,
            -np.inf,
            np.concatenate(hi),
        )
