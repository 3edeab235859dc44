"""Why a dispatch is what it is: the target's marginal cost and one reason per resource.

Prices come from the LP of the dispatch with its integers fixed at the MILP's values,
except that a committed curtailment step may shrink continuously (``0 <= z <= 1`` where
the MILP set ``z = 1``; uncommitted steps stay at 0). With every step fixed the last kW of
a lumpy step would be priced at zero (over-delivery) or at the shortfall penalty; shrinking
it prices the target at the committed unit that sets it. Then

    marginal[t] = dual(system.target[t]) / dt   [CNY/kWh]

and a resource left out is tested by a what-if: its cheapest step forced on in the same
LP. Whether that is infeasible without the feeder limit or the rebound cap relaxed, and
what it adds to the cost, say why it was left out. Limits whose shadow prices are nonzero
name what binds (``<kind>.<quantity>`` as built in :mod:`vpp.optimizer.linear`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import Executor
from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from vpp.domain import (
    Battery,
    CurtailableLoad,
    DispatchExplanation,
    DispatchResult,
    IntervalPrice,
    Pv,
    Reason,
    ResourceExplanation,
    ResourceRef,
    ResourceSchedule,
    ShortfallExplanation,
)
from vpp.optimizer.dispatch import NOT_MONEY, dispatch, extract_result, solve_monolithic
from vpp.optimizer.emit_highs import to_highs
from vpp.optimizer.linear import FloatArray, IntArray, LinearModel
from vpp.optimizer.model import BuiltModel
from vpp.optimizer.problem import DispatchProblem, DispatchSettings, ModelContext

logger = logging.getLogger(__name__)

#: Integer blocks whose committed ones may shrink in the pricing LP (lumpy response).
COMMITMENTS = ("curtailable_load.step_on",)
STEP_ORDER = "curtailable_load.step_order"
TARGET_ROWS = "system.target"
FEEDER_ROWS = "system.feeder_limit"
REBOUND_PREFIX = "system.rebound"
#: Row families that only define or pay response; their shadow prices are not limits.
BOOKKEEPING = ("system.target", "system.max_shortfall", ".paid_response", ".power_balance")
#: Prices closer than this are equal [CNY/kWh].
PRICE_TOL = 1e-4
#: Shadow prices below this are zero [CNY per unit of the row].
DUAL_TOL = 1e-7
#: What-if LPs per explanation at most; resources beyond are explained by price alone.
MAX_WHAT_IFS = 200
METHOD = (
    "LP with the MILP's integers fixed (committed curtailment steps may shrink); marginal "
    "cost = dual of system.target per interval / interval length; left-out resources "
    "tested by forcing their cheapest step on"
)


def dispatch_explained(
    problem: DispatchProblem,
    settings: DispatchSettings | None = None,
    *,
    executor: Executor | None = None,
) -> tuple[DispatchResult, DispatchExplanation | None]:
    """The dispatch of :func:`vpp.optimizer.dispatch` and its explanation.

    A problem large enough to be decomposed has no single model to price; it is
    dispatched as usual and the explanation is None (likewise, logged, if explaining
    fails: the dispatch stands without it).
    """
    settings = settings or DispatchSettings()
    limit = settings.decompose_above_resources
    if limit is not None and len(problem.refs()) > limit:
        return dispatch(problem, settings, executor=executor), None
    built, raw = solve_monolithic(problem, settings)
    result = extract_result(problem, built, raw, settings)
    assert raw.x is not None
    try:
        return result, explain(problem, built, raw.x, result, settings)
    except Exception:  # an explanation must never cost the dispatch itself
        logger.exception("explaining the dispatch of %s failed", problem.event.event_id)
        return result, None


@dataclass(frozen=True)
class _Priced:
    """The pricing LP solved: its HiGHS instance, objective [CNY] and shadow prices."""

    highs: highspy.Highs
    lower: FloatArray
    upper: FloatArray
    objective_cny: float
    x: FloatArray
    row_dual: FloatArray
    col_dual: FloatArray


def explain(
    problem: DispatchProblem,
    built: BuiltModel,
    x: FloatArray,
    result: DispatchResult,
    settings: DispatchSettings,
) -> DispatchExplanation:
    """Explain the dispatch ``result`` whose MILP solution over ``built`` is ``x``."""
    m, ctx = built.model, built.context
    priced = _price(m, x, settings)
    refs = [ref for kb in built.blocks for ref in kb.refs]
    col_owner, row_owner = _owners(m, built)
    n_window = ctx.window.stop - ctx.window.start
    marginal = np.zeros(n_window)
    status = "explained"
    if priced is None:
        status = "no prices: the pricing LP did not solve to optimality"
    elif TARGET_ROWS in m.row_blocks:
        rows = m.row_blocks[TARGET_ROWS].indices()
        marginal = np.maximum(priced.row_dual[rows], 0.0) / ctx.dt_h
    intervals = tuple(
        IntervalPrice(
            start=i.start,
            marginal_cost_cny_per_kwh=float(np.round(marginal[k], 6)),
            shortfall_kw=i.shortfall_kw,
        )
        for k, i in enumerate(result.intervals[ctx.window])
    )
    limits = _binding_limits(m, priced, col_owner, row_owner, ctx) if priced else []
    schedules = {s.key: s for s in result.schedules}
    merit = _merit_order(refs, ctx)
    net_cny = _net_costs(m, x, col_owner, built)
    explainer = _ResourceExplainer(m, ctx, problem, priced, col_owner, net_cny)
    resources = tuple(
        explainer.explain(g, ref, schedules[ref.key], merit.get(ref.key), limits)
        for g, ref in enumerate(refs)
    )
    short = np.array([i.shortfall_kw > 1e-3 for i in intervals], dtype=bool)
    shortfall = None
    if short.any():
        shortfall = ShortfallExplanation(
            max_shortfall_kw=max(i.shortfall_kw for i in intervals),
            extra_kw_cost_cny_per_kwh=round(explainer.target_price(short), 6),
            binding_constraints=_names(limits, refs),
        )
    return DispatchExplanation(
        event_id=problem.event.event_id,
        status=status,
        method=METHOD,
        marginal_cost_cny_per_kwh=round(explainer.target_price(np.ones(n_window, bool)), 6),
        intervals=intervals,
        resources=resources,
        shortfall=shortfall,
        binding_constraints=_names(limits, refs),
    )


def _price(m: LinearModel, x: FloatArray, settings: DispatchSettings) -> _Priced | None:
    """Solve the pricing LP: integers fixed at ``x``, committed steps free to shrink."""
    integer = m.integrality
    lower, upper = m.col_lower.copy(), m.col_upper.copy()
    fixed = np.round(x[integer])
    lower[integer] = upper[integer] = fixed
    for name in COMMITMENTS:
        block = m.var_blocks.get(name)
        if block is None:
            continue
        idx = block.indices().ravel()
        lower[idx] = 0.0
        upper[idx] = np.round(x[idx])
    h = to_highs(m, settings, integer=np.zeros(m.n_vars, dtype=bool), bounds=(lower, upper))
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        logger.warning("pricing LP: %s", h.modelStatusToString(h.getModelStatus()))
        return None
    solution = h.getSolution()
    return _Priced(
        h,
        lower,
        upper,
        float(h.getInfo().objective_function_value),
        np.array(solution.col_value, dtype=np.float64),
        np.array(solution.row_dual, dtype=np.float64),
        np.array(solution.col_dual, dtype=np.float64),
    )


def _owners(m: LinearModel, built: BuiltModel) -> tuple[IntArray, IntArray]:
    """The resource (index into the blocks' refs) of every column and row; -1 for none.

    Seeded by each kind's power variables and spread through that kind's own row
    families (power balance, SoC balance, step order...), so every builder's extra
    variables find their resource without the builder saying so.
    """
    col_owner = np.full(m.n_vars, -1, dtype=np.int64)
    row_owner = np.full(m.n_rows, -1, dtype=np.int64)
    first = 0
    kind_rows: list[IntArray] = []
    for kb in built.blocks:
        col_owner[kb.power_idx] = first + np.arange(kb.size)[:, None]
        first += kb.size
        kind_rows += [
            block.indices().ravel()
            for name, block in m.row_blocks.items()
            if name.startswith(f"{kb.kind}.")
        ]
    if not kind_rows:
        return col_owner, row_owner
    rows = np.concatenate(kind_rows)
    a = m.matrix[rows].tocsr()
    for _ in range(4):  # power -> balance rows -> step/charge/SoC -> their own rows
        by_row = _max_owner(a, col_owner)
        row_owner[rows] = np.maximum(row_owner[rows], by_row)
        by_col = _max_owner(a.T.tocsr(), row_owner[rows])
        spread = (col_owner < 0) & (by_col >= 0)
        if not spread.any():
            break
        col_owner[spread] = by_col[spread]
    row_owner[rows] = np.maximum(row_owner[rows], _max_owner(a, col_owner))
    return col_owner, row_owner


def _net_costs(m: LinearModel, x: FloatArray, col_owner: IntArray, built: BuiltModel) -> FloatArray:
    """What each resource's deviation from its baseline costs the dispatch [CNY].

    Its own columns' money terms (compensation, rotation, degradation, energy) at ``x``
    less its power's terms at the baseline; every other column of a kind costs nothing at
    the baseline (no pay, no step, no charge).
    """
    money = np.zeros(m.n_vars)
    for category, vec in m.cost_by_category.items():
        if category not in NOT_MONEY:
            money += vec
    n_refs = sum(kb.size for kb in built.blocks)
    owned = col_owner >= 0
    out = np.bincount(col_owner[owned], weights=money[owned] * x[owned], minlength=n_refs)
    first = 0
    for kb in built.blocks:
        at_base = (money[kb.power_idx] * kb.baseline_kw).sum(axis=1)
        out[first : first + kb.size] -= at_base
        first += kb.size
    return np.asarray(out, dtype=np.float64)


def _max_owner(a: sp.csr_matrix, owner: IntArray) -> IntArray:
    """Per row of ``a``: the largest owner among its nonzero columns, -1 if none."""
    tagged = sp.csr_matrix(
        (owner[a.indices] + 1.0, a.indices, a.indptr), shape=a.shape, dtype=np.float64
    )
    return np.asarray(tagged.max(axis=1).todense(), dtype=np.int64).ravel() - 1


@dataclass(frozen=True)
class _Limit:
    name: str
    owner: int
    shadow: float


def _binding_limits(
    m: LinearModel,
    priced: _Priced,
    col_owner: IntArray,
    row_owner: IntArray,
    ctx: ModelContext,
) -> list[_Limit]:
    """Bounds and rows with a nonzero shadow price, largest first.

    Left out: bookkeeping rows, equalities (definitions such as a SoC balance), columns
    the pricing fixed (decisions), lower bounds of zero (a sign, not a limit) and bounds
    before the event starts (degenerate prices of idle states).
    """
    out: list[_Limit] = []
    for name, block in m.var_blocks.items():
        idx = block.indices().ravel()
        free = priced.lower[idx] < priced.upper[idx]
        if len(block.shape) >= 2 and block.shape[-1] == ctx.n_t:
            t = np.arange(block.size) % ctx.n_t
            free &= t >= ctx.window.start
        dual = priced.col_dual[idx]
        at_upper = np.abs(priced.x[idx] - priced.upper[idx]) <= 1e-7
        is_sign = ~at_upper & (priced.lower[idx] == 0.0)
        for j in np.flatnonzero(free & ~is_sign & (np.abs(dual) > DUAL_TOL)):
            side = "upper" if at_upper[j] else "lower"
            out.append(_Limit(f"{name} {side} bound", int(col_owner[idx[j]]), abs(float(dual[j]))))
    for name, block in m.row_blocks.items():
        if any(name.startswith(b) or name.endswith(b) for b in BOOKKEEPING):
            continue
        idx = block.indices().ravel()
        dual = priced.row_dual[idx]
        definition = m.row_lower[idx] == m.row_upper[idx]
        for j in np.flatnonzero(~definition & (np.abs(dual) > DUAL_TOL)):
            out.append(_Limit(name, int(row_owner[idx[j]]), abs(float(dual[j]))))
    out.sort(key=lambda lim: -lim.shadow)
    return out


def _label(limit: _Limit, refs: list[ResourceRef]) -> str:
    if limit.owner < 0:
        return limit.name
    return f"{limit.name} ({refs[limit.owner].key})"


def _names(limits: Iterable[_Limit], refs: list[ResourceRef]) -> tuple[str, ...]:
    """Each binding limit once, ``<family> (<resource key>)``, largest shadow price first."""
    return tuple(dict.fromkeys(_label(limit, refs) for limit in limits))


def _row_bounds(
    h: highspy.Highs, rows: NDArray[np.int32], lower: FloatArray, upper: FloatArray
) -> None:
    """Set the bounds of some rows (highspy's stubs lack the call)."""
    h.changeRowsBounds(rows.size, rows, lower, upper)  # type: ignore[attr-defined]


def offer_price(ref: ResourceRef, ctx: ModelContext) -> float | None:
    """What a kWh of this resource's response costs before rotation [CNY/kWh].

    The asked price (a load's first step); a battery adds its degradation and the energy
    its discharge loses. None for what cannot be dispatched (PV).
    """
    res = ref.resource
    if isinstance(res, Pv):
        return None
    if isinstance(res, CurtailableLoad):
        return res.steps[0].price_cny_per_kwh
    if isinstance(res, Battery):
        loss = ctx.energy_price_cny_per_kwh * (1.0 / res.discharge_efficiency - 1.0)
        return res.price_cny_per_kwh + res.degradation_cny_per_kwh + loss
    price: float = getattr(res, "price_cny_per_kwh", 0.0)
    return price


def _merit_order(refs: list[ResourceRef], ctx: ModelContext) -> dict[str, int]:
    """1-based position by offer price plus rotation adder; ties by key."""
    priced = []
    for ref in refs:
        price = offer_price(ref, ctx)
        if price is not None:
            priced.append((price + ctx.rotation_adder(ref.enterprise.enterprise_id), ref.key))
    return {key: n for n, (_, key) in enumerate(sorted(priced), start=1)}


class _ResourceExplainer:
    """Classifies one resource at a time against the priced dispatch."""

    def __init__(
        self,
        m: LinearModel,
        ctx: ModelContext,
        problem: DispatchProblem,
        priced: _Priced | None,
        col_owner: IntArray,
        net_cny: FloatArray,
    ) -> None:
        self.m, self.ctx, self.problem, self.priced = m, ctx, problem, priced
        self.col_owner = col_owner
        self.net_cny = net_cny
        self.what_ifs = 0
        self.steps = self._commitment_columns()
        self._prices: dict[bytes, float] = {}

    def target_price(self, where: np.ndarray) -> float:
        """What one more kW of target in the window intervals ``where`` costs [CNY/kWh].

        The pricing LP re-solved with those target rows raised by 1 kW: the change of cost
        over the energy added. Per-interval duals are not unique where a step spans
        several intervals; this directional derivative is.
        """
        rows_block = self.m.row_blocks.get(TARGET_ROWS)
        if self.priced is None or rows_block is None or not where.any():
            return 0.0
        key = where.tobytes()
        if key not in self._prices:
            h, p = self.priced.highs, self.priced
            rows = rows_block.indices().ravel()[where].astype(np.int32)
            lower, upper = self.m.row_lower[rows], self.m.row_upper[rows]
            _row_bounds(h, rows, lower + 1.0, upper)
            h.run()
            price = 0.0
            if h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
                extra = float(h.getInfo().objective_function_value) - p.objective_cny
                price = max(extra, 0.0) / (rows.size * self.ctx.dt_h)
            _row_bounds(h, rows, lower, upper)
            self._prices[key] = price
        return self._prices[key]

    def _commitment_columns(self) -> tuple[IntArray, IntArray]:
        """All commitment columns and the first steps among them (no step before them)."""
        cols = [
            self.m.var_blocks[n].indices().ravel() for n in COMMITMENTS if n in self.m.var_blocks
        ]
        every = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
        later = np.zeros(self.m.n_vars, dtype=bool)
        order = self.m.row_blocks.get(STEP_ORDER)
        if order is not None:
            rows = self.m.matrix[order.start : order.start + order.size].tocoo()
            later[rows.col[rows.data > 0]] = True
        return every, every[~later[every]]

    def explain(
        self,
        g: int,
        ref: ResourceRef,
        schedule: ResourceSchedule,
        merit: int | None,
        limits: list[_Limit],
    ) -> ResourceExplanation:
        ctx = self.ctx
        window = ctx.window
        response = ctx.direction * (
            np.array(schedule.baseline_kw[window]) - np.array(schedule.power_kw[window])
        )
        acting = np.abs(response) > 1e-3
        # called for the target: commanded in the window (a battery commanded only to
        # stagger its recharge under the rebound cap afterwards was not called)
        called = any(v is not None for v in schedule.setpoint_kw[window])
        price = offer_price(ref, ctx)
        adder = ctx.rotation_adder(ref.enterprise.enterprise_id)
        allowed = self._allowed(ref)
        where = acting if called and acting.any() else allowed
        marginal = self.target_price(where if where.any() else np.ones_like(where))
        own = tuple(lim.name for lim in limits if lim.owner == g)
        energy_kwh = float(response.sum()) * ctx.dt_h
        net = self.net_cny[g] / energy_kwh if called and energy_kwh > 1e-6 else None
        reason, detail, extra = (
            self._called(g, price, adder, net, marginal)
            if called
            else self._left_out(g, ref, price, adder, marginal, allowed)
        )
        return ResourceExplanation(
            enterprise_id=ref.enterprise.enterprise_id,
            site_id=ref.site.site_id,
            resource_id=ref.resource.resource_id,
            kind=ref.resource.kind,
            feeder_id=ref.enterprise.feeder_id,
            called=called,
            reason=reason,
            detail=detail,
            merit_position=merit,
            price_cny_per_kwh=price,
            rotation_adder_cny_per_kwh=adder,
            marginal_cost_cny_per_kwh=round(marginal, 6),
            net_cost_cny_per_kwh=None if net is None else round(net, 6),
            mean_response_kw=round(float(response.mean()) if response.size else 0.0, 3),
            extra_cost_cny=None if extra is None else round(extra, 4),
            binding_limits=tuple(dict.fromkeys(own)),
        )

    def _allowed(self, ref: ResourceRef) -> np.ndarray:
        """Window intervals the resource may act in (availability, notice, the past)."""
        ctx = self.ctx
        ok = ctx.grid.in_daily_windows(ref.resource.availability) & ctx.free
        if isinstance(ref.resource, CurtailableLoad):
            ok[: ctx.notice_index(ref.resource.min_notice_min)] = False
        return np.asarray(ok[ctx.window], dtype=bool)

    def _called(
        self, g: int, price: float | None, adder: float, net: float | None, marginal: float
    ) -> tuple[Reason, str, float | None]:
        """Called: compared by its net cost per kWh of response where it has one."""
        effective = (price or 0.0) + adder
        parts = [f"rotation adds {adder:.4g}"] if adder else []
        cost = effective
        if net is not None and abs(net - effective) > PRICE_TOL:
            parts.append(f"net {net:.4g} CNY per kWh of its response")
            cost = net
        text = f" ({', '.join(parts)})" if parts else ""
        if cost < marginal - PRICE_TOL:
            return Reason.CHEAPER_THAN_MARGINAL, f"below the marginal cost{text}", None
        if cost <= marginal + PRICE_TOL:
            return Reason.SETS_MARGINAL_PRICE, f"the last kW of the target{text}", None
        why = (
            "cheaper whole steps did not fit the target"
            if (self.col_owner[self.steps[0]] == g).any()
            else "within the solver's gap"
        )
        return (
            Reason.CALLED_FOR_FIT,
            f"above the marginal cost{text}: {why}",
            None,
        )

    def _left_out(
        self,
        g: int,
        ref: ResourceRef,
        price: float | None,
        adder: float,
        marginal: float,
        allowed: np.ndarray,
    ) -> tuple[Reason, str, float | None]:
        ctx, res = self.ctx, ref.resource
        if price is None:
            return Reason.CANNOT_RESPOND, f"a {res.kind} is not dispatchable", None
        if isinstance(res, CurtailableLoad):
            if ctx.direction < 0:
                return Reason.CANNOT_RESPOND, "curtailment cannot fill a valley", None
            available = (
                ctx.grid.in_daily_windows(res.availability)[ctx.window] & ctx.free[ctx.window]
            )
            if not available.any():
                return Reason.NOT_AVAILABLE, "its availability misses the event window", None
            if not allowed.any():
                ready = ctx.grid.starts[min(ctx.notice_index(res.min_notice_min), ctx.n_t - 1)]
                return (
                    Reason.NOTICE_TOO_SHORT,
                    f"needs {res.min_notice_min} min notice: issued "
                    f"{ctx.issued_at:%m-%d %H:%M}, it could act at {ready:%H:%M} at the "
                    "earliest, after its last available interval of the event",
                    None,
                )
            done = self.problem.events_today.get(ref.key, 0)
            if done >= res.max_events_per_day:
                return (
                    Reason.MAX_EVENTS_REACHED,
                    f"{done} of its {res.max_events_per_day} events a day taken already",
                    None,
                )
            if res.max_duration_min < ctx.grid.interval_min:
                return Reason.CANNOT_RESPOND, "its maximum duration is below one interval", None
        elif not allowed.any():
            return Reason.NOT_AVAILABLE, "its availability misses the event window", None
        effective = price + adder
        if effective > marginal + PRICE_TOL:
            if price <= marginal + PRICE_TOL:
                return (
                    Reason.ROTATION_TIPPED,
                    f"asks {price:.4g}, within the marginal cost; its rotation adder "
                    f"{adder:.4g} for past calls tips it above",
                    self._what_if(g),
                )
            return (
                Reason.DEARER_THAN_MARGINAL,
                "above the marginal cost",
                self._what_if(g),
            )
        return self._cheap_but_left_out(g, effective, marginal)

    def _cheap_but_left_out(
        self, g: int, effective: float, marginal: float
    ) -> tuple[Reason, str, float | None]:
        """Cheap enough, yet not called: a what-if says whether a limit or the step size."""
        text = "within the marginal cost"
        if self.priced is None or not (self.col_owner[self.steps[1]] == g).any():
            return Reason.NO_HEADROOM, f"{text}, but its limits leave it no response", None
        if self.what_ifs >= MAX_WHAT_IFS:
            return (
                Reason.STEP_TOO_LARGE,
                f"{text}; not tested (what-if budget of {MAX_WHAT_IFS} spent): most likely "
                "its whole step over-delivers",
                None,
            )
        outcome = self._force_on(g)
        if outcome is None:
            return Reason.NO_HEADROOM, f"{text}, but no step of it fits its limits", None
        extra, relaxed = outcome
        if relaxed == FEEDER_ROWS:
            return (
                Reason.FEEDER_LIMIT,
                f"{text}, but its step (with its rebound) would break its feeder's limit",
                None,
            )
        if relaxed is not None:
            return Reason.REBOUND_CAP, f"{text}, but its step would break the rebound cap", None
        return (
            Reason.STEP_TOO_LARGE,
            f"{text}, but its whole step would add {extra:.4g} CNY (over-delivery)",
            extra,
        )

    def _what_if(self, g: int) -> float | None:
        """The extra cost of forcing the resource's cheapest step on [CNY], if it has steps."""
        if self.priced is None or not (self.col_owner[self.steps[1]] == g).any():
            return None
        outcome = self._force_on(g)
        return None if outcome is None or outcome[1] is not None else outcome[0]

    def _force_on(self, g: int) -> tuple[float, str | None] | None:
        """Force a first step of resource ``g`` on in the pricing LP.

        Returns the extra cost [CNY] and None when feasible as is, or the family that had
        to be relaxed (feeder limit, rebound cap) to make it feasible; None when nothing
        makes it feasible or the budget of what-ifs is spent.
        """
        assert self.priced is not None
        if self.what_ifs >= MAX_WHAT_IFS:
            return None
        self.what_ifs += 1
        p, h = self.priced, self.priced.highs
        every, firsts = self.steps
        mine = every[self.col_owner[every] == g].astype(np.int32)
        first = firsts[self.col_owner[firsts] == g].astype(np.int32)
        h.changeColsBounds(mine.size, mine, np.zeros(mine.size), np.ones(mine.size))
        h.addRow(1.0, highspy.kHighsInf, first.size, first, np.ones(first.size))
        new_row = np.array([h.getNumRow() - 1], dtype=np.int32)
        try:
            for relaxed in (None, FEEDER_ROWS, REBOUND_PREFIX):
                rows = self._relax(h, relaxed)
                h.run()
                ok = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
                extra = float(h.getInfo().objective_function_value) - p.objective_cny
                self._restore(h, rows)
                if ok:
                    return max(extra, 0.0), relaxed
            return None
        finally:
            h.deleteRows(1, new_row)
            h.changeColsBounds(mine.size, mine, p.lower[mine], p.upper[mine])

    def _relax(self, h: highspy.Highs, prefix: str | None) -> NDArray[np.int32]:
        if prefix is None:
            return np.zeros(0, dtype=np.int32)
        rows = [
            b.indices().ravel() for name, b in self.m.row_blocks.items() if name.startswith(prefix)
        ]
        idx = np.concatenate(rows).astype(np.int32) if rows else np.zeros(0, dtype=np.int32)
        if idx.size:
            inf = np.full(idx.size, highspy.kHighsInf)
            _row_bounds(h, idx, -inf, inf)
        return idx

    def _restore(self, h: highspy.Highs, rows: NDArray[np.int32]) -> None:
        if rows.size:
            _row_bounds(h, rows, self.m.row_lower[rows], self.m.row_upper[rows])
