"""A certified lower bound on the monolithic optimum, assembled from the groups.

The groups are coupled by the event target, the rebound cap (both soft) and, where a
feeder is split between groups, its limit. Pricing the target rows (response >= planned)
and the rebound rows (-load >= -limit) at ``price >= 0`` [CNY per kW and interval] and
dropping split feeders' limits gives the Lagrangian

    L(price) = sum_g min_x (cost_g(x) - price . activity_g(x)) + price . rhs

which, by weak duality, is at most the monolithic optimum for every such price, as long
as a shortfall or an excess never pays at that price (their priced terms are at least
zero): each price at most its row's penalty per kW and interval, plus a share of the
penalty the worst interval pays once more (:class:`PriceDomain`). Each group's minimum
is bounded from below by its LP relaxation, so the bound needs only LPs, one per group
per price, each independent: they run on the same executor as the group solves.

Each round's group minima are also plans (columns) for the coordinator's master
(:mod:`vpp.optimizer.coordinate`): :func:`price_rounds` starts from the master's duals
over the flexibility pass's plans and returns every column it found, so the plan the
groups are asked for is the master's best combination of them.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from vpp.optimizer.coordinate import Columns, solve_master
from vpp.optimizer.emit_highs import new_highs, to_highs
from vpp.optimizer.linear import FloatArray, LinearModel
from vpp.optimizer.model import build_model
from vpp.optimizer.problem import DispatchProblem, DispatchSettings

logger = logging.getLogger(__name__)

#: Price rounds stop once the master's value is this close to the bound (half the
#: issue's 0.5 %: the groups' integer steps take some of the rest).
ROUND_GAP = 0.0025


#: Groups' priced LPs a worker keeps built between rounds (by their content's key).
PRICED_CACHE_SIZE = 64

_PRICED: OrderedDict[str, _PricedLp] = OrderedDict()


@dataclass(frozen=True)
class Basis:
    """A simplex basis as HiGHS' status codes, one per column and row: each round starts a
    group's LP from its previous round's (the prices move a little), whichever worker
    solves it, so the answers do not depend on the executor."""

    col_status: NDArray[np.int8]
    row_status: NDArray[np.int8]

    @classmethod
    def of(cls, h: highspy.Highs) -> Basis:
        basis = h.getBasis()
        return cls(
            np.array([int(v) for v in basis.col_status], dtype=np.int8),
            np.array([int(v) for v in basis.row_status], dtype=np.int8),
        )

    def to_highs(self) -> highspy.HighsBasis:
        basis = highspy.HighsBasis()
        basis.col_status = [highspy.HighsBasisStatus(int(v)) for v in self.col_status]
        basis.row_status = [highspy.HighsBasisStatus(int(v)) for v in self.row_status]
        basis.valid = True
        return basis


@dataclass(frozen=True)
class PricedGroup:
    """One group's priced LP: its part of the bound [CNY] and its coupling activity there."""

    value_cny: float
    """``min (cost - price . activity)`` over the group's LP relaxation [CNY]; -inf when
    the LP did not solve to optimality (no bound then)."""
    activity_kw: FloatArray
    """At that minimum: the group's response in each window interval, then minus its load
    in each capped interval [kW] (a subgradient of its piece)."""
    seconds: float = 0.0
    basis: Basis | None = None


@dataclass(frozen=True)
class _PricedLp:
    """A group's LP with its coupling rows free and its slacks fixed at zero."""

    model: LinearModel
    coupling: sp.csr_matrix
    """activity = coupling @ x + constant [kW]."""
    constant: FloatArray
    col_bounds: tuple[FloatArray, FloatArray]
    row_bounds: tuple[FloatArray, FloatArray]


def priced_group(
    problem: DispatchProblem,
    settings: DispatchSettings,
    price: FloatArray,
    relax_feeders: frozenset[str] = frozenset(),
    key: str | None = None,
    basis: Basis | None = None,
) -> PricedGroup:
    """The group's LP minimum of ``cost - price . activity``, coupling rows dropped.

    ``problem`` is the group's sub-problem with any positive target override (only the
    rows' shape is used; their bounds are dropped) and the portfolio's rebound limit as
    its own (so its rebound rows are the portfolio's capped intervals). ``price`` holds
    one price per target row (response >= planned) and then one per rebound row
    (load <= limit, as -load >= -limit). ``relax_feeders`` are feeders split with other
    groups, whose limits couple groups: dropped too (a relaxation, the bound stays valid).
    ``key``, a hash of all three, keeps the built LP in this process for the next round;
    ``basis`` starts the simplex (the previous round's).
    """
    started = time.perf_counter()
    lp = _PRICED.get(key) if key is not None else None
    if lp is None:
        lp = _priced_lp(problem, settings, relax_feeders)
        if key is not None:
            _PRICED[key] = lp
            while len(_PRICED) > PRICED_CACHE_SIZE:
                _PRICED.popitem(last=False)
    else:
        _PRICED.move_to_end(key)  # type: ignore[arg-type]
    m = lp.model
    price = np.asarray(price, dtype=np.float64)
    if price.size != lp.constant.size:
        raise ValueError(f"priced_group: need {lp.constant.size} prices, got {price.size}")
    h = to_highs(
        m,
        settings,
        integer=np.zeros(m.n_vars, dtype=bool),
        bounds=lp.col_bounds,
        lazy=True,  # lazy cuts only tighten: the LP without them is still a relaxation
    )
    idx = np.arange(m.n_vars, dtype=np.int32)
    h.changeColsCost(m.n_vars, idx, m.cost - lp.coupling.T @ price)
    all_rows = np.arange(m.n_rows, dtype=np.int32)
    h.changeRowsBounds(m.n_rows, all_rows, *lp.row_bounds)  # type: ignore[attr-defined]
    if basis is not None:
        h.setBasis(basis.to_highs())
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return PricedGroup(-np.inf, np.zeros(price.size), time.perf_counter() - started)
    x = np.asarray(h.getSolution().col_value, dtype=np.float64)
    value = float(h.getInfo().objective_function_value) - float(price @ lp.constant)
    activity = np.asarray(lp.coupling @ x, dtype=np.float64) + lp.constant
    return PricedGroup(value, activity, time.perf_counter() - started, Basis.of(h))


def _priced_lp(
    problem: DispatchProblem, settings: DispatchSettings, relax_feeders: frozenset[str]
) -> _PricedLp:
    """Build the group's model and free what the Lagrangian prices (:func:`priced_group`)."""
    built = build_model(problem, settings, "min_cost")
    m = built.model
    target = m.row_blocks.get("system.target")
    if target is None:
        raise ValueError("priced_group: the sub-problem needs a positive target override")
    rows = np.arange(target.start, target.start + target.size)
    sign = np.ones(rows.size)
    # The target rows' activity is response - constant: the constant [kW], once per row.
    planned = np.asarray(problem.target_override_kw, dtype=np.float64) * settings.margin_factor
    constant = planned - m.row_lower[rows]
    row_lower, row_upper = m.row_lower.copy(), m.row_upper.copy()
    col_lower, col_upper = m.col_lower.copy(), m.col_upper.copy()
    slack_names = ["system.target_shortfall_kw", "system.max_shortfall_kw"]
    if "system.rebound_cap" in m.row_blocks:
        cap = m.row_blocks["system.rebound_cap"]
        cap_rows = np.arange(cap.start, cap.start + cap.size)
        rows = np.concatenate([rows, cap_rows])
        sign = np.concatenate([sign, -np.ones(cap_rows.size)])
        constant = np.concatenate([constant, np.zeros(cap_rows.size)])
        slack_names += ["system.rebound_excess_kw", "system.max_rebound_excess_kw"]
    coupling = sp.csr_matrix(sp.diags(sign) @ m.matrix.tocsr()[rows])
    row_lower[rows], row_upper[rows] = -np.inf, np.inf
    if relax_feeders and "system.feeder_limit" in m.row_blocks:
        block = m.row_blocks["system.feeder_limit"]
        on = {ref.enterprise.feeder_id for kb in built.blocks for ref in kb.refs}
        feeders = [f.feeder_id for f in problem.district.feeders if f.feeder_id in on]
        n_t = built.context.n_t
        for i, feeder_id in enumerate(feeders):
            if feeder_id in relax_feeders:
                row_upper[block.start + i * n_t : block.start + (i + 1) * n_t] = np.inf
    for name in slack_names:  # priced in the Lagrangian instead (never below zero there)
        col_upper[m.var_blocks[name].indices().ravel()] = 0.0
    return _PricedLp(m, coupling, constant, (col_lower, col_upper), (row_lower, row_upper))


def lagrangian_bound(
    parts: list[PricedGroup], price: FloatArray, rhs_kw: FloatArray
) -> tuple[float, FloatArray]:
    """``L(price)`` [CNY] and its subgradient ``rhs - sum_g activity_g`` [kW]."""
    activity = np.sum([p.activity_kw for p in parts], axis=0)
    value = sum(p.value_cny for p in parts) + float(np.asarray(price) @ rhs_kw)
    return value, rhs_kw - activity


@dataclass(frozen=True)
class Rounds:
    """What the price rounds found: the groups' columns, the best bound and its rounds."""

    columns: tuple[Columns, ...]
    lower_bound_cny: float | None
    """Best ``L(price)`` over the rounds [CNY]; None when no round ran or a group's LP
    failed (no certified bound)."""
    rounds: int


def price_rounds(
    pool: Executor,
    subs: Sequence[DispatchProblem],
    settings: DispatchSettings,
    relax: Sequence[frozenset[str]],
    columns: Sequence[Columns],
    planned_kw: FloatArray,
    limit_kw: FloatArray,
    dt_h: float,
    rounds: int,
    first_price: FloatArray | None = None,
    keys: Sequence[str | None] | None = None,
) -> Rounds:
    """At most ``rounds`` rounds of priced group LPs on ``pool``, the bound and the columns.

    ``planned_kw`` is the planned target per window interval, ``limit_kw`` the
    portfolio's limit per capped interval, ``dt_h`` the interval [h]; prices stay where
    the bound is valid (:class:`PriceDomain`). The first price is ``first_price`` (target
    rows, then cap rows), else the master's duals over ``columns``; the second the
    master's duals once it has the first round's plans; the better of the two is the
    centre of a box trust-region cutting-plane master (Kelley's LP with every column as a cut, one
    per group and plan). ``keys`` (content hashes of ``subs``) keep each group's LP built
    in the worker that solved it; each round starts from the group's previous basis.
    Stops once the master's value is within ``ROUND_GAP`` of the bound, or the cut model
    promises nothing better.
    """
    n_w = planned_kw.size
    domain = PriceDomain(
        settings.shortfall_penalty_cny_per_kwh * dt_h,
        settings.rebound_penalty_cny_per_kwh * dt_h,
        n_w,
        limit_kw.size,
    )
    rhs_kw = np.concatenate([planned_kw, -limit_kw])
    cols = list(columns)
    master = solve_master(cols, planned_kw, limit_kw, domain.shortfall_cny, domain.excess_cny)
    if master is None or rounds <= 0:
        return Rounds(tuple(cols), None, 0)
    if first_price is None:
        first_price = np.concatenate([master.target_price, master.rebound_price])
    price = domain.project(first_price)
    best = -np.inf
    centre = price
    radius = 0.0
    predicted = 0.0
    done = 0
    bases: list[Basis | None] = [None] * len(subs)
    for _ in range(rounds):
        done += 1
        parts = list(
            pool.map(
                priced_group,
                subs,
                [settings] * len(subs),
                [price] * len(subs),
                relax,
                keys or [None] * len(subs),
                bases,
            )
        )
        bases = [p.basis for p in parts]
        value, _ = lagrangian_bound(parts, price, rhs_kw)
        if not np.isfinite(value):
            return Rounds(tuple(cols), None, done)
        logger.debug("bound round %d: %.2f CNY", done, value)
        if done == 1:
            best, centre = value, price
            radius = FIRST_RADIUS * max(float(centre.max(initial=0.0)), 1e-3)
        elif value - best >= 0.1 * predicted:  # a serious step
            best, centre, radius = value, price, radius * GROW
        else:  # a null step: its cuts sharpen the model; look closer to the centre
            radius *= SHRINK
        for g, part in enumerate(parts):  # the group's plan at this price: cost, activity
            cost = part.value_cny + float(price @ part.activity_kw)
            cols[g] = cols[g].with_plan(cost, part.activity_kw[:n_w], -part.activity_kw[n_w:])
        master = solve_master(cols, planned_kw, limit_kw, domain.shortfall_cny, domain.excess_cny)
        if master is None or master.value_cny - best <= ROUND_GAP * max(
            abs(master.value_cny), 1e-9
        ):
            break
        price, model_value = _next_price(cols, rhs_kw, centre, radius, domain)
        predicted = model_value - best
        if predicted <= 1e-9 * max(abs(best), 1.0):  # the model proves no better price near
            break
    return Rounds(tuple(cols), best, done)


#: The first trust region's half-width, relative to the first price's largest [-].
FIRST_RADIUS = 1.0

#: A null step shrinks the trust region by this [-].
SHRINK = 0.5

#: A serious step (one that gains a tenth of what the cut model promised) widens it by
#: this [-]: the prices often have far to go (where the cap cannot hold, the rebound
#: prices end at the penalty).
GROW = 3.0


@dataclass(frozen=True)
class PriceDomain:
    """Where prices keep the Lagrangian a bound: ``0 <= p``, and for the target rows and
    the cap rows each, ``sum_t max(p_t - pen, 0) <= pen`` [CNY per kW and interval].

    Each slack costs ``pen`` per kW and interval and ``pen`` once more at its largest,
    so ``pen (sum e + max e) >= p . e`` for every slack ``e >= 0`` exactly when ``p``
    lies here (``p = pen + pen q``, ``q >= 0``, ``sum q <= 1``): the priced slacks are
    never below zero, and the group LPs can leave them out.
    """

    shortfall_cny: float
    excess_cny: float
    n_target: int
    n_cap: int

    @property
    def penalty(self) -> FloatArray:
        return np.concatenate(
            [np.full(self.n_target, self.shortfall_cny), np.full(self.n_cap, self.excess_cny)]
        )

    def project(self, price: FloatArray) -> FloatArray:
        """``price`` moved into the domain: clipped at zero and twice the penalty, each
        block's part above its penalty scaled down to sum to at most the penalty."""
        out = np.clip(np.asarray(price, dtype=np.float64), 0.0, 2 * self.penalty)
        blocks = (
            (slice(0, self.n_target), self.shortfall_cny),
            (
                slice(self.n_target, None),
                self.excess_cny,
            ),
        )
        for block, pen in blocks:
            above = np.maximum(out[block] - pen, 0.0)
            if above.sum() > pen:
                out[block] = np.minimum(out[block], pen) + above * (pen / above.sum())
        return out


def _next_price(
    columns: Sequence[Columns],
    rhs: FloatArray,
    centre: FloatArray,
    radius: float,
    domain: PriceDomain,
) -> tuple[FloatArray, float]:
    """Kelley's step in a box trust region: the price maximising the groups' cut models
    within ``radius`` of the best price so far, in the domain, and the models' value
    there [CNY].

    Each group's piece of the Lagrangian is concave in the price and lies below every
    cut ``z_g <= cost_k - a_k . y`` its plans give (``a_k`` the plan's response, then
    minus its load); the master LP maximises ``sum_g z_g + rhs . y`` over those cuts.
    """
    n, n_g = rhs.size, len(columns)
    pen = domain.penalty
    h = new_highs()
    h.setOptionValue("threads", 1)
    lower = np.maximum(centre - radius, 0.0)
    upper = np.minimum(centre + radius, 2 * pen)
    for t in range(n):
        h.addVar(float(lower[t]), float(upper[t]))
    for _ in range(n_g):
        h.addVar(-highspy.kHighsInf, highspy.kHighsInf)
    for t in range(n):  # u_t >= y_t - pen_t, u_t >= 0
        h.addVar(0.0, highspy.kHighsInf)
        pair = np.array([t, n + n_g + t], dtype=np.int32)
        h.addRow(-highspy.kHighsInf, float(pen[t]), 2, pair, np.array([1.0, -1.0]))
    for block, cap in (
        (np.arange(domain.n_target), domain.shortfall_cny),
        (np.arange(domain.n_target, n), domain.excess_cny),
    ):
        if block.size:  # sum_t u_t <= pen over the block
            u = (n + n_g + block).astype(np.int32)
            h.addRow(-highspy.kHighsInf, float(cap), u.size, u, np.ones(u.size))
    cost = -np.concatenate([rhs, np.ones(n_g)])
    h.changeColsCost(n + n_g, np.arange(n + n_g, dtype=np.int32), cost)
    idx = np.arange(n + 1, dtype=np.int32)
    for g, c in enumerate(columns):
        idx[n] = n + g
        for k in range(c.cost_cny.size):
            activity = np.concatenate([c.response_kw[k], -c.load_kw[k], [1.0]])
            h.addRow(-highspy.kHighsInf, float(c.cost_cny[k]), idx.size, idx, activity)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return centre, -np.inf
    return (
        np.asarray(h.getSolution().col_value[:n], dtype=np.float64),
        -float(h.getInfo().objective_function_value),
    )
