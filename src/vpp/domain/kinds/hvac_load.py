"""Cooling of a commercial building: a thermal model commanded to a power or a limit."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, model_validator

from vpp.domain._base import DailyProfile, FiniteFloat, NonNegativeFloat, PositiveFloat
from vpp.domain.dispatch import SetpointMode
from vpp.domain.kinds.spec import ResourceBase, ResourceKind

#: Indoor temperatures a building can have [°C]; a reading outside is a lie or a fault.
INDOOR_MIN_C = -50.0
INDOOR_MAX_C = 80.0


class HvacLoad(ResourceBase):
    """Cooling of a commercial building as a first-order thermal model (one R, one C).

    Indoor temperature follows ``C dT/dt = (T_out - T)/R - COP * P``; the baseline holds
    ``setpoint_c``, so dispatch can pre-cool before an event and drift up to the comfort limit.
    """

    kind: Literal["hvac_load"] = "hvac_load"
    rated_power_kw: PositiveFloat
    cop: PositiveFloat = 3.0
    thermal_resistance_c_per_kw: PositiveFloat
    thermal_capacitance_kwh_per_c: PositiveFloat
    comfort_min_c: FiniteFloat = 22.0
    comfort_max_c: FiniteFloat = 26.0
    setpoint_c: FiniteFloat = 24.0
    outdoor_temperature_c: DailyProfile = Field(description="outdoor temperature forecast [°C]")
    precool_min: int = Field(
        default=120, ge=0, description="how long before an event it may pre-cool"
    )
    recovery_min: int = Field(
        default=120, gt=0, description="time to return to normal after an event"
    )
    price_cny_per_kwh: NonNegativeFloat = Field(default=0.0, description="asked price for response")
    temperature_initial_c: FiniteFloat | None = Field(
        default=None,
        description="indoor temperature at the start of a plan's first free interval [°C]; "
        "None: the baseline thermostat's (a controller sets it for a building still "
        "recovering from an earlier event)",
    )

    @model_validator(mode="after")
    def _comfort_band(self) -> HvacLoad:
        if self.comfort_min_c >= self.comfort_max_c:
            raise ValueError(
                f"comfort_min_c: {self.comfort_min_c} must be below "
                f"comfort_max_c ({self.comfort_max_c})"
            )
        initial = self.temperature_initial_c
        if initial is not None and not INDOOR_MIN_C <= initial <= INDOOR_MAX_C:
            raise ValueError(
                f"temperature_initial_c: {initial} is not an indoor temperature "
                f"({INDOOR_MIN_C:g}..{INDOOR_MAX_C:g} °C)"
            )
        if not self.comfort_min_c <= self.setpoint_c <= self.comfort_max_c:
            raise ValueError(
                f"setpoint_c: {self.setpoint_c} must lie in the comfort band "
                f"{self.comfort_min_c}..{self.comfort_max_c}"
            )
        return self


def _rated_range_kw(hvac: HvacLoad) -> tuple[float, float]:
    return 0.0, hvac.rated_power_kw


HVAC_LOAD = ResourceKind(
    name="hvac_load",
    model=HvacLoad,
    modes=(SetpointMode.POWER, SetpointMode.LIMIT),
    command_range_kw=_rated_range_kw,
    range_names=("", "rated_power_kw"),
    envelope_kw=lambda hvac, headroom_pct: _rated_range_kw(hvac),
    flexibility_kw=lambda hvac: hvac.rated_power_kw,
    ramp_lead_s=600.0,
    recovers_under_command=True,  # ramps back from pre-cooling and shedding (snapback)
    recovery=lambda hvac: timedelta(minutes=hvac.recovery_min),
    plot_color="#8172B2",
)
