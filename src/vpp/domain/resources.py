"""Flexible resources an enterprise registers: physical limits, availability and asked prices.

Sign convention (ARCHITECTURE.md): power is consumption from the grid [kW]; generation and
battery discharge are negative; a reduction is baseline minus actual.
"""

from __future__ import annotations

from datetime import time
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from vpp.domain._base import (
    ALL_DAY,
    DailyProfile,
    DailyWindow,
    FiniteFloat,
    Fraction,
    FrozenModel,
    NonNegativeFloat,
    PositiveFloat,
    Slug,
)


class _ResourceBase(FrozenModel):
    resource_id: Slug
    name: str | None = None
    availability: tuple[DailyWindow, ...] = Field(
        default=(ALL_DAY,),
        min_length=1,
        description="local times of day the owner allows dispatch, e.g. ['08:00-22:00']",
    )
    protocol: Slug | None = Field(
        default=None,
        description="how vpp reaches this resource (mqtt, ocpp, modbus); None: its site's",
    )
    connection: dict[str, Any] | None = Field(
        default=None,
        description="the protocol's connection settings (charge points, host and register map)"
        "; checked by that protocol's adapter when the district is registered",
    )


class CurtailmentStep(FrozenModel):
    """An all-or-nothing block of load (a process line, a unit) shed together."""

    power_kw: PositiveFloat
    price_cny_per_kwh: NonNegativeFloat = Field(description="asked price for curtailed energy")


class CurtailableLoad(_ResourceBase):
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


class Battery(_ResourceBase):
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


class Charger(FrozenModel):
    charger_id: Slug
    max_kw: PositiveFloat
    min_kw: NonNegativeFloat = Field(default=0.0, description="lowest power when on [kW]")

    @model_validator(mode="after")
    def _min_below_max(self) -> Charger:
        if self.min_kw > self.max_kw:
            raise ValueError(f"min_kw: {self.min_kw} exceeds max_kw ({self.max_kw})")
        return self


class EvSession(FrozenModel):
    """A recurring daily plug-in: a departure at or before the arrival time is the next day."""

    charger_id: Slug
    arrival: time
    departure: time
    energy_kwh: PositiveFloat = Field(description="energy the vehicle needs by departure")

    @property
    def connected_min(self) -> int:
        arrive = self.arrival.hour * 60 + self.arrival.minute
        depart = self.departure.hour * 60 + self.departure.minute
        return (depart - arrive) % 1440 or 1440


class EvChargerPool(_ResourceBase):
    """Chargers of one site controlled together; the baseline is uncontrolled full-power charging.

    Dispatch may delay or reduce charging, but each session still receives its energy by
    departure (or as much as the charger could give it when uncontrolled).
    """

    kind: Literal["ev_charger_pool"] = "ev_charger_pool"
    chargers: tuple[Charger, ...] = Field(min_length=1)
    sessions: tuple[EvSession, ...] = ()
    price_cny_per_kwh: NonNegativeFloat = Field(default=0.0, description="asked price for response")

    @model_validator(mode="after")
    def _sessions_on_known_chargers(self) -> EvChargerPool:
        ids = [charger.charger_id for charger in self.chargers]
        if len(set(ids)) != len(ids):
            raise ValueError("chargers: charger_id values must be unique")
        busy: dict[str, list[tuple[int, int]]] = {}
        for i, session in enumerate(self.sessions):
            if session.charger_id not in ids:
                raise ValueError(f"sessions.{i}.charger_id: unknown charger {session.charger_id!r}")
            start = session.arrival.hour * 60 + session.arrival.minute
            spans = busy.setdefault(session.charger_id, [])
            for other_start, other_len in spans:
                if _daily_overlap(start, session.connected_min, other_start, other_len):
                    raise ValueError(
                        f"sessions.{i}: overlaps another session on charger {session.charger_id!r}"
                    )
            spans.append((start, session.connected_min))
        return self

    @property
    def max_kw(self) -> float:
        return sum(charger.max_kw for charger in self.chargers)


def _daily_overlap(start_a: int, len_a: int, start_b: int, len_b: int) -> bool:
    """Whether two recurring daily spans (minutes) overlap on any day."""
    for shift in (-1440, 0, 1440):
        b0 = start_b + shift
        if start_a < b0 + len_b and b0 < start_a + len_a:
            return True
    return False


class HvacLoad(_ResourceBase):
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

    @model_validator(mode="after")
    def _comfort_band(self) -> HvacLoad:
        if self.comfort_min_c >= self.comfort_max_c:
            raise ValueError(
                f"comfort_min_c: {self.comfort_min_c} must be below "
                f"comfort_max_c ({self.comfort_max_c})"
            )
        if not self.comfort_min_c <= self.setpoint_c <= self.comfort_max_c:
            raise ValueError(
                f"setpoint_c: {self.setpoint_c} must lie in the comfort band "
                f"{self.comfort_min_c}..{self.comfort_max_c}"
            )
        return self


class Pv(_ResourceBase):
    """Rooftop PV: a forecast, not dispatchable; its generation lowers the site's net load."""

    kind: Literal["pv"] = "pv"
    capacity_kw: PositiveFloat
    generation_kw: DailyProfile = Field(description="typical generation forecast [kW, >= 0]")

    @model_validator(mode="after")
    def _within_capacity(self) -> Pv:
        if min(self.generation_kw) < 0 or max(self.generation_kw) > self.capacity_kw + 1e-9:
            raise ValueError(f"generation_kw: must lie within 0..capacity_kw ({self.capacity_kw})")
        return self


Resource = Annotated[
    CurtailableLoad | Battery | EvChargerPool | HvacLoad | Pv, Field(discriminator="kind")
]
"""Any registered resource; the ``kind`` field selects the model."""

RESOURCE_KINDS: tuple[str, ...] = (
    "curtailable_load",
    "battery",
    "ev_charger_pool",
    "hvac_load",
    "pv",
)
