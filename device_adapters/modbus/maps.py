"""Custom register maps in YAML, for devices that do not speak SunSpec.

A map names the registers of one device type (``configs/modbus/<name>.yaml``); every
value is ``raw * scale`` in the unit the field names, and ``positive`` says which way a
positive raw value points (``consumption`` as vpp counts it, or ``generation``)::

    name: acme-bess
    kind: battery
    power: {address: 30775, type: int32, scale: 0.001, positive: generation}   # kW
    soc: {address: 30845, type: uint16, scale: 0.01}                          # 0..1 per raw
    setpoint: {address: 40149, type: int32, scale: 0.001, positive: generation,
               min: -100000, max: 100000, default: 0}                         # kW, raw range
    revert_timer: {address: 40151, type: uint16}                              # s, optional
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from vpp.device_adapters.modbus.sunspec import PointType, raw_range
from vpp.domain import FrozenModel

SUNSPEC = "sunspec"

MAPS_DIR = Path(__file__).resolve().parents[2] / "configs" / "modbus"
"""Where map names resolve (the repository's ``configs/modbus``)."""


class Register(FrozenModel):
    """One value: its address, encoding and scale (``value = raw * scale``)."""

    address: int = Field(ge=0, le=65535)
    type: PointType = "int16"
    scale: float = Field(default=1.0, gt=0)
    positive: Literal["consumption", "generation"] = "consumption"


class SetpointRegister(Register):
    """Where a power command goes [kW as ``raw * scale``], the raw range it accepts and the
    raw value that means normal operation."""

    min: int
    max: int
    default: int = 0

    @model_validator(mode="after")
    def _range(self) -> SetpointRegister:
        low, high = raw_range(self.type)
        if not low <= self.min <= self.max <= high:
            raise ValueError(f"min/max: {self.min}..{self.max} must lie within {low}..{high}")
        if not self.min <= self.default <= self.max:
            raise ValueError(f"default: {self.default} outside min..max")
        return self


class TimerRegister(FrozenModel):
    address: int = Field(ge=0, le=65535)
    type: Literal["uint16", "uint32"] = "uint16"


class CustomMap(FrozenModel):
    name: str
    kind: Literal["battery", "pv"]
    description: str = ""
    power: Register
    soc: Register | None = None
    setpoint: SetpointRegister | None = None
    revert_timer: TimerRegister | None = None


class MapError(ValueError):
    """A custom map that is missing or invalid (its registration is refused)."""


def map_path(name: str) -> Path:
    """A map name's file: a path as given, else ``configs/modbus/<name>.yaml``."""
    if name.endswith((".yaml", ".yml")) or "/" in name:
        return Path(name)
    return MAPS_DIR / f"{name}.yaml"


@cache
def load_map(name: str) -> CustomMap:
    """The custom map ``name`` (cached: maps are read once per process)."""
    path = map_path(name)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MapError(f"map {name!r}: cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise MapError(f"map {name!r}: {path} is not YAML: {exc}") from None
    try:
        return CustomMap.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise MapError(f"map {name!r}: {loc}: {first['msg']}") from None
