"""A certified lower bound on the monolithic optimum, assembled from the groups.

The groups are coupled by the event target, the rebound cap (both soft) and, where a
feeder is split between groups, its limit. Pricing the target rows (response >= planned)
and the rebound rows (-load >= -limit) at ``price >= 0`` [CNY per kW and interval] and
dropping split feeders' limits gives the Lagrangian

    L(price) = sum_g min_x (cost_g(x) - price . activity_g(x)) + price . rhs

which, by weak duality, is at most the monolithic optimum for every such price, as long
as each price stays at or below its row's penalty per kW and interval (then a shortfall
or an excess never pays, and their priced terms are at least zero). Each group's minimum
is bounded from below by its LP relaxation, so the bound needs only LPs, one per group
per price, each independent: they run on the same executor as the group solves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp

from vpp.optimizer.emit_highs import to_highs
from vpp.optimizer.linear import FloatArray
from vpp.optimizer.model import build_model
from vpp.optimizer.problem import DispatchProblem, DispatchSettings


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


def priced_group(
    problem: DispatchProblem,
    settings: DispatchSettings,
    price: FloatArray,
    relax_feeders: frozenset[str] = frozenset(),
) -> PricedGroup:
    """The group's LP minimum of ``cost - price . activity``, coupling rows dropped.

    ``problem`` is the group's sub-problem with any positive target override (only the
    rows' shape is used; their bounds are dropped) and the portfolio's rebound limit as
    its own (so its rebound rows are the portfolio's capped intervals). ``price`` holds
    one price per target row (response >= planned) and then one per rebound row
    (load <= limit, as -load >= -limit). ``relax_feeders`` are feeders split with other
    groups, whose limits couple groups: dropped too (a relaxation, the bound stays valid).
    """
    started = time.perf_counter()
    built = build_model(problem, settings, "min_cost")
    m = built.model
    price = np.asarray(price, dtype=np.float64)
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
    if price.size != rows.size:
        raise ValueError(f"priced_group: need {rows.size} prices, got {price.size}")
    matrix = m.matrix.tocsr()
    coupling = sp.diags(sign) @ matrix[rows]  # activity = coupling @ x + constant
    cost = m.cost - coupling.T @ price
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
    h = to_highs(
        m,
        settings,
        integer=np.zeros(m.n_vars, dtype=bool),
        bounds=(col_lower, col_upper),
        lazy=True,  # lazy cuts only tighten: the LP without them is still a relaxation
    )
    idx = np.arange(m.n_vars, dtype=np.int32)
    h.changeColsCost(m.n_vars, idx, cost)
    all_rows = np.arange(m.n_rows, dtype=np.int32)
    h.changeRowsBounds(m.n_rows, all_rows, row_lower, row_upper)  # type: ignore[attr-defined]
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return PricedGroup(-np.inf, np.zeros(rows.size), time.perf_counter() - started)
    x = np.asarray(h.getSolution().col_value, dtype=np.float64)
    value = float(h.getInfo().objective_function_value) - float(price @ constant)
    activity = np.asarray(coupling @ x, dtype=np.float64) + constant
    return PricedGroup(value, activity, time.perf_counter() - started)


def lagrangian_bound(
    parts: list[PricedGroup], price: FloatArray, rhs_kw: FloatArray
) -> tuple[float, FloatArray]:
    """``L(price)`` [CNY] and its subgradient ``rhs - sum_g activity_g`` [kW]."""
    activity = np.sum([p.activity_kw for p in parts], axis=0)
    value = sum(p.value_cny for p in parts) + float(np.asarray(price) @ rhs_kw)
    return value, rhs_kw - activity
