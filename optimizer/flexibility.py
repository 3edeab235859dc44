"""A group's aggregated flexibility: how much response it can give and what it costs.

Solved on the LP relaxation of the group's own dispatch model, with the event target
scaled by a free level ``theta``: the target row becomes ``response[t] >= theta * P[t]``
(``P`` the normalised target profile, so ``theta`` is in kW of the profile's peak). One
HiGHS instance answers both questions with warm-started re-solves:

- capability: ``theta`` maximised with the shortfall fixed at zero;
- cost curve: the least cost and its marginal cost at ``K + 1`` levels from zero to the
  capability, denser towards the capability. The LP's optimal value is convex and
  piecewise linear in ``theta``, so the tangents at those levels give a convex
  piecewise-linear curve a coordinator can split a target with by merit order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import highspy
import numpy as np

from vpp.optimizer.emit_highs import to_highs
from vpp.optimizer.linear import FloatArray
from vpp.optimizer.model import build_model
from vpp.optimizer.problem import DispatchProblem, DispatchSettings
from vpp.optimizer.system import CAPABILITY_REWARD_CNY_PER_KW

#: Points of the cost curve after zero.
CURVE_POINTS = 12


@dataclass(frozen=True)
class GroupFlexibility:
    """One group's LP capability [kW of the profile's peak] and cost curve [CNY]."""

    capability_kw: float
    levels_kw: FloatArray
    cost_cny: FloatArray
    feeder_baseline_kw: dict[str, FloatArray] = field(default_factory=dict)
    seconds: float = 0.0
    slope_cny_per_kw: FloatArray | None = None
    """Marginal cost at each level (the LP's reduced cost of the fixed level)."""
    baseline_kw: FloatArray | None = None
    """The group's summed baseline per interval [kW] (the coordinator splits the rebound
    cap's room between groups)."""
    target_dual: FloatArray | None = None
    """The target rows' duals at each level [CNY per kW and interval], one row per level:
    the coordinator's first price for the Lagrangian bound (:mod:`vpp.optimizer.lagrange`)."""
    power_kw: FloatArray | None = None
    """The LP plan's total load per interval of the horizon at each level [kW], one row
    per level: with ``cost_cny``, plans the coordinator combines
    (:mod:`vpp.optimizer.coordinate`)."""

    def segments(self) -> list[tuple[float, float]]:
        """(marginal cost [CNY/kW], width [kW]) of the curve's pieces, in order.

        With marginal costs, the curve is the upper envelope of the tangents at the levels
        (exact wherever the LP's piecewise-linear value function has at most one kink
        between levels); without, the chords between levels.
        """
        lv, cost = self.levels_kw, self.cost_cny
        if lv.size < 2 or self.capability_kw <= 0:
            return []
        if self.slope_cny_per_kw is None:
            chord = np.maximum.accumulate(np.diff(cost) / np.maximum(np.diff(lv), 1e-12))
            return list(zip(chord.tolist(), np.diff(lv).tolist(), strict=True))
        slope = np.maximum.accumulate(self.slope_cny_per_kw)
        out: list[tuple[float, float]] = []
        for j in range(lv.size - 1):
            a, b = lv[j], lv[j + 1]
            if slope[j + 1] - slope[j] > 1e-12:
                # Where the tangents at a and b meet.
                x = (cost[j + 1] - cost[j] + slope[j] * a - slope[j + 1] * b) / (
                    slope[j] - slope[j + 1]
                )
                x = min(max(x, a), b)
            else:
                x = b
            out += [(float(slope[j]), float(x - a)), (float(slope[j + 1]), float(b - x))]
        return [(s, w) for s, w in out if w > 0]


def group_flexibility(
    problem: DispatchProblem,
    settings: DispatchSettings,
    feeders: frozenset[str] = frozenset(),
    points: int = CURVE_POINTS,
) -> GroupFlexibility:
    """Capability and cost curve of ``problem``, whose target override is the profile ``P``.

    Also returns the summed baseline [kW] of the group's members on each of ``feeders``
    (the coordinator splits those feeders' spare capacity between groups).
    """
    started = time.perf_counter()
    built = build_model(problem, settings, "min_cost")
    m = built.model
    base: dict[str, FloatArray] = {f: np.zeros(built.context.n_t) for f in feeders}
    total = np.zeros(built.context.n_t)
    for kb in built.blocks:
        total += kb.baseline_kw.sum(axis=0)
        for r, ref in enumerate(kb.refs):
            if ref.enterprise.feeder_id in base:
                base[ref.enterprise.feeder_id] += kb.baseline_kw[r]
    assert problem.target_override_kw is not None
    planned = np.asarray(problem.target_override_kw) * settings.margin_factor
    target = m.row_blocks.get("system.target")
    if target is None or not planned.any():
        zero = np.zeros(1)
        return GroupFlexibility(0.0, zero, zero, base, time.perf_counter() - started, None, total)
    rows = np.arange(target.start, target.start + target.size, dtype=np.int32)
    h = to_highs(m, settings, integer=np.zeros(m.n_vars, dtype=bool))
    lower = m.row_lower[rows] - planned
    h.changeRowsBounds(rows.size, rows, lower, m.row_upper[rows])  # type: ignore[attr-defined]
    theta = m.n_vars
    h.addCol(-CAPABILITY_REWARD_CNY_PER_KW, 0.0, highspy.kHighsInf, rows.size, rows, -planned)
    slack = np.concatenate(
        [
            m.var_blocks[name].indices().ravel()
            for name in ("system.target_shortfall_kw", "system.max_shortfall_kw")
        ]
    ).astype(np.int32)
    zeros = np.zeros(slack.size)
    h.changeColsBounds(slack.size, slack, zeros, zeros)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        zero = np.zeros(1)
        return GroupFlexibility(0.0, zero, zero, base, time.perf_counter() - started, None, total)
    power_idx = [kb.power_idx for kb in built.blocks]
    power = np.zeros((points + 1, built.context.n_t))
    power[-1] = _total_power_kw(h, power_idx, built.context.n_t)
    top = float(h.getSolution().col_value[theta])
    capability = max(0.0, top * (1.0 - 1e-7))
    # The reward dominates every price, so this optimum is also the least cost at the
    # capability: the curve's last point without another solve.
    top_cost = float(h.getInfo().objective_function_value) + CAPABILITY_REWARD_CNY_PER_KW * top
    h.changeColCost(theta, 0.0)
    # Denser towards the capability, where targets land and marginal costs climb fastest.
    levels = capability * (1.0 - (1.0 - np.arange(points + 1) / points) ** 2)
    costs = np.full(levels.size, np.nan)
    slopes = np.full(levels.size, np.nan)
    costs[-1] = top_cost
    duals = np.zeros((levels.size, rows.size))
    for j in reversed(range(levels.size - 1)):  # from the capability's basis down
        level = levels[j]
        h.changeColBounds(theta, float(level), float(level))
        h.run()
        if h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
            costs[j] = float(h.getInfo().objective_function_value)
            # The reduced cost of the fixed level is the marginal cost there [CNY/kW].
            slopes[j] = float(h.getSolution().col_dual[theta])
            duals[j] = np.asarray(h.getSolution().row_dual, dtype=np.float64)[rows]
            power[j] = _total_power_kw(h, power_idx, built.context.n_t)
    if levels.size > 1 and np.isfinite(costs[-2]):  # left slope at the top: its chord
        chord = (costs[-1] - costs[-2]) / max(levels[-1] - levels[-2], 1e-12)
        slopes[-1] = max(chord, slopes[-2])
    if levels.size > 1:  # the top's duals carry the capability reward: the next level's
        duals[-1] = duals[-2]
    usable = np.isfinite(costs) & np.isfinite(slopes)
    return GroupFlexibility(
        float(levels[usable].max(initial=0.0)),
        levels[usable],
        costs[usable],
        base,
        time.perf_counter() - started,
        slopes[usable],
        total,
        duals[usable],
        power[usable],
    )


def _total_power_kw(h: highspy.Highs, power_idx: list[np.ndarray], n_t: int) -> FloatArray:
    """The group's summed load per interval in the solution ``h`` holds [kW]."""
    x = np.asarray(h.getSolution().col_value, dtype=np.float64)
    total = np.zeros(n_t)
    for idx in power_idx:
        total += x[idx].sum(axis=0)
    return total
