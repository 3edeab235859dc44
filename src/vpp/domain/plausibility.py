"""Which readings can be true: the rules the plausibility gate applies at the contract boundary.

A gateway's reading is evidence that vpp pays for, so a reading that cannot be true is
refused before it reaches any meter: stamped ahead of the controller's clock by more than
the allowed skew, older than the staleness window, power outside the resource's physical
envelope (its registered limits, widened by a tolerance for meter error), a state of
charge outside 0..1, or energy owed to an EV pool's vehicles below 0 or beyond what its
chargers give in a day. Status messages are gated on their timestamp only, ahead of the clock:
a last will carries the time its gateway connected, so an old status can be true.

Pure functions of the registered resource and the clock; the controller applies them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import Field

from vpp.domain._base import FrozenModel
from vpp.domain.kinds import Resource, kind_of
from vpp.domain.kinds.hvac_load import INDOOR_MAX_C, INDOOR_MIN_C
from vpp.domain.messages import GatewayStatus, Telemetry


class PlausibilitySettings(FrozenModel):
    """How far a reading may stray from the clock and the registered limits."""

    max_clock_skew_s: float = Field(
        default=30.0, ge=0, description="a reading may be stamped this far ahead of the clock [s]"
    )
    tolerance_pct: float = Field(
        default=10.0, ge=0, le=1000, description="registered limits widened by this share [%]"
    )
    tolerance_kw: float = Field(
        default=5.0, ge=0, description="and by this much more, for meter error near zero [kW]"
    )
    typical_headroom_pct: float = Field(
        default=30.0,
        ge=0,
        le=1000,
        description="a load registered by its typical shape only (curtailable) may run this "
        "far above its typical peak: a day's drift and noise [%]",
    )
    log_period_s: float = Field(
        default=60.0, gt=0, description="refusals are logged once per meter per this period [s]"
    )


class Refusal(StrEnum):
    """Why a message was refused; the counters are keyed by these values."""

    AHEAD_OF_CLOCK = "ahead_of_clock"
    STALE = "stale"
    POWER_OUTSIDE_ENVELOPE = "power_outside_envelope"
    SOC_OUTSIDE_RANGE = "soc_outside_range"
    TEMPERATURE_OUTSIDE_RANGE = "temperature_outside_range"
    ENERGY_OWED_OUTSIDE_RANGE = "energy_owed_outside_range"
    UNKNOWN_RESOURCE = "unknown_resource"
    STATUS_AHEAD_OF_CLOCK = "status_ahead_of_clock"


def envelope_kw(resource: Resource, typical_headroom_pct: float = 30.0) -> tuple[float, float]:
    """The power a resource can physically draw, from its registration [kW, consumption > 0]:
    its kind's envelope (e.g. a battery ``[-max_discharge_kw, max_charge_kw]``, PV
    ``[-capacity_kw, 0]``, a load registered by its typical day that day's peak plus
    ``typical_headroom_pct`` and its fastest rebound)."""
    return kind_of(resource).envelope_kw(resource, typical_headroom_pct)


def plausible_range_kw(resource: Resource, settings: PlausibilitySettings) -> tuple[float, float]:
    """The envelope widened on each side by ``tolerance_pct`` of that side plus
    ``tolerance_kw`` [kW]: readings inside it are accepted."""
    low, high = envelope_kw(resource, settings.typical_headroom_pct)
    share = settings.tolerance_pct / 100.0
    return (
        low - share * abs(low) - settings.tolerance_kw,
        high + share * abs(high) + settings.tolerance_kw,
    )


def plausible_owed_max_kwh(resource: Resource, settings: PlausibilitySettings) -> float:
    """The most energy a reading may say ``resource`` still owes its users [kWh]: its
    kind's bound widened by ``tolerance_pct``; 0 for kinds that owe none."""
    bound = kind_of(resource).energy_owed_max_kwh
    if bound is None:
        return 0.0
    return bound(resource) * (1.0 + settings.tolerance_pct / 100.0)


def telemetry_refusal(
    telemetry: Telemetry,
    resource: Resource,
    now: datetime,
    settings: PlausibilitySettings,
    stale_s: float,
) -> Refusal | None:
    """Why a reading of ``resource`` received at ``now`` cannot be true; None if it can.

    Parameters
    ----------
    telemetry
        The reading as parsed from the contract.
    resource
        The registered resource the reading's topic names.
    now
        The controller's clock.
    settings
        Skew and tolerance.
    stale_s
        Readings older than this are no evidence of the present [s].
    """
    return reading_refusal(
        telemetry,
        plausible_range_kw(resource, settings),
        now,
        timedelta(seconds=settings.max_clock_skew_s),
        timedelta(seconds=stale_s),
        plausible_owed_max_kwh(resource, settings),
    )


def reading_refusal(
    telemetry: Telemetry,
    range_kw: tuple[float, float],
    now: datetime,
    max_skew: timedelta,
    stale: timedelta,
    owed_max_kwh: float = 0.0,
) -> Refusal | None:
    """:func:`telemetry_refusal` with the resource's plausible range [kW], the windows and
    the most energy it may owe [kWh] worked out beforehand: a gate checks each meter every
    tick, its range never changes."""
    age = now - telemetry.ts  # once: times of two zones subtract slowly
    if -age > max_skew:
        return Refusal.AHEAD_OF_CLOCK
    if age > stale:
        return Refusal.STALE
    low_kw, high_kw = range_kw
    if not low_kw <= telemetry.power_kw <= high_kw:
        return Refusal.POWER_OUTSIDE_ENVELOPE
    if telemetry.soc is not None and not 0.0 <= telemetry.soc <= 1.0:
        return Refusal.SOC_OUTSIDE_RANGE
    indoor_c = telemetry.indoor_temperature_c
    if indoor_c is not None and not INDOOR_MIN_C <= indoor_c <= INDOOR_MAX_C:
        return Refusal.TEMPERATURE_OUTSIDE_RANGE
    owed_kwh = telemetry.energy_owed_kwh
    if owed_kwh is not None and not 0.0 <= owed_kwh <= owed_max_kwh:
        return Refusal.ENERGY_OWED_OUTSIDE_RANGE
    return None


def status_refusal(
    status: GatewayStatus, now: datetime, settings: PlausibilitySettings
) -> Refusal | None:
    """Why a gateway status cannot be true: only a time ahead of the clock beyond the skew.

    An old status can be true (a last will carries its connection's time), so age alone
    never refuses one; the controller lets later telemetry overrule an ``offline``.
    """
    if status.ts - now > timedelta(seconds=settings.max_clock_skew_s):
        return Refusal.STATUS_AHEAD_OF_CLOCK
    return None
