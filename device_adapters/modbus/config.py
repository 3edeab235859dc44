"""A Modbus resource's ``connection`` block and the owner's Modbus settings.

A battery or PV inverter registered with ``protocol: modbus`` names where it answers and
which register map it speaks::

    connection: {host: 192.0.2.10, port: 502, unit_id: 1, map: sunspec, poll_period_s: 10}

``map`` is ``sunspec`` (models found by the base-address scan) or a custom map: a name
under ``configs/modbus/`` or a path to a YAML file (:mod:`vpp.device_adapters.modbus.maps`).
"""

from __future__ import annotations

from pydantic import Field, field_validator

from vpp.device_adapters.modbus.maps import SUNSPEC, load_map
from vpp.domain import FrozenModel


class ModbusConnection(FrozenModel):
    """Where one device answers and how vpp talks to it."""

    host: str = Field(min_length=1, max_length=253)
    port: int = Field(default=502, ge=1, le=65535)
    unit_id: int = Field(default=1, ge=0, le=247, description="Modbus unit (slave) id")
    map: str = Field(
        default=SUNSPEC,
        min_length=1,
        description="'sunspec', or a custom map: a name in configs/modbus/ or a YAML path",
    )
    poll_period_s: float = Field(default=10.0, ge=0.1, le=3600, description="[s]")
    base_address: int | None = Field(
        default=None,
        ge=0,
        le=65533,
        description="SunSpec base address; None: scan 40000, 50000, 0",
    )
    timeout_s: float = Field(
        default=3.0, gt=0, le=60, description="one request's answer must come this fast [s, wall]"
    )

    @field_validator("map")
    @classmethod
    def _known_map(cls, value: str) -> str:
        if value != SUNSPEC:
            load_map(value)  # a map that does not load refuses the registration
        return value


class ModbusSettings(FrozenModel):
    """The owner's side (``AdapterContext.settings["modbus"]``; optional): back-off bounds."""

    backoff_min_s: float = Field(default=2.0, gt=0, description="first retry after a loss [s]")
    backoff_max_s: float = Field(default=300.0, gt=0, description="retries slow to this [s]")
    write_retries: int = Field(default=1, ge=0, le=5)
