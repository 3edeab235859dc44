"""Stationary storage: commanded to a power, bounded by its charge and discharge ratings."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, model_validator

from vpp.domain._base import Fraction, NonNegativeFloat, PositiveFloat
from vpp.domain.dispatch import SetpointMode
from vpp.domain.kinds.spec import ResourceBase, ResourceKind


class Battery(ResourceBase):
    """Stationary storage; never charges and discharges in the same interval."""

    kind: Literal["battery"] = "battery"
    capacity_kwh: PositiveFloat
    max_charge_kw: PositiveFloat
    max_discharge_kw: PositiveFloat
    charge_efficiency: Annotated[float, Field(gt=0.0, le=1.0)] = 0.95
    discharge_efficiency: Annotated[float, Field(gt=0.0, le=1.0)] = 0.95
    soc_min: Fraction = 0.1
    soc_max: Fraction = 0.9
    soc_initial: Fraction = 0.5
    soc_final_min: Fraction = Field(
        default=0.5, description="SoC required at the end of the horizon"
    )
    degradation_cny_per_kwh: NonNegativeFloat = Field(
        default=0.05, description="cost per kWh of throughput (charge + discharge)"
    )
    price_cny_per_kwh: NonNegativeFloat = Field(default=0.0, description="asked price for response")

    @model_validator(mode="after")
    def _soc_bounds(self) -> Battery:
        if self.soc_min >= self.soc_max:
            raise ValueError(f"soc_min: {self.soc_min} must be below soc_max ({self.soc_max})")
        for field in ("soc_initial", "soc_final_min"):
            value = getattr(self, field)
            if not self.soc_min <= value <= self.soc_max:
                raise ValueError(
                    f"{field}: {value} must lie within soc_min..soc_max "
                    f"({self.soc_min}..{self.soc_max})"
                )
        return self


def _power_range_kw(battery: Battery) -> tuple[float, float]:
    return -battery.max_discharge_kw, battery.max_charge_kw


def _full_recharge(battery: Battery) -> timedelta:
    """A full recharge at its rated power, soc_min to soc_max."""
    kwh = (battery.soc_max - battery.soc_min) * battery.capacity_kwh / battery.charge_efficiency
    return timedelta(hours=kwh / battery.max_charge_kw)


BATTERY = ResourceKind(
    name="battery",
    model=Battery,
    modes=(SetpointMode.POWER,),
    command_range_kw=_power_range_kw,
    range_names=("-max_discharge_kw", "max_charge_kw"),
    envelope_kw=lambda battery, headroom_pct: _power_range_kw(battery),
    flexibility_kw=lambda battery: battery.max_discharge_kw,
    stores_energy=True,
    ramp_lead_s=0.0,  # ramps in seconds
    recovers_under_command=True,  # recharges as planned
    recovery=_full_recharge,
    plot_color="#55A868",
)
