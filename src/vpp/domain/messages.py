"""Payloads of the MQTT contract, version 1 (ARCHITECTURE.md): what gateways and vpp say.

The setpoint payload is :class:`vpp.domain.Setpoint` less its topic parts (site, resource).
Unknown fields are rejected, so a malformed message is caught at the boundary.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, Field

from vpp.domain._base import FiniteFloat, Fraction, FrozenModel
from vpp.domain.dispatch import SetpointMode

#: Largest payload vpp accepts on any topic [bytes]; larger ones are counted and dropped.
MAX_PAYLOAD_BYTES = 4096


class Telemetry(FrozenModel):
    """A gateway's reading of one resource: ``vpp/v1/{site}/{resource}/telemetry``.

    Numbers are JSON numbers and flags JSON booleans (strict): ``"30"`` or ``true`` for a
    power is no reading, whatever a lax parser would make of it.
    """

    ts: AwareDatetime
    power_kw: FiniteFloat = Field(strict=True)
    soc: Fraction | None = Field(default=None, strict=True)
    available: bool = Field(default=True, strict=True)
    indoor_temperature_c: FiniteFloat | None = Field(default=None, strict=True)
    """A building's indoor temperature [°C], which its recovery is planned from."""
    energy_owed_kwh: FiniteFloat | None = Field(default=None, strict=True)
    """What an EV pool's plugged-in vehicles still need by their departures [kWh], which
    its catch-up after an event is planned from."""


class SetpointPayload(FrozenModel):
    """A command as sent on ``vpp/v1/{site}/{resource}/setpoint``."""

    command_id: str = Field(min_length=1, max_length=128)
    issued_at: AwareDatetime
    mode: SetpointMode
    power_kw: FiniteFloat
    valid_from: AwareDatetime
    valid_until: AwareDatetime


class AckStatus(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EXPIRED = "expired"


class Ack(FrozenModel):
    """A gateway's answer to a setpoint: ``vpp/v1/{site}/{resource}/ack``."""

    command_id: str = Field(min_length=1, max_length=128)
    status: AckStatus
    reason: str | None = Field(default=None, max_length=512)


class GatewayState(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"


class GatewayStatus(FrozenModel):
    """Retained gateway status, also its last will: ``vpp/v1/{site}/status``."""

    state: GatewayState
    ts: AwareDatetime
