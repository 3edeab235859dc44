"""Decomposition for large districts: groups solved in parallel, a coordinator splits the target.

1. **Group.** Resources are packed in feeder order into groups of about
   ``max_group_resources``: whole feeders where a feeder fits in a group, else whole
   enterprises (``group_by="enterprise"``); ``group_by="feeder"`` keeps every feeder whole.
   Rotation adders and events-per-day rules belong to one enterprise, so they hold in
   every group exactly as in the monolithic model.
2. **Flexibility** (parallel). Each group's LP relaxation gives its capability and a convex
   cost curve for the normalised target profile (:mod:`vpp.optimizer.flexibility`), and
   the LP plan at each point of the curve.
3. **Coordinate** (parallel). Rounds of priced group LPs (:mod:`vpp.optimizer.lagrange`,
   at most ``settings.bound_rounds``) give a certified lower bound on the monolithic
   optimum and more plans; the master (:mod:`vpp.optimizer.coordinate`) combines each
   group's plans so the district meets the target under the rebound cap at least cost,
   and each group is asked its combination's response per interval and given its
   combination's room under the cap (the district's totals kept exactly). Without rounds
   (``bound_rounds=0``) or where the master fails: a merit order over the curves splits
   the target's peak ``theta`` (group ``g`` asked ``theta_g * P[t]``) and the cap's room
   goes by resource count.
4. **Solve** (parallel). Each group's full MILP with its share as target and its room
   as its rebound limit (:func:`vpp.optimizer.dispatch.dispatch_monolithic`).
5. **Repair.** Where integer steps leave the total short, the residual goes to the groups
   with the most spare capability that met their share, in proportion to it, and those
   groups are solved again (at most ``repair_rounds`` rounds). Where integer steps leave
   it well above the target, the dearest groups are asked less, by no more than the
   others' over-delivery, so the target still holds (one round, kept where it is cheaper).
6. **Merge** into one :class:`DispatchResult`, checked as :func:`check_dispatch` checks a
   monolithic one: resource limits by each group, feeders and target on the whole.

Feeder limits couple the resources on a feeder. Groups keep feeders whole wherever a feeder
fits in one group, and ``group_by="feeder"`` always does, so its limits are exact. With
``group_by="enterprise"`` a feeder larger than a group is split between groups at
enterprise boundaries, and its spare capacity with it: group ``g`` may load it up to
``base_g[t] + w_g (headroom[t] - base[t])``, ``w_g`` its share of the feeder's resources.
Each group's limit is ``max(that, base_g)``, and these never sum above the monolithic
limit ``max(headroom, base)``: safe, though a tight feeder split this way may serve less.

Groups run on any :class:`concurrent.futures.Executor` its owner passes in (a process pool,
a Dask client's executor: :mod:`vpp.optimizer.executors`), else one after another in the
calling thread; the functions and arguments pickle, and the answers do not depend on the
executor.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, fields, replace
from typing import Any, Literal, TypeVar

import numpy as np
from pydantic import BaseModel

from vpp.domain import (
    CostBreakdown,
    DispatchResult,
    Feeder,
    IntervalOutcome,
    SolveStats,
    SolveStatus,
    TimeGrid,
)
from vpp.optimizer.check import check_feeders, check_rebound, check_target
from vpp.optimizer.coordinate import Columns, resplit, solve_master
from vpp.optimizer.dispatch import dispatch_monolithic
from vpp.optimizer.executors import InlineExecutor
from vpp.optimizer.flexibility import GroupFlexibility, group_flexibility
from vpp.optimizer.lagrange import price_rounds
from vpp.optimizer.linear import FloatArray
from vpp.optimizer.problem import DispatchProblem, DispatchSettings, build_context
from vpp.optimizer.resources import RESOURCE_BUILDERS
from vpp.optimizer.system import portfolio_limit_kw

logger = logging.getLogger(__name__)

GroupBy = Literal["enterprise", "feeder"]
T = TypeVar("T")

#: Rounds of repair after the group solves.
REPAIR_ROUNDS = 2

#: Shortfall below this counts as meeting a target [kW] (as DispatchResult.meets_target).
TOL_KW = 1e-2

_SEVERITY = [SolveStatus.OPTIMAL, SolveStatus.FEASIBLE, SolveStatus.FALLBACK, SolveStatus.FAILED]


@dataclass(frozen=True)
class Group:
    """Enterprises solved together, their resource keys and the feeders they sit on."""

    enterprise_ids: frozenset[str]
    keys: frozenset[str]
    feeder_ids: tuple[str, ...]

    @property
    def size(self) -> int:
        return len(self.keys)


@dataclass(frozen=True)
class DecompositionStats:
    """Wall-clock seconds per phase and what the decomposition did."""

    groups: int
    group_by: GroupBy
    split_feeders: int
    repair_rounds: int
    trimmed_groups: int
    flexibility_s: float
    groups_s: float
    repair_s: float
    merge_s: float
    total_s: float
    shares_kw: tuple[float, ...]
    """Each group's largest ask over the window [kW]."""
    lower_bound_cny: float | None = None
    """Certified lower bound on the monolithic optimum (Lagrangian, see
    :mod:`vpp.optimizer.lagrange`); None where none was computed."""
    bound_rounds: int = 0
    bound_s: float = 0.0
    """The coordination's wall-clock seconds: the bound's price rounds and the master,
    between the flexibility pass and the group solves."""


def make_groups(
    problem: DispatchProblem, group_by: GroupBy, max_group_resources: int
) -> list[Group]:
    """Whole feeders, or enterprises of feeders too large for one group, packed in order.

    With ``group_by="enterprise"`` a feeder with more than ``max_group_resources``
    resources is split between groups at enterprise boundaries (its spare capacity is
    shared, see the module docstring); with ``"feeder"`` it stays whole, a group of its
    own. An enterprise larger than the bound is also a group of its own.
    """
    if max_group_resources < 1:
        raise ValueError(f"max_group_resources: need >= 1, got {max_group_resources}")
    if group_by not in ("enterprise", "feeder"):
        raise ValueError(f"group_by: expected 'enterprise' or 'feeder', got {group_by!r}")
    keys_of: dict[str, list[str]] = defaultdict(list)
    feeder_of: dict[str, str] = {}
    for ref in problem.refs():
        keys_of[ref.enterprise.enterprise_id].append(ref.key)
        feeder_of[ref.enterprise.enterprise_id] = ref.enterprise.feeder_id
    order = {f.feeder_id: i for i, f in enumerate(problem.district.feeders)}
    enterprises = sorted(keys_of, key=lambda e: order[feeder_of[e]])  # stable: file order
    feeder_size: dict[str, int] = defaultdict(int)
    for enterprise_id, keys in keys_of.items():
        feeder_size[feeder_of[enterprise_id]] += len(keys)
    units: list[list[str]] = []
    for enterprise_id in enterprises:
        feeder_id = feeder_of[enterprise_id]
        whole = group_by == "feeder" or feeder_size[feeder_id] <= max_group_resources
        if whole and units and feeder_of[units[-1][0]] == feeder_id:
            units[-1].append(enterprise_id)
        else:
            units.append([enterprise_id])
    groups: list[list[str]] = []
    size = 0
    for unit in units:
        unit_size = sum(len(keys_of[e]) for e in unit)
        if groups and size + unit_size <= max_group_resources:
            groups[-1] += unit
            size += unit_size
        else:
            groups.append(list(unit))
            size = unit_size
    return [
        Group(
            frozenset(members),
            frozenset(k for e in members for k in keys_of[e]),
            tuple(dict.fromkeys(feeder_of[e] for e in members)),
        )
        for members in groups
    ]


def dispatch_decomposed(
    problem: DispatchProblem,
    settings: DispatchSettings | None = None,
    *,
    executor: Executor | None = None,
    group_by: GroupBy | None = None,
    max_group_resources: int | None = None,
    repair_rounds: int = REPAIR_ROUNDS,
) -> DispatchResult:
    """The dispatch of a large problem, decomposed into groups solved on ``executor``.

    ``executor`` defaults to the settings' executor, else the calling thread (groups one
    after another); ``group_by`` and ``max_group_resources`` default to
    the settings' ``group_by`` and ``group_resources``. The status is the worst of the
    groups'; ``mip_gap`` is the plan's certified gap to the Lagrangian lower bound (None
    with ``bound_rounds=0``).
    """
    result, _ = solve_decomposed(
        problem,
        settings,
        executor=executor,
        group_by=group_by,
        max_group_resources=max_group_resources,
        repair_rounds=repair_rounds,
    )
    return result


def margin_as_target(
    problem: DispatchProblem, settings: DispatchSettings
) -> tuple[DispatchProblem, DispatchSettings]:
    """The problem and settings with the planning margin priced as the target: the
    coordinator and the bound price the whole planned target alike, so a decomposed
    dispatch models no cheaper margin (``margin_penalty_cny_per_kwh``), and a margin given
    per interval (a re-plan's) joins the target."""
    settings = settings.model_copy(update={"margin_penalty_cny_per_kwh": None})
    if problem.target_margin_kw is None:
        return problem, settings
    ctx = build_context(problem, settings, "min_cost")
    planned = ctx.target_profile_kw + ctx.margin_profile_kw
    folded = replace(problem, target_override_kw=planned, target_margin_kw=None)
    return folded, settings.model_copy(update={"target_margin_pct": 0.0})


def map_executor(pool: Executor, fn: Callable[..., T], *args: Sequence[object]) -> list[T]:
    """``pool.map`` as a list, in order."""
    return list(pool.map(fn, *args))


#: Flexibility of groups already computed, by the hash of what it depends on.
_FLEX_CACHE: OrderedDict[str, GroupFlexibility] = OrderedDict()

#: Groups' flexibility kept (a district of 10,000 resources has about 40 groups).
FLEX_CACHE_SIZE = 512


def cached_flexibility(
    pool: Executor,
    subs: Sequence[DispatchProblem],
    settings: DispatchSettings,
    feeders: Sequence[frozenset[str]],
) -> list[GroupFlexibility]:
    """Each group's flexibility, computed (on ``pool``) only for groups not seen before.

    The key is a hash of the group's whole sub-problem (resources, baselines, feeders,
    grid, event and profile), the settings and the split feeders, so a re-dispatch of the
    same day, or a capability call beside it, reuses the pass, and any change in the
    data computes it afresh. The cache lives in the calling process (the coordinator).
    """
    keys = content_keys(subs, settings, feeders)
    missing = [i for i, k in enumerate(keys) if k not in _FLEX_CACHE]
    fresh = map_executor(
        pool,
        group_flexibility,
        [subs[i] for i in missing],
        [settings] * len(missing),
        [feeders[i] for i in missing],
    )
    for i, flex in zip(missing, fresh, strict=True):
        _FLEX_CACHE[keys[i]] = flex
    out = [_FLEX_CACHE[k] for k in keys]
    for k in keys:
        _FLEX_CACHE.move_to_end(k)
    while len(_FLEX_CACHE) > FLEX_CACHE_SIZE:
        _FLEX_CACHE.popitem(last=False)
    return out


def content_keys(
    subs: Sequence[DispatchProblem],
    settings: DispatchSettings,
    feeders: Sequence[frozenset[str]],
) -> list[str]:
    """A hash of each group's whole sub-problem, the settings and its split feeders:
    equal data, equal key (the flexibility cache's, and the priced LPs' in the workers)."""
    setting_json = settings.model_dump_json()
    keys = []
    for sub, split in zip(subs, feeders, strict=True):
        digest = hashlib.sha256(setting_json.encode())
        digest.update(repr(sorted(split)).encode())
        for f in fields(sub):
            digest.update(f.name.encode())
            _fingerprint(digest, getattr(sub, f.name))
        keys.append(digest.hexdigest())
    return keys


def _fingerprint(digest: Any, value: object) -> None:
    """Feed ``value`` to ``digest`` in a canonical form (models as JSON, arrays as bytes,
    mappings and sets sorted): equal data, equal hash, whatever caches it carries."""
    if isinstance(value, BaseModel):
        digest.update(value.model_dump_json().encode())
    elif isinstance(value, np.ndarray):
        digest.update(repr((value.dtype.str, value.shape)).encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, Mapping):
        for k in sorted(value, key=repr):
            digest.update(repr(k).encode())
            _fingerprint(digest, value[k])
    elif isinstance(value, frozenset | set):
        digest.update(repr(sorted(value, key=repr)).encode())
    elif isinstance(value, list | tuple):
        for item in value:
            _fingerprint(digest, item)
    else:
        digest.update(repr(value).encode())


def solve_decomposed(
    problem: DispatchProblem,
    settings: DispatchSettings | None = None,
    *,
    executor: Executor | None = None,
    group_by: GroupBy | None = None,
    max_group_resources: int | None = None,
    repair_rounds: int = REPAIR_ROUNDS,
) -> tuple[DispatchResult, DecompositionStats]:
    """:func:`dispatch_decomposed` with the time each phase took."""
    started = time.perf_counter()
    settings = settings or DispatchSettings()
    pool = executor or settings.executor or InlineExecutor()
    # what the groups get: no further decomposition, and no executor (it does not pickle)
    settings = settings.model_copy(update={"decompose_above_resources": None, "executor": None})
    problem, settings = margin_as_target(problem, settings)
    group_by = settings.group_by if group_by is None else group_by
    if max_group_resources is None:
        max_group_resources = settings.group_resources
    ctx = build_context(problem, settings, "min_cost")
    profile = np.asarray(ctx.target_profile_kw, dtype=np.float64)
    peak = float(profile.max(initial=0.0))
    shape = profile / peak if peak > 0 else np.zeros_like(profile)
    groups = make_groups(problem, group_by, max_group_resources)
    if len(groups) < 2:  # nothing to decompose
        result = dispatch_monolithic(problem, settings)
        elapsed = time.perf_counter() - started
        stats = DecompositionStats(
            len(groups), group_by, 0, 0, 0, 0.0, elapsed, 0.0, 0.0, elapsed, (peak,) * len(groups)
        )
        return result, stats
    split = _split_feeders(groups)

    flex = cached_flexibility(
        pool,
        [
            sub_problem(problem, g, _scaled_feeders(problem, g, split, groups), shape)
            for g in groups
        ],
        settings,
        [frozenset(split).intersection(g.feeder_ids) for g in groups],
    )
    flexibility_done = time.perf_counter()
    feeders = _shared_feeders(problem, groups, split, flex)
    plan = coordinate(problem, settings, groups, split, flex, shape, profile, pool)
    asked, limits = plan.asked_kw, plan.room_kw
    shares = np.array([float(a.max(initial=0.0)) for a in asked])
    coordination_done = time.perf_counter()

    subs = [
        _capped(sub_problem(problem, g, feeders[i], asked[i]), limits[i])
        for i, g in enumerate(groups)
    ]
    results: list[DispatchResult] = map_executor(
        pool, dispatch_monolithic, subs, [settings] * len(groups)
    )
    groups_done = time.perf_counter()

    rounds = 0
    spare = np.array([f.capability_kw for f in flex]) - shares
    for _ in range(repair_rounds):
        residual = profile - _window_response(results)
        if residual.max(initial=0.0) <= TOL_KW:
            break
        met = np.array([r.meets_target for r in results])
        spare = np.where(met, np.maximum(spare, 0.0), 0.0)
        if spare.sum() <= TOL_KW:
            break
        rounds += 1
        chosen = _repair_groups(spare, float(residual.max()))
        weight = spare[chosen] / spare[chosen].sum()
        for w, i in zip(weight, chosen, strict=True):
            extra = w * np.maximum(residual, 0.0)
            asked[i] = asked[i] + extra
            spare[i] -= float(extra.max())
        again = map_executor(
            pool,
            dispatch_monolithic,
            [
                _capped(sub_problem(problem, groups[i], feeders[i], asked[i]), limits[i])
                for i in chosen
            ],
            [settings] * len(chosen),
        )
        for i, result in zip(chosen, again, strict=True):
            results[i] = result
    trimmed = _trim(problem, groups, feeders, asked, results, profile, settings, pool, limits)
    repair_done = time.perf_counter()

    merged = merge_results(problem, settings, results, f"{len(groups)} groups by {group_by}")
    merge_done = time.perf_counter()
    upper = (merged.solve.objective_cny or 0.0) + merged.costs.rebound_penalty_cny
    bound, bound_rounds = plan.lower_bound_cny, plan.rounds
    gap = None if bound is None else max(0.0, upper - bound) / max(abs(upper), 1e-9)
    done = time.perf_counter()
    stats = DecompositionStats(
        groups=len(groups),
        group_by=group_by,
        split_feeders=len(split),
        repair_rounds=rounds,
        trimmed_groups=trimmed,
        flexibility_s=flexibility_done - started,
        groups_s=groups_done - coordination_done,
        repair_s=repair_done - groups_done,
        merge_s=merge_done - repair_done,
        total_s=done - started,
        shares_kw=tuple(float(s) for s in shares),
        lower_bound_cny=bound,
        bound_rounds=bound_rounds,
        bound_s=coordination_done - flexibility_done,
    )
    logger.info("decomposed dispatch: %s", stats)
    phases = (
        f"; wall {stats.total_s:.2f} s: flexibility {stats.flexibility_s:.2f}, groups "
        f"{stats.groups_s:.2f}, repair {stats.repair_s:.2f}, merge {stats.merge_s:.2f}, "
        f"bound {stats.bound_s:.2f}"
    )
    if bound is not None:
        phases += f"; lower bound {bound:.2f} CNY ({bound_rounds} rounds)"
    solve = merged.solve.model_copy(
        update={"termination": merged.solve.termination + phases, "mip_gap": gap}
    )
    return merged.model_copy(update={"solve": solve}), stats


@dataclass(frozen=True)
class Coordination:
    """What each group is asked and the bound found on the way."""

    asked_kw: list[FloatArray]
    """Each group's target per window interval [kW] (before the planning margin)."""
    room_kw: list[FloatArray | None]
    """Each group's limit under the rebound cap per interval of the horizon [kW] (NaN
    where uncapped); None where the portfolio is uncapped."""
    lower_bound_cny: float | None
    rounds: int


def coordinate(
    problem: DispatchProblem,
    settings: DispatchSettings,
    groups: Sequence[Group],
    split: set[str],
    flex: Sequence[GroupFlexibility],
    shape: FloatArray,
    profile: FloatArray,
    pool: Executor,
) -> Coordination:
    """Each group's target and room under the cap, from the master's combination of its
    LP plans (:mod:`vpp.optimizer.coordinate`), and the certified bound.

    The plans are the flexibility pass's, then each price round's (at most
    ``settings.bound_rounds``, :func:`vpp.optimizer.lagrange.price_rounds`); the rounds'
    best ``L(price)`` is a lower bound on the monolithic optimum. Without rounds, or where
    the master fails, the merit-order split of the target and the size-weighted split of
    the cap's room.
    """
    ctx = build_context(problem, settings, "min_cost")
    planned = profile * settings.margin_factor
    bases = [f.baseline_kw for f in flex if f.baseline_kw is not None]
    limit = np.full(ctx.n_t, np.nan)
    if len(bases) == len(flex):
        _, limit = portfolio_limit_kw(problem, ctx, np.sum(bases, axis=0))
        limit = np.where(ctx.free & ~ctx.in_window, limit, np.nan)
    capped = ~np.isnan(limit)
    rebound = None if not capped.any() else limit
    subs = [_capped(sub_problem(problem, g, None, shape), rebound) for g in groups]
    relax = [frozenset(split).intersection(g.feeder_ids) for g in groups]
    columns = [_flex_columns(f, ctx.direction, ctx.window, capped) for f in flex]
    shares = split_target(flex, float(profile.max(initial=0.0)))
    first = np.concatenate([_first_price(flex, shares, planned.size), np.zeros(capped.sum())])
    found = price_rounds(
        pool,
        subs,
        settings,
        relax,
        columns,
        planned,
        limit[capped],
        ctx.dt_h,
        settings.bound_rounds,
        first,
        content_keys(subs, settings, relax),
    )
    master = solve_master(
        found.columns,
        planned,
        limit[capped],
        settings.shortfall_penalty_cny_per_kwh * ctx.dt_h,
        settings.rebound_penalty_cny_per_kwh * ctx.dt_h,
    )
    if master is None or len(bases) != len(flex) or found.rounds == 0:
        # Without rounds the master has only the flexibility pass's plans, which ignore
        # the cap (124 resources: 98,650 CNY against the old split's 78,023), so the old
        # split stands: the MILPs then find low-rebound plans within their room themselves.
        if settings.bound_rounds > 0:
            logger.warning("decomposition: the coordinator's master failed; merit order instead")
        asked = [share * shape for share in shares]
        room = _shared_rebound_room(problem, settings, groups, flex)
    else:
        response, room_c = resplit(
            master.response_kw(found.columns),
            master.load_kw(found.columns),
            planned,
            limit[capped],
            [b[capped] for b in bases],
            [g.size for g in groups],
        )
        asked = [r / settings.margin_factor for r in response]
        room = [None] * len(groups)
        if rebound is not None:
            room = []
            for r in room_c:
                full = np.full(ctx.n_t, np.nan)
                full[capped] = r
                room.append(full)
    return Coordination(asked, room, found.lower_bound_cny, found.rounds)


def _first_price(flex: Sequence[GroupFlexibility], shares: FloatArray, n: int) -> FloatArray:
    """Share-weighted target duals of the groups at their merit-order shares [CNY per kW
    and interval]: spread over the window as the groups' own LPs price it (the master's
    duals are not: its plans all follow one profile, so its duals are degenerate)."""
    total = np.zeros(n)
    weight = 0.0
    for f, share in zip(flex, shares, strict=True):
        if f.target_dual is None or share <= 0 or f.levels_kw.size == 0:
            continue
        dual = np.array([np.interp(share, f.levels_kw, f.target_dual[:, t]) for t in range(n)])
        total += share * dual
        weight += share
    return total / weight if weight > 0 else total


def _flex_columns(
    flex: GroupFlexibility, direction: float, window: slice, capped: np.ndarray
) -> Columns:
    """The flexibility pass's LP plans as columns; a group without any offers its
    baseline (no response, no cost)."""
    base = flex.baseline_kw if flex.baseline_kw is not None else np.zeros(capped.size)
    if flex.power_kw is None or flex.power_kw.size == 0:
        power = base[None, :]
        cost = np.zeros(1)
    else:
        power, cost = flex.power_kw, flex.cost_cny
    response = direction * (base[None, window] - power[:, window])
    return Columns(np.asarray(cost, dtype=np.float64), response, power[:, capped])


def _trim(
    problem: DispatchProblem,
    groups: Sequence[Group],
    feeders: Sequence[dict[str, Feeder]],
    asked: list[FloatArray],
    results: list[DispatchResult],
    profile: FloatArray,
    settings: DispatchSettings,
    pool: Executor,
    limits: Sequence[FloatArray | None],
) -> int:
    """Ask less of the dearest groups where integer steps elsewhere over-deliver.

    Group ``g`` delivers at least its ask, so cutting asks by ``cut_g`` keeps the total at
    or above the planned target as long as ``sum_g (cut_g + over_g) <= surplus`` for the
    cut groups (``over_g`` what each delivered above its ask). Returns the groups trimmed.
    """
    planned = profile * settings.margin_factor
    response = [np.array([i.expected_response_kw for i in r.event_intervals]) for r in results]
    budget = np.sum(response, axis=0) - planned
    if budget.min(initial=0.0) <= max(TOL_KW, 1e-3 * float(profile.max(initial=0.0))):
        return 0
    price = [
        r.costs.cost_cny / max(float(a.max(initial=0.0)), TOL_KW)
        for r, a in zip(results, asked, strict=True)
    ]
    cuts: dict[int, FloatArray] = {}
    for g in sorted(range(len(groups)), key=lambda i: -price[i]):
        if not results[g].meets_target or asked[g].max(initial=0.0) <= TOL_KW:
            continue
        room = budget - np.maximum(response[g] - asked[g], 0.0)
        if room.min() < 0:
            continue
        cut = np.minimum(room, asked[g])
        if cut.max() <= TOL_KW:
            continue
        cuts[g] = cut
        budget = room - cut
    if not cuts:
        return 0
    chosen = sorted(cuts)
    again = map_executor(
        pool,
        dispatch_monolithic,
        [
            _capped(sub_problem(problem, groups[g], feeders[g], asked[g] - cuts[g]), limits[g])
            for g in chosen
        ],
        [settings] * len(chosen),
    )
    kept = 0
    for g, result in zip(chosen, again, strict=True):
        if result.meets_target and result.costs.cost_cny < results[g].costs.cost_cny:
            results[g] = result
            asked[g] = asked[g] - cuts[g]
            kept += 1
    return kept


def _repair_groups(spare: FloatArray, residual_kw: float) -> list[int]:
    """The groups with the most spare capability, enough to cover twice the residual."""
    chosen: list[int] = []
    covered = 0.0
    for i in np.argsort(-spare, kind="stable"):
        if spare[i] <= 0 or covered >= 2 * residual_kw:
            break
        chosen.append(int(i))
        covered += float(spare[i])
    return sorted(chosen)


def split_target(flex: Sequence[GroupFlexibility], demand_kw: float) -> FloatArray:
    """Each group's share of ``demand_kw``: the cheapest curve segments first (merit order).

    Where the groups' capabilities add up to less than the demand, every group is asked its
    capability and the rest is shortfall.
    """
    shares = np.zeros(len(flex))
    segments = [(slope, g, width) for g, f in enumerate(flex) for slope, width in f.segments()]
    remaining = demand_kw
    for _, g, segment_kw in sorted(segments, key=lambda seg: (seg[0], seg[1])):
        if remaining <= 0:
            break
        take = min(segment_kw, remaining)
        shares[g] += take
        remaining -= take
    return shares


def merge_results(
    problem: DispatchProblem,
    settings: DispatchSettings,
    results: Sequence[DispatchResult],
    how: str,
) -> DispatchResult:
    """One result from the groups': schedules in monolithic order, totals, costs, checks."""
    ctx = build_context(problem, settings, "min_cost")
    by_key = {s.key: s for r in results for s in r.schedules}
    refs = problem.refs()
    schedules = tuple(
        by_key[ref.key] for kind in RESOURCE_BUILDERS for ref in refs if ref.resource.kind == kind
    )
    base = np.sum([[i.baseline_kw for i in r.intervals] for r in results], axis=0)
    power = np.sum([[i.expected_power_kw for i in r.intervals] for r in results], axis=0)
    response = ctx.direction * (base - power)
    target = np.zeros(ctx.n_t)
    target[ctx.window] = ctx.target_profile_kw
    in_window = ctx.in_window
    shortfall = np.where(in_window, np.maximum(0.0, target - response), 0.0)
    shortfall = np.round(shortfall, 6)
    capped = ctx.free & ~in_window
    cap, limit = portfolio_limit_kw(problem, ctx, base)
    limit = np.where(capped, limit, np.nan)
    excess = np.round(np.where(np.isnan(limit), 0.0, np.maximum(0.0, power - limit)), 6)
    intervals = tuple(
        IntervalOutcome(
            start=start,
            in_event=bool(in_window[t]),
            target_kw=float(target[t]),
            baseline_kw=float(base[t]),
            expected_power_kw=float(power[t]),
            expected_response_kw=float(response[t]),
            shortfall_kw=float(shortfall[t]),
            rebound_limit_kw=None if np.isnan(limit[t]) else float(limit[t]),
            rebound_excess_kw=float(excess[t]) if excess[t] > 1e-3 else 0.0,
        )
        for t, start in enumerate(ctx.grid.starts)
    )
    # The penalty is the model's: against the planned target (with its margin), as the
    # monolithic result's and the bound's; up to TOL_KW short is the schedules' rounding.
    short = np.where(in_window, np.maximum(0.0, target * settings.margin_factor - response), 0.0)
    short = np.where(short > TOL_KW, short, 0.0)
    penalty_cny = settings.shortfall_penalty_cny_per_kwh * ctx.dt_h * (short.sum() + short.max())
    costs = CostBreakdown(
        compensation_cny=sum(r.costs.compensation_cny for r in results),
        rotation_cny=sum(r.costs.rotation_cny for r in results),
        degradation_cny=sum(r.costs.degradation_cny for r in results),
        energy_cny=sum(r.costs.energy_cny for r in results),
        shortfall_penalty_cny=float(penalty_cny),
        rebound_penalty_cny=settings.rebound_penalty_cny_per_kwh
        * ctx.dt_h
        * float(excess.sum() + excess.max(initial=0.0)),
    )
    result = DispatchResult(
        event=problem.event,
        grid=problem.grid,
        target_kw=ctx.target_kw,
        schedules=schedules,
        intervals=intervals,
        costs=costs,
        solve=_merged_stats(results, costs, settings, how),
        rebound_cap_kw=cap,
        baseline_peak_kw=float(base.max(initial=0.0)),
    )
    # Each group checked its own resources already (same grid and data); what couples
    # groups, the feeders and the target, is checked again on the whole.
    violations = [line for r in results for line in r.violations if line.split(":")[0] in by_key]
    violations += check_feeders(problem, result) + check_target(result) + check_rebound(result)
    if violations:
        logger.error("decomposed dispatch violates limits: %s", "; ".join(violations))
    return result.model_copy(update={"violations": tuple(violations)})


def _window_response(results: Sequence[DispatchResult]) -> FloatArray:
    rows = [[i.expected_response_kw for i in r.event_intervals] for r in results]
    return np.asarray(np.sum(rows, axis=0), dtype=np.float64)


def _merged_stats(
    results: Sequence[DispatchResult], costs: CostBreakdown, settings: DispatchSettings, how: str
) -> SolveStats:
    stats = [r.solve for r in results]
    status = max((s.status for s in stats), key=_SEVERITY.index)
    objective = costs.cost_cny + costs.rotation_cny + costs.shortfall_penalty_cny
    gap: float | None = None
    if all(s.mip_gap is not None and s.objective_cny is not None for s in stats):
        total = sum(abs(s.objective_cny or 0.0) for s in stats)
        loose = sum((s.mip_gap or 0.0) * abs(s.objective_cny or 0.0) for s in stats)
        gap = loose / total if total > 0 else 0.0
    worst = max(stats, key=lambda s: _SEVERITY.index(s.status))
    # Times are summed over groups (solver effort); wall-clock phases follow in the text.
    return SolveStats(
        status=status,
        termination=f"decomposed: {how}; worst group {worst.termination}",
        backend=settings.backend,
        objective_cny=objective,
        mip_gap=gap,
        build_s=sum(s.build_s for s in stats),
        solve_s=sum(s.solve_s for s in stats),
        extract_s=sum(s.extract_s for s in stats),
        n_variables=sum(s.n_variables for s in stats),
        n_constraints=sum(s.n_constraints for s in stats),
        n_integer=sum(s.n_integer for s in stats),
    )


def _split_feeders(groups: Sequence[Group]) -> set[str]:
    seen: set[str] = set()
    split: set[str] = set()
    for g in groups:
        split |= seen.intersection(g.feeder_ids)
        seen |= set(g.feeder_ids)
    return split


def _members(problem: DispatchProblem, groups: Sequence[Group]) -> dict[str, list[int]]:
    """Resources of each group on each feeder."""
    count: dict[str, list[int]] = defaultdict(lambda: [0] * len(groups))
    where = {k: i for i, g in enumerate(groups) for k in g.keys}
    for ref in problem.refs():
        count[ref.enterprise.feeder_id][where[ref.key]] += 1
    return count


def _scaled_feeders(
    problem: DispatchProblem, group: Group, split: set[str], groups: Sequence[Group]
) -> dict[str, Feeder]:
    """Split feeders scaled by the group's share of their resources (flexibility estimate)."""
    if not split.intersection(group.feeder_ids):
        return {}
    count = _members(problem, groups)
    i = groups.index(group)
    out = {}
    for feeder_id in split.intersection(group.feeder_ids):
        feeder = problem.district.feeder(feeder_id)
        w = count[feeder_id][i] / sum(count[feeder_id])
        out[feeder_id] = feeder.model_copy(
            update={
                "capacity_kw": w * feeder.capacity_kw,
                "background_load_kw": tuple(w * v for v in feeder.background_load_kw),
            }
        )
    return out


def _shared_feeders(
    problem: DispatchProblem,
    groups: Sequence[Group],
    split: set[str],
    flex: Sequence[GroupFlexibility],
) -> list[dict[str, Feeder]]:
    """Each group's part of every split feeder: ``base_g + w_g (headroom - base)`` [kW]."""
    out: list[dict[str, Feeder]] = [{} for _ in groups]
    if not split:
        return out
    count = _members(problem, groups)
    grid = problem.grid
    for feeder_id in split:
        feeder = problem.district.feeder(feeder_id)
        headroom = feeder.capacity_kw - grid.sample_daily(feeder.background_load_kw)
        parts = [i for i, g in enumerate(groups) if feeder_id in g.feeder_ids]
        base = np.sum([flex[i].feeder_baseline_kw[feeder_id] for i in parts], axis=0)
        total = sum(count[feeder_id])
        for i in parts:
            w = count[feeder_id][i] / total
            mine = flex[i].feeder_baseline_kw[feeder_id] + w * (headroom - base)
            out[i][feeder_id] = _feeder_with_headroom(feeder, grid, mine)
    return out


def _feeder_with_headroom(feeder: Feeder, grid: TimeGrid, headroom_kw: FloatArray) -> Feeder:
    """A feeder whose headroom on ``grid`` is at most ``headroom_kw`` in every interval.

    The background is a quarter-hourly daily profile; where intervals share a time of day
    (a horizon longer than a day) the smallest headroom is kept.
    """
    slot = grid.minute_of_day // 15
    per_slot = np.full(96, np.inf)
    np.minimum.at(per_slot, slot, headroom_kw)
    capacity = max(1.0, float(np.max(headroom_kw)))
    background = np.where(np.isfinite(per_slot), capacity - per_slot, capacity)
    return feeder.model_copy(
        update={"capacity_kw": capacity, "background_load_kw": tuple(background.tolist())}
    )


def _shared_rebound_room(
    problem: DispatchProblem,
    settings: DispatchSettings,
    groups: Sequence[Group],
    flex: Sequence[GroupFlexibility],
) -> list[FloatArray | None]:
    """Each group's part of the portfolio's rebound limit: ``base_g + w_g (limit - base)``
    [kW], ``w_g`` its share of the resources, as split feeders are shared."""
    bases = [f.baseline_kw for f in flex]
    if any(b is None for b in bases):
        return [None] * len(groups)
    ctx = build_context(problem, settings, "min_cost")
    base = np.sum([b for b in bases if b is not None], axis=0)
    _, limit = portfolio_limit_kw(problem, ctx, base)
    if np.all(np.isnan(limit)):
        return [None] * len(groups)
    total = sum(g.size for g in groups)
    return [
        b + g.size / total * (limit - base)
        for g, b in zip(groups, bases, strict=True)
        if b is not None
    ]


def _capped(sub: DispatchProblem, rebound_limit_kw: FloatArray | None) -> DispatchProblem:
    return replace(sub, rebound_limit_kw=rebound_limit_kw)


def sub_problem(
    problem: DispatchProblem,
    group: Group,
    feeders: dict[str, Feeder] | None = None,
    target_kw: FloatArray | None = None,
) -> DispatchProblem:
    """The group's own problem: its enterprises, their feeders (or shares), its target."""
    district = problem.district
    members = group.enterprise_ids
    sub_district = district.model_copy(
        update={
            "enterprises": tuple(e for e in district.enterprises if e.enterprise_id in members),
            "feeders": tuple((feeders or {}).get(f, district.feeder(f)) for f in group.feeder_ids),
            "rotation_counts": {e: n for e, n in district.rotation_counts.items() if e in members},
        }
    )
    return replace(
        problem,
        district=sub_district,
        load_baselines_kw={
            k: problem.load_baselines_kw[k] for k in group.keys if k in problem.load_baselines_kw
        },
        events_today={k: problem.events_today[k] for k in group.keys if k in problem.events_today},
        resource_keys=group.keys,
        target_override_kw=None if target_kw is None else np.asarray(target_kw, dtype=np.float64),
    )
