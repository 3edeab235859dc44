"""Meter data arranged by local day, the shape every baseline method works on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo

import numpy as np
from numpy.typing import NDArray

MINUTES_PER_DAY = 1440


@dataclass(frozen=True)
class DailyLoad:
    """One meter's load as a (day x interval) array [kW]; NaN marks a missing reading.

    Days are local calendar days, sorted and unique; they need not be consecutive.
    """

    meter_id: str
    interval_min: int
    days: tuple[date, ...]
    values_kw: NDArray[np.float64]
    _index: dict[date, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        per_day = MINUTES_PER_DAY // self.interval_min
        if self.values_kw.shape != (len(self.days), per_day):
            raise ValueError(
                f"meter {self.meter_id}: values_kw has shape {self.values_kw.shape}, "
                f"expected ({len(self.days)}, {per_day})"
            )
        if list(self.days) != sorted(set(self.days)):
            raise ValueError(f"meter {self.meter_id}: days must be sorted and unique")
        object.__setattr__(self, "_index", {d: i for i, d in enumerate(self.days)})

    @property
    def intervals_per_day(self) -> int:
        return MINUTES_PER_DAY // self.interval_min

    def day(self, day: date) -> NDArray[np.float64] | None:
        """The readings of one day, or None when the meter has none for it."""
        i = self._index.get(day)
        return None if i is None else self.values_kw[i]

    @classmethod
    def from_readings(
        cls,
        meter_id: str,
        timestamps: Sequence[datetime],
        power_kw: Sequence[float],
        tz: tzinfo,
        interval_min: int = 15,
    ) -> DailyLoad:
        """Arrange timestamped interval readings (interval start, aware) by local day."""
        per_day = MINUTES_PER_DAY // interval_min
        cells: dict[date, NDArray[np.float64]] = {}
        for ts, value in zip(timestamps, power_kw, strict=True):
            if ts.tzinfo is None:
                raise ValueError(f"meter {meter_id}: timestamp {ts.isoformat()} has no time zone")
            local = ts.astimezone(tz)
            minute = local.hour * 60 + local.minute
            if minute % interval_min or local.second:
                raise ValueError(
                    f"meter {meter_id}: timestamp {ts.isoformat()} is not on a "
                    f"{interval_min}-min boundary"
                )
            row = cells.setdefault(local.date(), np.full(per_day, np.nan))
            row[minute // interval_min] = float(value)
        days = tuple(sorted(cells))
        values = np.array([cells[d] for d in days]) if days else np.empty((0, per_day))
        return cls(meter_id=meter_id, interval_min=interval_min, days=days, values_kw=values)
