"""Reading an OCPP 1.6 MeterValues payload: power, energy register and SoC in our units.

OCPP defaults: a sampled value without ``measurand`` is Energy.Active.Import.Register, in
Wh without ``unit``; Power.Active.Import is in W. A charger may send a total or one value
per phase (L1, L2, L3); phases are added when no total is given. The newest entry wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

POWER = "Power.Active.Import"
ENERGY = "Energy.Active.Import.Register"
SOC = "SoC"

_SCALE = {"W": 1e-3, "kW": 1.0, "Wh": 1e-3, "kWh": 1.0, "Percent": 0.01}
_DEFAULT_UNIT = {POWER: "W", ENERGY: "Wh", SOC: "Percent"}


class MeterValueError(ValueError):
    """A meter value that cannot be read; ``reason`` names it in the counts."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class MeterReading:
    ts: datetime | None
    power_kw: float | None = None
    energy_kwh: float | None = None
    soc: float | None = None  # fraction 0..1


def read_meter_values(meter_value: list[dict[str, Any]]) -> MeterReading:
    """The newest entry's power [kW], energy register [kWh] and SoC [0..1]."""
    if not meter_value:
        raise MeterValueError("empty_meter_value", "no meterValue entries")
    entries = sorted(meter_value, key=lambda e: str(e.get("timestamp", "")))
    entry = entries[-1]
    try:
        ts = datetime.fromisoformat(str(entry["timestamp"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        raise MeterValueError("bad_timestamp", repr(entry.get("timestamp"))) from None
    if ts.tzinfo is None:
        raise MeterValueError("bad_timestamp", f"{ts.isoformat()} has no UTC offset")
    totals: dict[str, float] = {}
    phased: dict[str, float] = {}
    for sample in entry.get("sampled_value", []):
        measurand = str(sample.get("measurand", ENERGY))
        if measurand not in _DEFAULT_UNIT:
            continue
        unit = str(sample.get("unit", _DEFAULT_UNIT[measurand]))
        if unit not in _SCALE:
            raise MeterValueError("bad_unit", f"{measurand} in {unit!r}")
        try:
            value = float(sample["value"]) * _SCALE[unit]
        except (KeyError, ValueError):
            raise MeterValueError("bad_value", f"{measurand} {sample.get('value')!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise MeterValueError("bad_value", f"{measurand} {value}")
        phase = sample.get("phase")
        if phase is None:
            totals[measurand] = value
        elif str(phase) in ("L1", "L2", "L3", "L1-N", "L2-N", "L3-N"):
            phased[measurand] = phased.get(measurand, 0.0) + value
    merged = {**phased, **totals}
    return MeterReading(ts, merged.get(POWER), merged.get(ENERGY), merged.get(SOC))
