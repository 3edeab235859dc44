"""Capability: the largest response the portfolio can sustain through a window.

The same model as dispatch with the target replaced by ``response[t] >= level`` in every
window interval and ``level`` maximised (costs only break ties). Breakdowns solve it again
for each resource kind and each enterprise on its own, so they say what each can deliver
alone; feeder limits couple resources, so the parts need not add up to the whole.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field

from vpp.domain import ResourceRef, SolverError, SolveStatus
from vpp.optimizer.model import build_model
from vpp.optimizer.problem import DispatchProblem, DispatchSettings
from vpp.optimizer.solve import solve


@dataclass(frozen=True)
class CapabilityReport:
    district_peak_kw: float
    target_pct: float
    target_kw: float
    deliverable_kw: float
    status: SolveStatus
    by_kind_kw: dict[str, float] = field(default_factory=dict)
    by_enterprise_kw: dict[str, float] = field(default_factory=dict)
    resource_count_by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def percent_of_peak(self) -> float:
        return 100.0 * self.deliverable_kw / self.district_peak_kw

    @property
    def meets_target(self) -> bool:
        return self.deliverable_kw >= self.target_kw - 1e-6

    @property
    def margin_kw(self) -> float:
        """Deliverable minus target: negative is the shortfall [kW]."""
        return self.deliverable_kw - self.target_kw


def max_sustained_response(
    problem: DispatchProblem, settings: DispatchSettings
) -> tuple[float, SolveStatus]:
    """The response level [kW] every window interval can reach, and the solve status."""
    built = build_model(problem, settings, "max_response")
    raw = solve(built.model, settings)
    if raw.x is None:
        raise SolverError(raw.status.value, raw.termination)
    level = float(built.model.value(raw.x, "system.sustained_response_kw")[0])
    return max(0.0, round(level, 6)), raw.status


def capability(
    problem: DispatchProblem,
    settings: DispatchSettings | None = None,
    *,
    breakdown: bool = True,
    executor: Executor | None = None,
) -> CapabilityReport:
    """The district's deliverable response in the event's window, with breakdowns.

    Above ``settings.decompose_above_resources`` resources the solves run in parallel on
    ``executor`` (default: the settings' executor, else one after another here; the
    caller owns it: :mod:`vpp.optimizer.executors`): the total and
    each kind's figure are sums over groups of whole feeders, each group solved alone. A
    sum of levels each group sustains is sustained by all together, so it is deliverable;
    it may sit slightly below the monolithic figure, which can also combine groups that
    peak at different times.
    """
    settings = settings or DispatchSettings(mip_rel_gap=1e-4)
    refs = problem.refs()
    limit = settings.decompose_above_resources
    if limit is None or len(refs) <= limit:
        return _report(problem, refs, settings, breakdown, _solve_here)
    from vpp.optimizer.executors import InlineExecutor

    pool = executor or settings.executor or InlineExecutor()
    # the groups' settings travel to the workers: without the executor (it does not pickle)
    settings = settings.model_copy(update={"executor": None})
    return _report(problem, refs, settings, breakdown, _solve_on(pool))


Solver = Callable[
    [DispatchProblem, list[frozenset[str]], DispatchSettings], list[tuple[float, SolveStatus]]
]
"""Sustained response of each of several parts of a problem (each a set of resource keys)."""


def _solve_here(
    problem: DispatchProblem, parts: list[frozenset[str]], settings: DispatchSettings
) -> list[tuple[float, SolveStatus]]:
    return [max_sustained_response(problem.restricted_to(keys), settings) for keys in parts]


def _solve_on(pool: Executor) -> Solver:
    """Each part in groups of whole feeders, every group of every part solved in parallel."""
    from vpp.optimizer.decompose import Group, make_groups, map_executor, sub_problem

    def solve_parts(
        problem: DispatchProblem, parts: list[frozenset[str]], settings: DispatchSettings
    ) -> list[tuple[float, SolveStatus]]:
        where = {ref.key: ref.enterprise for ref in problem.refs()}
        owner: list[int] = []
        subs: list[DispatchProblem] = []
        for i, keys in enumerate(parts):
            enterprises = {where[k] for k in keys}
            if len(enterprises) == 1:  # one enterprise: its own group, no search
                (ent,) = enterprises
                groups = [Group(frozenset({ent.enterprise_id}), keys, (ent.feeder_id,))]
            else:
                restricted = problem.restricted_to(keys)
                groups = make_groups(restricted, "feeder", settings.group_resources)
            for group in groups:
                owner.append(i)
                subs.append(sub_problem(problem, group))
        solved = map_executor(pool, max_sustained_response, subs, [settings] * len(subs))
        totals = [0.0] * len(parts)
        statuses = [SolveStatus.OPTIMAL] * len(parts)
        for i, (level, status) in zip(owner, solved, strict=True):
            totals[i] += level
            statuses[i] = max(statuses[i], status, key=_SEVERITY.index)
        return [(round(t, 6), s) for t, s in zip(totals, statuses, strict=True)]

    return solve_parts


_SEVERITY = [SolveStatus.OPTIMAL, SolveStatus.FEASIBLE, SolveStatus.FALLBACK, SolveStatus.FAILED]


def _report(
    problem: DispatchProblem,
    refs: list[ResourceRef],
    settings: DispatchSettings,
    breakdown: bool,
    solve_parts: Solver,
) -> CapabilityReport:
    district = problem.district
    by_kind: dict[str, set[str]] = defaultdict(set)
    by_enterprise: dict[str, set[str]] = defaultdict(set)
    for ref in refs:
        by_kind[ref.resource.kind].add(ref.key)
        by_enterprise[ref.enterprise.enterprise_id].add(ref.key)
    parts = [frozenset(ref.key for ref in refs)]
    if breakdown:
        parts += [frozenset(keys) for keys in by_kind.values()]
        parts += [frozenset(keys) for keys in by_enterprise.values()]
    solved = solve_parts(problem, parts, settings)
    total, status = solved[0]
    kind_kw: dict[str, float] = {}
    enterprise_kw: dict[str, float] = {}
    if breakdown:
        levels = [level for level, _ in solved[1:]]
        kind_kw = dict(zip(by_kind, levels[: len(by_kind)], strict=True))
        enterprise_kw = dict(zip(by_enterprise, levels[len(by_kind) :], strict=True))
    return CapabilityReport(
        district_peak_kw=district.peak_load_kw,
        target_pct=district.response_target_pct,
        target_kw=district.target_kw,
        deliverable_kw=total,
        status=status,
        by_kind_kw=kind_kw,
        by_enterprise_kw=enterprise_kw,
        resource_count_by_kind={kind: len(keys) for kind, keys in by_kind.items()},
    )
