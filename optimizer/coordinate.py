"""The coordinator's master: which mix of each group's plans meets the target under the cap.

Every group offers plans of its LP relaxation (columns): a cost [CNY], its response in
each window interval and its load in each capped interval [kW]. The flexibility pass
offers one per level of its cost curve; each round of the Lagrangian bound one more, the
group's best plan at that round's prices. The master (Dantzig-Wolfe's restricted master)
picks a convex combination of each group's columns:

    min  sum_g sum_k cost_gk w_gk + penalties (shortfall, rebound excess, each also at worst)
    s.t. sum_g sum_k response_gk w_gk + shortfall       >= planned   (each window interval)
         sum_g sum_k load_gk w_gk     - rebound_excess  <= limit     (each capped interval)
         sum_k w_gk = 1, w >= 0.

A convex combination of a group's LP plans is an LP plan of that group, so each group can
deliver its combination's response with its combination's load. :func:`resplit` turns the
combinations into each group's target and room under the cap, keeping the district's
totals; the master's duals are prices for the target and the cap, the bound's first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import highspy
import numpy as np

from vpp.optimizer.emit_highs import new_highs
from vpp.optimizer.linear import FloatArray


@dataclass(frozen=True)
class Columns:
    """Plans of one group's LP relaxation, one row each."""

    cost_cny: FloatArray
    """Each plan's cost [CNY], shape (k,)."""
    response_kw: FloatArray
    """Its response in each window interval [kW], shape (k, window)."""
    load_kw: FloatArray
    """Its load in each capped interval [kW], shape (k, capped)."""

    def with_plan(self, cost_cny: float, response_kw: FloatArray, load_kw: FloatArray) -> Columns:
        """These columns and one more plan."""
        return Columns(
            np.append(self.cost_cny, cost_cny),
            np.vstack([self.response_kw, response_kw]),
            np.vstack([self.load_kw, load_kw]),
        )


@dataclass(frozen=True)
class Master:
    """The master's answer: each group's weights, its value [CNY] and its prices."""

    weights: tuple[FloatArray, ...]
    value_cny: float
    target_price: FloatArray
    """Dual of each target row, >= 0 [CNY per kW and interval]."""
    rebound_price: FloatArray
    """Dual of each cap row, >= 0 [CNY per kW and interval]."""

    def response_kw(self, columns: Sequence[Columns]) -> list[FloatArray]:
        """Each group's combined response per window interval [kW]."""
        return [w @ c.response_kw for w, c in zip(self.weights, columns, strict=True)]

    def load_kw(self, columns: Sequence[Columns]) -> list[FloatArray]:
        """Each group's combined load per capped interval [kW]."""
        return [w @ c.load_kw for w, c in zip(self.weights, columns, strict=True)]


def solve_master(
    columns: Sequence[Columns],
    planned_kw: FloatArray,
    limit_kw: FloatArray,
    shortfall_cny_per_kw: float,
    excess_cny_per_kw: float,
) -> Master | None:
    """The least-cost combination of the groups' columns (module docstring); None if the
    LP did not solve. Penalties are per kW and interval [CNY/kW], as the model prices its
    slacks (per interval and once more at the worst)."""
    n_w, n_c = planned_kw.size, limit_kw.size
    n_g = len(columns)
    for c in columns:
        if c.response_kw.shape != (c.cost_cny.size, n_w) or c.load_kw.shape != (
            c.cost_cny.size,
            n_c,
        ):
            raise ValueError(f"solve_master: columns need {n_w} responses and {n_c} loads each")
    # rows: target (n_w), cap (n_c), worst shortfall (n_w), worst excess (n_c), convexity
    cap0, worst_s0, worst_e0, conv0 = n_w, n_w + n_c, 2 * n_w + n_c, 2 * n_w + 2 * n_c
    n_rows = conv0 + n_g
    lower = np.concatenate([planned_kw, np.full(n_c, -np.inf), np.zeros(n_w + n_c), np.ones(n_g)])
    upper = np.concatenate(
        [np.full(n_w, np.inf), limit_kw, np.full(n_w + n_c, np.inf), np.ones(n_g)]
    )
    costs: list[float] = []
    starts: list[int] = []
    index: list[np.ndarray] = []
    value: list[np.ndarray] = []
    nnz = 0

    def add(cost: float, rows: np.ndarray, coefficients: np.ndarray) -> None:
        nonlocal nnz
        costs.append(cost)
        starts.append(nnz)
        index.append(rows)
        value.append(coefficients)
        nnz += rows.size

    target_rows, cap_rows = np.arange(n_w), cap0 + np.arange(n_c)
    for g, c in enumerate(columns):
        rows = np.concatenate([target_rows, cap_rows, [conv0 + g]])
        for k in range(c.cost_cny.size):
            add(float(c.cost_cny[k]), rows, np.concatenate([c.response_kw[k], c.load_kw[k], [1.0]]))
    for t in range(n_w):  # shortfall: counts towards its target row, below the worst
        add(shortfall_cny_per_kw, np.array([t, worst_s0 + t]), np.array([1.0, -1.0]))
    add(shortfall_cny_per_kw, worst_s0 + np.arange(n_w), np.ones(n_w))
    for t in range(n_c):  # excess: relieves its cap row, below the worst
        add(excess_cny_per_kw, np.array([cap0 + t, worst_e0 + t]), np.array([-1.0, -1.0]))
    add(excess_cny_per_kw, worst_e0 + np.arange(n_c), np.ones(n_c))
    h = new_highs()
    h.setOptionValue("threads", 1)
    no_entries = np.zeros(0, dtype=np.int32)
    h.addRows(n_rows, lower, upper, 0, np.zeros(n_rows, np.int32), no_entries, np.zeros(0))
    n = len(costs)
    h.addCols(
        n,
        np.array(costs),
        np.zeros(n),
        np.full(n, highspy.kHighsInf),
        nnz,
        np.array(starts, dtype=np.int32),
        np.concatenate(index).astype(np.int32),
        np.concatenate(value),
    )
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    x = np.asarray(h.getSolution().col_value, dtype=np.float64)
    dual = np.asarray(h.getSolution().row_dual, dtype=np.float64)
    weights, at = [], 0
    for c in columns:
        weights.append(np.maximum(x[at : at + c.cost_cny.size], 0.0))
        at += c.cost_cny.size
    return Master(
        tuple(w / max(w.sum(), 1e-12) for w in weights),
        float(h.getInfo().objective_function_value),
        np.maximum(dual[:n_w], 0.0),
        np.maximum(-dual[cap0 : cap0 + n_c], 0.0),
    )


def resplit(
    response_kw: Sequence[FloatArray],
    load_kw: Sequence[FloatArray],
    planned_kw: FloatArray,
    limit_kw: FloatArray,
    baseline_kw: Sequence[FloatArray],
    sizes: Sequence[int],
) -> tuple[list[FloatArray], list[FloatArray]]:
    """Each group's planned response [kW per window interval] and room under the cap [kW
    per capped interval] from its combined plan, summing to ``planned_kw`` and
    ``limit_kw`` exactly.

    Response: each group's combination scaled by ``planned / total`` per interval (where
    the groups' total is zero, split by their response over the window, else their size):
    where the combinations meet the target, no group is asked more than its combination.
    Room: each group its baseline and its need above it, ``max(load, baseline) - baseline``;
    room left over goes to the groups in proportion to that need (else their size), room
    short is taken from them in that proportion (a group never below its baseline while
    the limit leaves the baselines room, which the portfolio's limit always does).
    """
    size = np.asarray(sizes, dtype=np.float64)
    size_w = size / size.sum()
    response = np.asarray(response_kw, dtype=np.float64).reshape(len(sizes), planned_kw.size)
    response = np.maximum(response, 0.0)  # a group is never asked less than its baseline
    total = response.sum(axis=0)
    overall = response.sum(axis=1)
    fallback = overall / overall.sum() if overall.sum() > 0 else size_w
    weight = np.where(
        total > 1e-9, response / np.where(total > 1e-9, total, 1.0), fallback[:, None]
    )
    shares = [weight[g] * planned_kw for g in range(len(sizes))]

    base = np.asarray(baseline_kw, dtype=np.float64).reshape(len(sizes), limit_kw.size)
    load = np.asarray(load_kw, dtype=np.float64).reshape(base.shape)
    need = np.maximum(load, base) - base
    spare = limit_kw - base.sum(axis=0)  # room above the baselines, per interval
    n_total = need.sum(axis=0)
    need_w = np.where(
        n_total > 1e-9, need / np.where(n_total > 1e-9, n_total, 1.0), size_w[:, None]
    )
    left = np.maximum(spare - n_total, 0.0)
    short = np.minimum(spare, n_total)  # <= the need: what of it the room covers
    room = base + np.where(spare >= 0, need_w * short + need_w * left, size_w[:, None] * spare)
    return shares, [room[g] for g in range(len(sizes))]


def _shares_of(parts: FloatArray, total: FloatArray, fallback: FloatArray) -> FloatArray:
    """Each row's share of the column totals [-]; ``fallback`` where a total is zero."""
    some = total > 1e-9
    return np.where(some, parts / np.where(some, total, 1.0), fallback[:, None])
