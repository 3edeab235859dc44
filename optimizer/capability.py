"""Capability: the largest response the portfolio can sustain through a window.

The same model as dispatch with the target replaced by ``response[t] >= level`` in every
window interval and ``level`` maximised (costs only break ties). Breakdowns solve it again
for each resource kind and each enterprise on its own, so they say what each can deliver
alone; feeder limits couple resources, so the parts need not add up to the whole.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from vpp.domain import SolverError, SolveStatus
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
) -> CapabilityReport:
    """The district's deliverable response in the event's window, with breakdowns."""
    settings = settings or DispatchSettings(mip_rel_gap=1e-4)
    total, status = max_sustained_response(problem, settings)
    district = problem.district
    by_kind: dict[str, set[str]] = defaultdict(set)
    by_enterprise: dict[str, set[str]] = defaultdict(set)
    for ref in problem.refs():
        by_kind[ref.resource.kind].add(ref.key)
        by_enterprise[ref.enterprise.enterprise_id].add(ref.key)
    kind_kw: dict[str, float] = {}
    enterprise_kw: dict[str, float] = {}
    if breakdown:
        for kind, keys in by_kind.items():
            kind_kw[kind], _ = max_sustained_response(
                problem.restricted_to(frozenset(keys)), settings
            )
        for enterprise_id, keys in by_enterprise.items():
            enterprise_kw[enterprise_id], _ = max_sustained_response(
                problem.restricted_to(frozenset(keys)), settings
            )
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
