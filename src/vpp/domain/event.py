"""Demand-response events as a grid operator issues them."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, Field, model_validator

from vpp.domain._base import FrozenModel, Slug

MAX_TARGET_KW = 1e7
"""The largest target an event may ask [kW] (10 GW: more than a province's 5%); beyond it the
solver's shortfall prices lose their precision."""

TargetKw = Annotated[float, Field(gt=0.0, le=MAX_TARGET_KW, allow_inf_nan=False)]


def kw_of_pct(pct: float, of_kw: float) -> float:
    """``pct`` [%] of ``of_kw`` [kW], in kW: the one place a share of a peak becomes kW."""
    return of_kw * pct / 100.0


def pct_of_kw(part_kw: float, of_kw: float) -> float:
    """What share of ``of_kw`` [kW] ``part_kw`` [kW] is [%] (the inverse of
    :func:`kw_of_pct`)."""
    return 100 * part_kw / of_kw


class EventKind(StrEnum):
    PEAK_SHAVING = "peak_shaving"  # 削峰: reduce load against the baseline
    VALLEY_FILLING = "valley_filling"  # 填谷: raise load against the baseline


class Notice(StrEnum):
    DAY_AHEAD = "day_ahead"  # 日前邀约
    INTRADAY = "intraday"  # 日内
    REAL_TIME = "real_time"  # 实时


class EventSource(StrEnum):
    """Who issued an event: the REST API, the command line, or a utility's VTN."""

    API = "api"
    CLI = "cli"
    OPENADR = "openadr"


class DemandResponseEvent(FrozenModel):
    """A window, a target (kW, or % of the district peak), a kind and a notice."""

    event_id: Slug
    kind: EventKind = EventKind.PEAK_SHAVING
    start: AwareDatetime
    end: AwareDatetime
    target_kw: TargetKw | None = Field(default=None, description="response per interval [kW]")
    target_pct_of_peak: Annotated[float, Field(gt=0, le=100)] | None = Field(
        default=None, description="response per interval [% of district peak]"
    )
    notice: Notice = Notice.DAY_AHEAD
    issued_at: AwareDatetime
    source: EventSource = EventSource.API
    vtn_event_id: str | None = Field(
        default=None, max_length=200, description="the VTN's eventID (source openadr)"
    )
    modification_number: Annotated[int, Field(ge=0)] | None = Field(
        default=None, description="the VTN's modificationNumber this event follows"
    )

    @model_validator(mode="after")
    def _consistent(self) -> DemandResponseEvent:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if (self.target_kw is None) == (self.target_pct_of_peak is None):
            raise ValueError("give exactly one of target_kw and target_pct_of_peak")
        if self.issued_at > self.start:
            raise ValueError("issued_at must not be after start")
        if (self.source is EventSource.OPENADR) != (self.vtn_event_id is not None):
            raise ValueError("vtn_event_id is given exactly for source openadr")
        return self

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def direction(self) -> float:
        """+1 when response means less load (peak shaving), -1 when it means more."""
        return 1.0 if self.kind is EventKind.PEAK_SHAVING else -1.0

    def target_kw_for(self, district_peak_kw: float) -> float:
        """The target in kW, resolving a percentage against the district peak."""
        if self.target_kw is not None:
            return self.target_kw
        assert self.target_pct_of_peak is not None
        return kw_of_pct(self.target_pct_of_peak, district_peak_kw)
