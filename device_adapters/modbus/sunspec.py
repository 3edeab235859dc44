"""SunSpec information models vpp reads and writes: point offsets, types and scale factors.

A SunSpec device holds a chain of models in its holding registers: the marker ``SunS``
(0x5375 0x6E53) at a base address (40000, 50000 or 0), then per model its id, its length
``L`` [registers] and ``L`` registers of points, ending with id 0xFFFF. A point's value is
``raw * 10**sf`` where ``sf`` is the model's scale-factor point named in the table.

The tables below follow the SunSpec model definitions (models 1, 101-103, 120, 123, 124;
701, 702, 704, 802), checked point by point against the SunSpec Alliance's published model
files (``json/model_N.json`` of its models repository) in December 2026, which moved two
scale factors of 704 and the points of 802 from a first draft; only the points vpp uses are
listed. Offsets count from the first register after ``ID`` and ``L``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, NamedTuple

MARKER = (0x5375, 0x6E53)
"""``SunS`` in two registers: where a SunSpec map starts."""

BASE_ADDRESSES = (40000, 50000, 0)
"""Where the base-address scan looks for the marker, in this order."""

END_MODEL_ID = 0xFFFF

PointType = Literal["int16", "uint16", "sunssf", "enum16", "bitfield16", "int32", "uint32", "acc32"]

SIZE: dict[PointType, int] = {
    "int16": 1,
    "uint16": 1,
    "sunssf": 1,
    "enum16": 1,
    "bitfield16": 1,
    "int32": 2,
    "uint32": 2,
    "acc32": 2,
}

NOT_IMPLEMENTED: dict[PointType, int] = {
    "int16": 0x8000,
    "sunssf": 0x8000,
    "uint16": 0xFFFF,
    "enum16": 0xFFFF,
    "bitfield16": 0xFFFF,
    "int32": 0x80000000,
    "uint32": 0xFFFFFFFF,
    "acc32": 0,
}
"""The raw value a device reports for a point it does not implement."""


class Point(NamedTuple):
    """One point of a model: where it lies, how it is encoded, which scale factor it takes."""

    offset: int
    type: PointType
    sf: str | None = None
    units: str = ""


@dataclass(frozen=True)
class Model:
    model_id: int
    name: str
    length: int  # registers after ID and L
    points: Mapping[str, Point]


def _inverter(model_id: int, name: str) -> Model:
    """Models 101 (single phase), 102 (split phase), 103 (three phase): the same layout."""
    return Model(
        model_id,
        name,
        50,
        {
            "A": Point(0, "uint16", "A_SF", "A"),
            "A_SF": Point(4, "sunssf"),
            "W": Point(12, "int16", "W_SF", "W"),  # AC power out of the inverter (export > 0)
            "W_SF": Point(13, "sunssf"),
            "Hz": Point(14, "uint16", "Hz_SF", "Hz"),
            "Hz_SF": Point(15, "sunssf"),
            "WH": Point(22, "acc32", "WH_SF", "Wh"),
            "WH_SF": Point(24, "sunssf"),
            "St": Point(36, "enum16"),
        },
    )


MODELS: dict[int, Model] = {
    m.model_id: m
    for m in (
        Model(1, "common", 66, {"DA": Point(64, "uint16")}),  # Mn, Md, Opt, Vr, SN: strings
        _inverter(101, "inverter single phase"),
        _inverter(102, "inverter split phase"),
        _inverter(103, "inverter three phase"),
        Model(
            120,
            "nameplate",
            26,
            {
                "DERTyp": Point(0, "enum16"),
                "WRtg": Point(1, "uint16", "WRtg_SF", "W"),
                "WRtg_SF": Point(2, "sunssf"),
            },
        ),
        Model(
            123,
            "immediate controls",
            24,
            {
                "Conn": Point(2, "enum16"),
                "WMaxLimPct": Point(3, "uint16", "WMaxLimPct_SF", "% WMax"),
                "WMaxLimPct_WinTms": Point(4, "uint16", None, "s"),
                "WMaxLimPct_RvrtTms": Point(5, "uint16", None, "s"),
                "WMaxLimPct_RmpTms": Point(6, "uint16", None, "s"),
                "WMaxLim_Ena": Point(7, "enum16"),  # 0 disabled, 1 enabled
                "WMaxLimPct_SF": Point(21, "sunssf"),
            },
        ),
        Model(
            124,
            "storage",
            24,
            {
                "WChaMax": Point(0, "uint16", "WChaMax_SF", "W"),
                "StorCtl_Mod": Point(3, "bitfield16"),  # bit 0 charge, bit 1 discharge
                "ChaState": Point(6, "uint16", "ChaState_SF", "% AhrRtg"),
                "ChaSt": Point(9, "enum16"),
                "OutWRte": Point(10, "int16", "InOutWRte_SF", "% WChaMax"),  # discharge
                "InWRte": Point(11, "int16", "InOutWRte_SF", "% WChaMax"),  # charge
                "InOutWRte_WinTms": Point(12, "uint16", None, "s"),
                "InOutWRte_RvrtTms": Point(13, "uint16", None, "s"),
                "InOutWRte_RmpTms": Point(14, "uint16", None, "s"),
                "WChaMax_SF": Point(16, "sunssf"),
                "ChaState_SF": Point(20, "sunssf"),
                "InOutWRte_SF": Point(23, "sunssf"),
            },
        ),
        Model(
            701,
            "DER AC measurement",
            153,
            {
                "ACType": Point(0, "enum16"),
                "St": Point(1, "enum16"),
                "W": Point(8, "int16", "W_SF", "W"),  # export > 0
                "Hz": Point(15, "uint32", "Hz_SF", "Hz"),
                "W_SF": Point(114, "sunssf"),
                "Hz_SF": Point(113, "sunssf"),
            },
        ),
        Model(
            702,
            "DER capacity",
            50,
            {
                "WMaxRtg": Point(0, "uint16", "W_SF", "W"),
                "WChaRteMaxRtg": Point(8, "uint16", "W_SF", "W"),
                "WDisChaRteMaxRtg": Point(9, "uint16", "W_SF", "W"),
                "WMax": Point(24, "uint16", "W_SF", "W"),
                "W_SF": Point(43, "sunssf"),
            },
        ),
        Model(
            704,
            "DER AC controls",
            65,
            {
                "WMaxLimPctEna": Point(12, "enum16"),
                "WMaxLimPct": Point(13, "uint16", "WMaxLimPct_SF", "% WMax"),
                "WMaxLimPctRvrt": Point(14, "uint16", "WMaxLimPct_SF", "% WMax"),
                "WMaxLimPctEnaRvrt": Point(15, "enum16"),
                "WMaxLimPctRvrtTms": Point(16, "uint32", None, "s"),
                "WSetEna": Point(20, "enum16"),
                "WSetMod": Point(21, "enum16"),  # 0 W max, 1 W (WSet), 2 % (WSetPct)
                "WSet": Point(22, "int32", "WSet_SF", "W"),  # injection > 0
                "WSetRvrt": Point(24, "int32", "WSet_SF", "W"),
                "WSetEnaRvrt": Point(28, "enum16"),
                "WSetRvrtTms": Point(29, "uint32", None, "s"),
                "WMaxLimPct_SF": Point(52, "sunssf"),
                "WSet_SF": Point(53, "sunssf"),
            },
        ),
        Model(
            802,
            "battery base",
            62,
            {
                "WHRtg": Point(1, "uint16", "WHRtg_SF", "Wh"),
                "WChaRteMax": Point(2, "uint16", "WChaDisChaMax_SF", "W"),
                "WDisChaRteMax": Point(3, "uint16", "WChaDisChaMax_SF", "W"),
                "SoC": Point(9, "uint16", "SoC_SF", "%"),
                "ChaSt": Point(14, "enum16"),
                "W": Point(45, "int16", "W_SF", "W"),
                "WHRtg_SF": Point(51, "sunssf"),
                "WChaDisChaMax_SF": Point(52, "sunssf"),
                "SoC_SF": Point(54, "sunssf"),
                "W_SF": Point(61, "sunssf"),
            },
        ),
    )
}
"""The models vpp knows, by id."""

STORCTL_CHARGE = 1
STORCTL_DISCHARGE = 2


class SunSpecError(ValueError):
    """A register map that is not SunSpec, or a value no register of its type can hold."""


def raw_range(point_type: PointType) -> tuple[int, int]:
    """The raw values a point of this type can hold (its not-implemented value excluded)."""
    if point_type in ("int16", "sunssf"):
        return -0x7FFF, 0x7FFF
    if point_type == "int32":
        return -0x7FFFFFFF, 0x7FFFFFFF
    if point_type in ("uint32", "acc32"):
        return 0, 0xFFFFFFFE
    return 0, 0xFFFE


def decode(point_type: PointType, registers: Iterable[int]) -> int | None:
    """A raw point value from its registers (big-endian words); None: not implemented."""
    words = list(registers)
    if len(words) != SIZE[point_type]:
        raise SunSpecError(f"{point_type}: needs {SIZE[point_type]} registers, got {len(words)}")
    value = 0
    for word in words:
        value = (value << 16) | (word & 0xFFFF)
    if point_type != "acc32" and value == NOT_IMPLEMENTED[point_type]:
        return None
    if point_type in ("int16", "sunssf", "int32"):
        bits = 16 * len(words)
        if value >= 1 << (bits - 1):
            value -= 1 << bits
    return value


def encode(point_type: PointType, value: int) -> list[int]:
    """The registers holding a raw value; refuses one outside the type's range."""
    low, high = raw_range(point_type)
    if not low <= value <= high:
        raise SunSpecError(f"{value} does not fit a {point_type} register ({low}..{high})")
    size = SIZE[point_type]
    value &= (1 << (16 * size)) - 1
    return [(value >> (16 * (size - 1 - i))) & 0xFFFF for i in range(size)]


def to_raw(value: float, sf: int) -> int:
    """The raw register value of ``value`` under scale factor ``sf``."""
    return round(value / 10.0**sf)


@dataclass(frozen=True)
class Layout:
    """Where a device's models lie: the base address and each model's ``ID`` register."""

    base_address: int
    models: Mapping[int, int]  # model id -> address of its ID register

    def address(self, model_id: int, point: str) -> int:
        """Absolute address of a point."""
        return self.models[model_id] + 2 + MODELS[model_id].points[point].offset

    def has(self, model_id: int) -> bool:
        return model_id in self.models


ReadRegisters = Callable[[int, int], Awaitable[list[int] | None]]
"""Reads ``count`` holding registers at ``address``; None when the device refuses."""

MAX_MODELS = 64


async def discover(read: ReadRegisters, bases: Iterable[int] = BASE_ADDRESSES) -> Layout:
    """The SunSpec base-address scan: find ``SunS``, then walk the model chain to 0xFFFF."""
    for base in bases:
        marker = await read(base, 2)
        if marker is None or tuple(marker) != MARKER:
            continue
        models: dict[int, int] = {}
        address = base + 2
        for _ in range(MAX_MODELS):
            header = await read(address, 2)
            if header is None:
                raise SunSpecError(f"model chain broken at {address}: the device refused a read")
            model_id, length = header
            if model_id == END_MODEL_ID:
                return Layout(base, models)
            known = MODELS.get(model_id)
            if known is not None and length < known.length:
                raise SunSpecError(
                    f"model {model_id} at {address}: length {length} < {known.length} registers"
                )
            models.setdefault(model_id, address)
            address += 2 + length
        raise SunSpecError(f"model chain from {base} does not end within {MAX_MODELS} models")
    raise SunSpecError(f"no SunS marker at {', '.join(str(b) for b in bases)}")


def image(models: Iterable[int], values: Mapping[tuple[int, str], int]) -> list[int]:
    """The registers of a SunSpec map from the marker on: ``values`` are raw, by
    (model id, point); points not given read as not implemented (a simulator's and a test's
    device map)."""
    registers = list(MARKER)
    for model_id in models:
        model = MODELS[model_id]
        body = [0] * model.length
        for name, point in model.points.items():
            raw = values.get((model_id, name))
            words = encode(point.type, raw) if raw is not None else _unset(point.type)
            body[point.offset : point.offset + len(words)] = words
        registers += [model_id, model.length, *body]
    return [*registers, END_MODEL_ID, 0]


def _unset(point_type: PointType) -> list[int]:
    size = SIZE[point_type]
    raw = NOT_IMPLEMENTED[point_type]
    return [(raw >> (16 * (size - 1 - i))) & 0xFFFF for i in range(size)]
