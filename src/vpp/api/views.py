"""Request and response bodies the domain models do not cover: event requests with
relative times, live event state, pages, tokens, simulations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from vpp.domain import (
    DemandResponseEvent,
    Enterprise,
    EventKind,
    FrozenModel,
    Notice,
    Slug,
    TargetKw,
)
from vpp.settlement import EnterpriseTotals
from vpp.store import Role

ItemT = TypeVar("ItemT")

#: Longest page a list returns.
MAX_LIMIT = 500


class Page(BaseModel, Generic[ItemT]):
    """One page of a list in a stable order; ask again with ``offset=next_offset``."""

    items: list[ItemT]
    total: int
    limit: int
    offset: int
    next_offset: int | None


def page_of(items: list[ItemT], total: int, offset: int, limit: int) -> Page[ItemT]:
    after = offset + len(items)
    return Page(
        items=items,
        total=total,
        limit=limit,
        offset=offset,
        next_offset=after if after < total else None,
    )


class EventRequest(FrozenModel):
    """An event as a grid operator asks for it. Times carry their offset; ``lead_min`` and
    ``duration_min`` say "in 30 min, for 1 h" instead of clock times."""

    event_id: Slug | None = Field(default=None, description="default: generated")
    kind: EventKind = EventKind.PEAK_SHAVING
    start: AwareDatetime | None = Field(default=None, description="on an interval boundary")
    end: AwareDatetime | None = None
    lead_min: Annotated[int, Field(ge=0, le=7 * 1440)] | None = Field(
        default=None, description="start at the first interval boundary this long from now [min]"
    )
    duration_min: Annotated[int, Field(gt=0, le=1440)] | None = Field(
        default=None, description="window length, a whole number of intervals [min]"
    )
    target_kw: TargetKw | None = Field(default=None, description="[kW]")
    target_pct_of_peak: Annotated[float, Field(gt=0, le=100)] | None = Field(
        default=None, description="[% of district peak]"
    )
    notice: Notice = Notice.DAY_AHEAD

    @model_validator(mode="after")
    def _one_of_each(self) -> EventRequest:
        if (self.start is None) == (self.lead_min is None):
            raise ValueError("start: give exactly one of start and lead_min")
        if (self.end is None) == (self.duration_min is None):
            raise ValueError("end: give exactly one of end and duration_min")
        if (self.target_kw is None) == (self.target_pct_of_peak is None):
            raise ValueError("target_kw: give exactly one of target_kw and target_pct_of_peak")
        return self


class EventChange(FrozenModel):
    """A new target for a pending or running event (exactly one of the two)."""

    target_kw: TargetKw | None = Field(default=None, description="[kW]")
    target_pct_of_peak: Annotated[float, Field(gt=0, le=100)] | None = None

    @model_validator(mode="after")
    def _one(self) -> EventChange:
        if (self.target_kw is None) == (self.target_pct_of_peak is None):
            raise ValueError("target_kw: give exactly one of target_kw and target_pct_of_peak")
        return self


class CancelRequest(FrozenModel):
    reason: str = Field(default="cancelled by operator", max_length=500)


class StateView(BaseModel):
    at: datetime
    state: str
    note: str
    incarnation: int = Field(description="controller run: a restart starts a new one")


class IntervalView(BaseModel):
    """One event interval: portfolio totals of the participants [kW]."""

    start: datetime
    target_kw: float
    planned_kw: float
    baseline_kw: float | None = None
    actual_kw: float | None = None
    delivered_kw: float | None = Field(default=None, description="None: not measured yet")
    shortfall_kw: float | None = None
    met: bool | None = None
    missing_meters: int = 0


class RedispatchView(BaseModel):
    at: datetime
    reason: str
    from_interval: datetime | None = None
    dropped: list[str]
    added: list[str]
    residual_kw: float
    rebound_excess_kw: float = Field(
        default=0.0, description="how far above the rebound cap's room the re-plan went [kW]"
    )
    solver_status: str


class ReboundView(BaseModel):
    """The portfolio's load in the hours after the event against the rebound cap [kW]:
    this event's plans as they stand (the other events' resources at their baselines) and
    what the meters measured in the intervals ended so far."""

    cap_kw: float | None = Field(description="None: the district has no rebound cap")
    baseline_peak_kw: float | None
    planned_peak_kw: float
    planned_peak_at: datetime
    measured_peak_kw: float | None = Field(description="None: no interval after it ended yet")
    measured_peak_at: datetime | None
    measured_intervals: int
    intervals_above_cap: int = Field(description="measured intervals above the cap")
    meters_from_plan_at_peak: int = Field(
        description="meters without a trusted reading in the measured peak's interval, "
        "counted at their plan's power"
    )


class EventView(BaseModel):
    """An event's live state as the operator watches it."""

    event: DemandResponseEvent
    state: str
    target_kw: float
    plan: dict[str, Any] | None
    history: list[StateView]
    intervals: list[IntervalView]
    delivered_kwh: float = Field(description="measured response so far [kWh]")
    shortfall_kwh: float = Field(description="target minus delivered in measured intervals [kWh]")
    redispatches: list[RedispatchView]
    rebound: ReboundView | None = Field(
        default=None,
        description="after the event, against the rebound cap (while the "
        "controller holds the event's run)",
    )
    devices_redispatched: list[str] = Field(description="site/resource dropped or added")
    settlement: dict[str, Any] | None = Field(description="totals once the event is settled")
    openadr: dict[str, Any] | None = Field(
        default=None,
        description="source openadr: the VEN's answer (opt, reason, target_kw, "
        "capability_kw, margin_kw [kW]) to the VTN's event and modification number",
    )


class EnterpriseEventView(BaseModel):
    """An event as one participating enterprise sees it: its own part only."""

    event: DemandResponseEvent
    state: str
    resources: list[str]
    asked_kwh: float
    delivered_kwh: float | None
    settlement: dict[str, Any] | None


class SetpointView(BaseModel):
    command_id: str
    event_id: str | None
    site_id: str
    resource_id: str
    mode: str
    power_kw: float
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime
    ack_status: str | None
    ack_reason: str | None


class SettlementView(BaseModel):
    event_id: str
    enterprise_id: str
    line: dict[str, Any]


class SettlementPage(Page[SettlementView]):
    """One page of an enterprise's settlement lines, and its totals over every settled event
    (all pages; docs/settlement.md)."""

    totals: EnterpriseTotals


class RegistrationView(BaseModel):
    enterprise: Enterprise
    created: bool


class CapabilityView(BaseModel):
    start: datetime
    end: datetime
    notice: Notice
    district_peak_kw: float
    target_pct: float
    target_kw: float
    deliverable_kw: float
    percent_of_peak: float
    meets_target: bool
    margin_kw: float
    solver_status: str
    by_kind_kw: dict[str, float]
    by_enterprise_kw: dict[str, float]


class ClockView(BaseModel):
    now: datetime
    time_scale: float
    timezone: str
    next_interval_start: datetime


class TokenRequest(FrozenModel):
    role: Role
    enterprise_id: Slug | None = None
    name: str | None = Field(default=None, max_length=200)


class TokenView(BaseModel):
    token_id: str
    role: Role
    enterprise_id: str | None
    name: str | None
    created_at: datetime
    revoked_at: datetime | None


class NewTokenView(TokenView):
    secret: str = Field(description="shown once; send as 'Authorization: Bearer <secret>'")


class SimulationRequest(FrozenModel):
    """A scenario by name (a file in the service's scenarios folder) or as YAML text."""

    scenario: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,100}$")] | None = None
    scenario_yaml: Annotated[str, Field(max_length=200_000)] | None = None

    @model_validator(mode="after")
    def _one(self) -> SimulationRequest:
        if (self.scenario is None) == (self.scenario_yaml is None):
            raise ValueError("scenario: give exactly one of scenario and scenario_yaml")
        return self


class SimulationView(BaseModel):
    simulation_id: str
    scenario: str
    status: str = Field(description="running, succeeded or failed")
    progress: float = Field(description="share of the simulated day done [0..1]")
    created_at: datetime
    finished_at: datetime | None
    error: str | None
    summary: dict[str, Any] | None
    files: list[str]
