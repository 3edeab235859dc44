"""Industrial load that sheds in steps: commanded a limit, measured against its meters."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator, model_validator

from vpp.domain._base import DailyProfile, Fraction, FrozenModel, NonNegativeFloat, PositiveFloat
from vpp.domain.dispatch import SetpointMode
from vpp.domain.kinds.spec import ResourceBase, ResourceKind


class CurtailmentStep(FrozenModel):
    """An all-or-nothing block of load (a process line, a unit) shed together."""

    power_kw: PositiveFloat
    price_cny_per_kwh: NonNegativeFloat = Field(description="asked price for curtailed energy")


class CurtailableLoad(ResourceBase):
    """Industrial load that sheds in steps; steps are shed in the order listed (nested).

    Curtailed energy partly comes back after the event (rebound): ``rebound_fraction`` of it
    is consumed again, spread evenly over ``rebound_duration_min`` after the curtailment ends.
    """

    kind: Literal["curtailable_load"] = "curtailable_load"
    typical_load_kw: DailyProfile = Field(description="typical daily load shape [kW]")
    steps: tuple[CurtailmentStep, ...] = Field(min_length=1, max_length=10)
    min_notice_min: int = Field(default=30, ge=0, description="notice needed before shedding [min]")
    max_duration_min: int = Field(
        default=240, gt=0, description="longest continuous curtailment [min]"
    )
    max_events_per_day: int = Field(default=1, ge=1, le=24)
    min_rest_min: int = Field(default=60, ge=0, description="rest between two curtailments [min]")
    rebound_fraction: Fraction = 0.0
    rebound_duration_min: int = Field(default=60, gt=0)

    @field_validator("typical_load_kw")
    @classmethod
    def _non_negative(cls, values: tuple[float, ...]) -> tuple[float, ...]:
        if min(values) < 0:
            raise ValueError("a load cannot be negative")
        return values

    @model_validator(mode="after")
    def _steps_fit_load(self) -> CurtailableLoad:
        total = sum(step.power_kw for step in self.steps)
        if total > max(self.typical_load_kw) + 1e-9:
            raise ValueError(
                f"steps: shed {total:g} kW in total, more than the largest typical load "
                f"{max(self.typical_load_kw):g} kW"
            )
        return self

    @property
    def max_curtailment_kw(self) -> float:
        return sum(step.power_kw for step in self.steps)


def _envelope_kw(load: CurtailableLoad, typical_headroom_pct: float) -> tuple[float, float]:
    """``[0, (1 + headroom) max(typical_load_kw) + rebound]``: it registers a typical day,
    not a maximum, and a real day strays from that (seasonal drift, noise); the rebound is
    the fastest pay-back its registration allows: every step shed for ``max_duration_min``,
    ``rebound_fraction`` of it paid back over ``rebound_duration_min``."""
    rebound_kw = (
        load.rebound_fraction
        * load.max_curtailment_kw
        * load.max_duration_min
        / load.rebound_duration_min
    )
    peak_kw = (1.0 + typical_headroom_pct / 100.0) * max(load.typical_load_kw)
    return 0.0, peak_kw + rebound_kw


def asked_price_cny_per_kwh(load: CurtailableLoad, asked_kw: float) -> float:
    """Steps are shed in order (nested), so ``asked_kw`` covers them from the first; the
    price is the shed-weighted mean over the covered steps (the first step's price when
    nothing is shed) [CNY/kWh]."""
    remaining_kw = asked_kw
    covered_kw = 0.0
    cost = 0.0
    for step in load.steps:
        if remaining_kw <= 0:
            break
        shed_kw = min(step.power_kw, remaining_kw)
        covered_kw += shed_kw
        cost += shed_kw * step.price_cny_per_kwh
        remaining_kw -= shed_kw
    return cost / covered_kw if covered_kw > 0 else load.steps[0].price_cny_per_kwh


CURTAILABLE_LOAD = ResourceKind(
    name="curtailable_load",
    model=CurtailableLoad,
    modes=(SetpointMode.LIMIT,),
    command_range_kw=lambda load: (0.0, float("inf")),  # a limit above the load sheds nothing
    envelope_kw=_envelope_kw,
    flexibility_kw=lambda load: load.max_curtailment_kw,
    ramp_lead_s=300.0,
    recovery=lambda load: timedelta(minutes=load.rebound_duration_min),
    asked_price_cny_per_kwh=asked_price_cny_per_kwh,
    plot_color="#4C72B0",
)
