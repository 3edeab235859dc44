"""What the optimiser decides: schedules per resource, outcomes per interval, and setpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, Field

from vpp.domain._base import FiniteFloat, FrozenModel, Slug
from vpp.domain.event import DemandResponseEvent
from vpp.domain.timegrid import TimeGrid

#: Power deviations smaller than this are treated as following the baseline [kW].
DEVIATION_TOL_KW = 1e-3


class SetpointMode(StrEnum):
    LIMIT = "limit"  # consumption may not exceed power_kw (curtailable loads, EV chargers, HVAC)
    POWER = "power"  # follow power_kw exactly (batteries; negative = discharge)
    RELEASE = "release"  # return to normal operation


class Setpoint(FrozenModel):
    """A command to one resource; a lease that lapses at ``valid_until``."""

    command_id: str
    site_id: Slug
    resource_id: Slug
    issued_at: AwareDatetime
    mode: SetpointMode
    power_kw: FiniteFloat
    valid_from: AwareDatetime
    valid_until: AwareDatetime


class ResourceSchedule(FrozenModel):
    """One resource's plan over the horizon; ``power_kw`` is the expected net consumption."""

    enterprise_id: Slug
    feeder_id: Slug
    site_id: Slug
    resource_id: Slug
    kind: str
    mode: SetpointMode
    baseline_kw: tuple[float, ...]
    power_kw: tuple[float, ...]
    setpoint_kw: tuple[float | None, ...] = Field(
        description="commanded value per interval; None where the resource runs normally"
    )

    @property
    def key(self) -> str:
        return f"{self.site_id}/{self.resource_id}"


class IntervalOutcome(FrozenModel):
    """Portfolio totals in one interval of the horizon."""

    start: AwareDatetime
    in_event: bool
    target_kw: float
    baseline_kw: float
    expected_power_kw: float
    expected_response_kw: float
    shortfall_kw: float
    rebound_limit_kw: float | None = Field(
        default=None,
        description="portfolio load limit outside the window [kW]; None inside it or uncapped",
    )
    rebound_excess_kw: float = Field(
        default=0.0, ge=0, description="planned load above rebound_limit_kw [kW]"
    )


class SolveStatus(StrEnum):
    OPTIMAL = "optimal"  # proven within the requested gap
    FEASIBLE = "feasible"  # a solution, but the limit struck before the gap was proven
    FALLBACK = "fallback"  # the MILP gave nothing usable in time; a rounded LP relaxation
    FAILED = "failed"


class SolveStats(FrozenModel):
    status: SolveStatus
    termination: str
    backend: str
    objective_cny: float | None
    mip_gap: float | None
    build_s: float
    solve_s: float
    extract_s: float
    n_variables: int
    n_constraints: int
    n_integer: int


class CostBreakdown(FrozenModel):
    """Objective terms [CNY]; penalties are priced violations, not money paid."""

    compensation_cny: float = 0.0
    rotation_cny: float = 0.0
    degradation_cny: float = 0.0
    energy_cny: float = 0.0
    shortfall_penalty_cny: float = 0.0
    rebound_penalty_cny: float = 0.0

    @property
    def cost_cny(self) -> float:
        """Money the dispatch costs: compensation, degradation and extra energy."""
        return self.compensation_cny + self.degradation_cny + self.energy_cny


class DispatchResult(FrozenModel):
    event: DemandResponseEvent
    grid: TimeGrid
    target_kw: float
    schedules: tuple[ResourceSchedule, ...]
    intervals: tuple[IntervalOutcome, ...]
    costs: CostBreakdown
    solve: SolveStats
    violations: tuple[str, ...] = ()
    rebound_cap_kw: float | None = Field(
        default=None, description="the portfolio's load cap outside the window [kW]"
    )
    baseline_peak_kw: float | None = Field(
        default=None, description="the portfolio baseline's peak over the horizon [kW]"
    )

    @property
    def event_intervals(self) -> tuple[IntervalOutcome, ...]:
        return tuple(i for i in self.intervals if i.in_event)

    @property
    def max_shortfall_kw(self) -> float:
        return max((i.shortfall_kw for i in self.event_intervals), default=0.0)

    @property
    def meets_target(self) -> bool:
        return self.max_shortfall_kw <= DEVIATION_TOL_KW * 10

    @property
    def max_rebound_excess_kw(self) -> float:
        """The largest planned load above the rebound cap, the cap's shortfall [kW]."""
        return max((i.rebound_excess_kw for i in self.intervals), default=0.0)

    @property
    def post_event_peak_kw(self) -> float:
        """The largest planned portfolio load after the window [kW]."""
        end = self.event.end
        after = [i.expected_power_kw for i in self.intervals if i.start >= end]
        return max(after, default=0.0)

    def setpoints(self, issued_at: datetime) -> list[Setpoint]:
        """One setpoint per resource and interval where it deviates from normal operation.

        Each setpoint lapses at the end of its interval, so a device left without a
        controller returns to normal operation by itself.
        """
        out: list[Setpoint] = []
        starts = self.grid.starts
        ends = (*starts[1:], self.grid.end)
        for schedule in self.schedules:
            for t, value in enumerate(schedule.setpoint_kw):
                if value is None:
                    continue
                out.append(
                    Setpoint(
                        command_id=str(
                            uuid.uuid5(
                                uuid.NAMESPACE_URL,
                                f"{self.event.event_id}/{schedule.key}/{starts[t].isoformat()}/{issued_at.isoformat()}",
                            )
                        ),
                        site_id=schedule.site_id,
                        resource_id=schedule.resource_id,
                        issued_at=issued_at,
                        mode=schedule.mode,
                        power_kw=value,
                        valid_from=starts[t],
                        valid_until=ends[t],
                    )
                )
        return out
