"""System-wide families: paid response, the event target (or capability), feeder limits,
the rebound cap.

Response of resource r in interval t is ``direction * (baseline[r, t] - power[r, t])``
with direction +1 for peak shaving and -1 for valley filling.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from vpp.domain import rebound_cap_kw
from vpp.optimizer.linear import FloatArray, LinearModel
from vpp.optimizer.problem import DispatchProblem, ModelContext
from vpp.optimizer.resources import KindBlock

#: Reward per kW of sustained response when maximising capability [CNY/kW]; it dominates
#: every price so costs only break ties.
CAPABILITY_REWARD_CNY_PER_KW = 1.0e4


def add_paid_response(m: LinearModel, blocks: list[KindBlock], ctx: ModelContext) -> None:
    """Pay each resource for positive response in the window: paid >= response, paid >= 0."""
    for kb in blocks:
        if kb.paid_price_cny_per_kwh is None:
            continue
        power = kb.power_idx[:, ctx.window]
        base = kb.baseline_kw[:, ctx.window]
        paid = m.add_variables(f"{kb.kind}.paid_response_kw", power.shape, 0.0)
        m.add_constraints(
            f"{kb.kind}.paid_response",
            [(paid, 1.0), (power, ctx.direction)],
            lower=ctx.direction * base,
        )
        price = kb.paid_price_cny_per_kwh[:, None] * ctx.dt_h
        adder = np.array([ctx.rotation_adder(ref.enterprise.enterprise_id) for ref in kb.refs])
        m.add_cost("compensation", paid, np.broadcast_to(price, paid.shape))
        m.add_cost("rotation", paid, np.broadcast_to(adder[:, None] * ctx.dt_h, paid.shape))


def _window_response_terms(
    blocks: list[KindBlock], ctx: ModelContext
) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """Terms of ``sum_r -direction * power[r, t]`` over the window, and their constant part."""
    terms = []
    constant = np.zeros(ctx.window.stop - ctx.window.start)
    for kb in blocks:
        power = kb.power_idx[:, ctx.window].T  # (t, r): summed over r
        terms.append((power, np.full(power.shape, -ctx.direction)))
        constant += ctx.direction * kb.baseline_kw[:, ctx.window].sum(axis=0)
    return terms, constant


def add_event_target(m: LinearModel, blocks: list[KindBlock], ctx: ModelContext) -> None:
    """Response + shortfall >= target (with a small margin) in every event interval.

    The shortfall is priced per interval and, once more, at its largest value.
    """
    terms, constant = _window_response_terms(blocks, ctx)
    planned = ctx.target_profile_kw + ctx.margin_profile_kw
    shortfall = m.add_variables("system.target_shortfall_kw", constant.size, 0.0)
    slacks = [(shortfall, 1.0)]
    margin_price = ctx.settings.margin_penalty_cny_per_kwh
    if margin_price is not None and ctx.margin_profile_kw.max(initial=0.0) > 0:
        # The margin's own slack at its own price: priced below the rebound cap's, a plan
        # gives up margin before it goes above the cap; the target itself comes first.
        unmet = m.add_variables("system.margin_unmet_kw", constant.size, 0.0, ctx.margin_profile_kw)
        slacks.append((unmet, 1.0))
        m.add_cost("shortfall_penalty", unmet, margin_price * ctx.dt_h)
    m.add_constraints("system.target", [*terms, *slacks], lower=planned - constant)
    penalty = ctx.settings.shortfall_penalty_cny_per_kwh * ctx.dt_h
    m.add_cost("shortfall_penalty", shortfall, penalty)
    # Pricing the worst interval too spreads an energy-limited response evenly, so an
    # impossible target yields the largest response every interval can sustain.
    worst = m.add_variables("system.max_shortfall_kw", 1, 0.0)
    m.add_constraints(
        "system.max_shortfall",
        [(np.broadcast_to(worst, shortfall.shape), 1.0), (shortfall, -1.0)],
        lower=np.zeros(shortfall.shape),
    )
    m.add_cost("shortfall_penalty", worst, penalty)


def add_capability_target(m: LinearModel, blocks: list[KindBlock], ctx: ModelContext) -> None:
    """Maximise the response sustained in every event interval: response[t] >= level."""
    terms, constant = _window_response_terms(blocks, ctx)
    level = m.add_variables("system.sustained_response_kw", 1, 0.0)
    level_each = np.broadcast_to(level, constant.shape)
    m.add_constraints("system.capability", [*terms, (level_each, -1.0)], lower=-constant)
    m.add_cost("capability_reward", level, -CAPABILITY_REWARD_CNY_PER_KW)


def add_feeder_limits(
    m: LinearModel, blocks: list[KindBlock], problem: DispatchProblem, ctx: ModelContext
) -> None:
    """VPP load + background <= capacity on every feeder and interval (rebound, filling).

    A hard limit: feeder capacity is a safety limit, and no price can guard it when a tiny
    overload unlocks a large step. It is always feasible, because the limit is never below
    the baseline's own level (where the baseline already exceeds the capacity, the limit is
    the baseline: dispatch must not make it worse) and running at baseline is always a
    feasible plan.
    """
    members: dict[str, list[tuple[KindBlock, int]]] = defaultdict(list)
    for kb in blocks:
        for r, ref in enumerate(kb.refs):
            members[ref.enterprise.feeder_id].append((kb, r))
    feeders = [f for f in problem.district.feeders if f.feeder_id in members]
    if not feeders:
        return
    n_t = ctx.n_t
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    upper: list[np.ndarray] = []
    for i, feeder in enumerate(feeders):
        feeder_rows = i * n_t + np.arange(n_t)
        base_total = np.zeros(n_t)
        for kb, r in members[feeder.feeder_id]:
            rows.append(feeder_rows)
            cols.append(kb.power_idx[r])
            vals.append(np.ones(n_t))
            base_total += kb.baseline_kw[r]
        headroom = feeder.capacity_kw - ctx.grid.sample_daily(feeder.background_load_kw)
        upper.append(np.maximum(headroom, base_total))
    m.add_sparse_constraints(
        "system.feeder_limit",
        len(feeders) * n_t,
        (np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)),
        upper=np.concatenate(upper),
    )


@dataclass(frozen=True)
class ReboundLimit:
    """The rebound cap a model holds: the cap [kW] (None: uncapped or given per interval),
    the portfolio baseline's peak [kW], and the limit per interval [kW] (NaN where none)."""

    cap_kw: float | None
    baseline_peak_kw: float
    limit_kw: FloatArray


def rebound_limit(
    problem: DispatchProblem, blocks: list[KindBlock], ctx: ModelContext
) -> ReboundLimit:
    """Where and how high the portfolio's load is capped: every free interval outside the
    window, at the cap less the planning margin, or at the baseline where that is higher
    already (dispatch must not make it worse, and owes no reduction outside the event);
    for a re-plan of part of the portfolio, at the room it is given."""
    base_total = np.zeros(ctx.n_t)
    for kb in blocks:
        base_total += kb.baseline_kw.sum(axis=0)
    peak = float(base_total.max(initial=0.0))
    capped = ctx.free & ~ctx.in_window
    cap: float | None = None
    if problem.rebound_limit_kw is not None:
        # Room a re-plan is given is the portfolio's limit less the load the rest of the
        # plan keeps, floored there already: less than these resources' own baseline means
        # they must keep making room (a battery discharging under an earlier release's
        # rebound), or the excess is theirs to report.
        limit = _per_interval(problem.rebound_limit_kw, ctx.n_t, "rebound_limit_kw")
    elif problem.resource_keys is not None:
        limit = np.full(ctx.n_t, np.nan)
    else:
        cap, limit = portfolio_limit_kw(problem, ctx, base_total)
    return ReboundLimit(cap, peak, np.where(capped, limit, np.nan))


def portfolio_limit_kw(
    problem: DispatchProblem, ctx: ModelContext, base_total: FloatArray
) -> tuple[float | None, FloatArray]:
    """The whole portfolio's cap [kW] (None: uncapped) and its planned limit per interval
    [kW]: the cap less the planning margin, never below the baseline, less other plans'
    load; NaN everywhere when uncapped.

    Other plans' load is taken off after the floor: where an earlier event's recovery
    already fills the room (or goes beyond it), this plan's load above its baseline is
    excess on top of theirs, so the excess it reports is the portfolio's and it spreads
    its own where the others leave the most, instead of stacking on their worst interval.
    """
    cap = rebound_cap_kw(ctx.settings.rebound_cap or problem.district.rebound_cap, base_total)
    if cap is None:
        return None, np.full(ctx.n_t, np.nan)
    planned = cap * (1.0 - ctx.settings.rebound_margin_pct / 100.0)
    other = _per_interval(problem.rebound_other_kw, ctx.n_t, "rebound_other_kw")
    return cap, np.maximum(planned, base_total) - np.nan_to_num(other)


def _per_interval(values: FloatArray | None, n_t: int, name: str) -> FloatArray:
    """One value per interval of the horizon (NaN: none there); zeros when not given."""
    if values is None:
        return np.zeros(n_t)
    out = np.asarray(values, dtype=np.float64)
    if out.shape != (n_t,) or np.any(np.isinf(out)):
        raise ValueError(f"{name}: need {n_t} values, each NaN or finite")
    return out


def add_rebound_cap(
    m: LinearModel, blocks: list[KindBlock], problem: DispatchProblem, ctx: ModelContext
) -> ReboundLimit:
    """Portfolio load - excess <= limit in every capped interval (after and before the window).

    Soft, as the target is: energy that must come back (a battery's recharge, EV energy
    owed) may not fit under the cap, and the excess is priced per interval and once more
    at its largest, so what cannot fit is spread as flat as it can be, and reported.
    """
    rebound = rebound_limit(problem, blocks, ctx)
    rows_t = np.flatnonzero(~np.isnan(rebound.limit_kw))
    if rows_t.size == 0 or not blocks:
        return rebound
    terms = [(kb.power_idx[:, rows_t].T, np.ones((rows_t.size, kb.size))) for kb in blocks]
    excess = m.add_variables("system.rebound_excess_kw", rows_t.size, 0.0)
    m.add_constraints(
        "system.rebound_cap", [*terms, (excess, -1.0)], upper=rebound.limit_kw[rows_t]
    )
    penalty = ctx.settings.rebound_penalty_cny_per_kwh * ctx.dt_h
    m.add_cost("rebound_penalty", excess, penalty)
    worst = m.add_variables("system.max_rebound_excess_kw", 1, 0.0)
    m.add_constraints(
        "system.max_rebound_excess",
        [(np.broadcast_to(worst, excess.shape), 1.0), (excess, -1.0)],
        lower=np.zeros(excess.shape),
    )
    m.add_cost("rebound_penalty", worst, penalty)
    return rebound


def rebound_excess_kw(m: LinearModel, x: FloatArray, rebound: ReboundLimit, n_t: int) -> FloatArray:
    """The planned excess over the cap per interval of the horizon [kW] (0 where uncapped)."""
    out = np.zeros(n_t)
    if "system.rebound_excess_kw" in m.var_blocks:
        out[np.flatnonzero(~np.isnan(rebound.limit_kw))] = m.value(x, "system.rebound_excess_kw")
    return out
