"""What an EV charger pool on OCPP registers (its ``connection``) and what the owner of the
central system configures (:class:`OcppServerSettings`).

A pool lists its charge points, each with its connectors and their limits; a connector's
limit is given in kW or, as chargers are usually rated, in A with the voltage and phase
count (``kW = A * V * phases / 1000``). A charge point may carry a station cap (the supply
it shares between its connectors), sent as ChargePointMaxProfile on connector 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from vpp.domain import VppError
from vpp.domain._base import FrozenModel, NonNegativeFloat, PositiveFloat, Slug

#: Charge point identities vpp accepts in the URL path (OCPP: chargeBoxIdentity).
CHARGE_POINT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,47}$"

RateUnit = Literal["W", "A"]


class Connector(FrozenModel):
    """One outlet of a charge point and the power it can give."""

    connector_id: int = Field(ge=1, le=64)
    charger_id: Slug | None = Field(
        default=None, description="the pool's charger behind this connector, if named"
    )
    max_kw: PositiveFloat | None = Field(default=None, description="rated power [kW]")
    max_a: PositiveFloat | None = Field(default=None, description="rated current per phase [A]")
    min_kw: NonNegativeFloat = Field(default=0.0, description="lowest rate when on [kW]")
    min_a: NonNegativeFloat | None = Field(default=None, description="lowest current [A]")
    voltage_v: PositiveFloat = Field(default=230.0, description="phase voltage [V]")
    phases: Literal[1, 3] = 3

    @model_validator(mode="after")
    def _one_rating(self) -> Connector:
        if (self.max_kw is None) == (self.max_a is None):
            raise ValueError("give exactly one of max_kw and max_a")
        if self.min_power_kw > self.max_power_kw:
            raise ValueError(f"minimum {self.min_power_kw:g} kW exceeds {self.max_power_kw:g} kW")
        return self

    @property
    def kw_per_a(self) -> float:
        """Power per ampere of phase current [kW/A]."""
        return self.voltage_v * self.phases / 1000.0

    @property
    def max_power_kw(self) -> float:
        return self.max_kw if self.max_kw is not None else (self.max_a or 0.0) * self.kw_per_a

    @property
    def min_power_kw(self) -> float:
        return self.min_a * self.kw_per_a if self.min_a is not None else self.min_kw


class ChargePointConfig(FrozenModel):
    charge_point_id: str = Field(pattern=CHARGE_POINT_ID_PATTERN)
    connectors: tuple[Connector, ...] = Field(min_length=1)
    max_kw: PositiveFloat | None = Field(
        default=None, description="station cap shared by the connectors [kW]"
    )
    rate_unit: RateUnit = Field(
        default="W", description="unit of the profiles sent to it (A needs voltage and phases)"
    )

    @model_validator(mode="after")
    def _unique_connectors(self) -> ChargePointConfig:
        ids = [c.connector_id for c in self.connectors]
        if len(set(ids)) != len(ids):
            raise ValueError("connectors: connector_id values must be unique")
        return self

    def connector(self, connector_id: int) -> Connector | None:
        return next((c for c in self.connectors if c.connector_id == connector_id), None)


class OcppConnection(FrozenModel):
    """The ``connection`` block of an EV charger pool registered with ``protocol: ocpp``."""

    charge_points: tuple[ChargePointConfig, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_charge_points(self) -> OcppConnection:
        ids = [cp.charge_point_id for cp in self.charge_points]
        if len(set(ids)) != len(ids):
            raise ValueError("charge_points: charge_point_id values must be unique")
        return self

    @property
    def max_kw(self) -> float:
        """What the pool's connectors can draw together, station caps applied [kW]."""
        total = 0.0
        for cp in self.charge_points:
            connectors = sum(c.max_power_kw for c in cp.connectors)
            total += connectors if cp.max_kw is None else min(cp.max_kw, connectors)
        return total


class OcppNotConfiguredError(VppError):
    """The central system cannot start as configured (no credentials, half a TLS pair)."""


@dataclass(frozen=True)
class OcppServerSettings:
    """The central system's owner-side settings (``AdapterContext.settings["ocpp"]``).

    Charge points authenticate with HTTP basic auth (security profile 1), over TLS when a
    certificate is given (profile 2); the user name is the charge point's id. Passwords are
    stored hashed, one ``charge_point_id:$7$...`` line each (``vpp ocpp password`` issues
    them), in ``password_file`` and/or ``passwords``.
    """

    host: str = "0.0.0.0"
    port: int = 9000  # 0: any free port (tests, the simulator)
    password_file: Path | None = None
    passwords: Mapping[str, str] = field(default_factory=dict)  # id -> $7$ hash
    tls_cert: Path | None = None
    tls_key: Path | None = None
    response_timeout_s: float = 10.0  # how long a CALL to a charge point waits [s, wall]
    heartbeat_interval_s: int = 300  # told to charge points at boot [s]
    meter_skew_s: float = 300.0  # a meter stamp further ahead of our clock is refused [s]
    round_wait_s: float = 30.0  # pool reading sent after this even if a connector is silent [s]

    def __post_init__(self) -> None:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise OcppNotConfiguredError("--ocpp-tls-cert and --ocpp-tls-key go together")
        if not 0 <= self.port <= 65535:
            raise OcppNotConfiguredError(f"port {self.port} is not a TCP port")
