"""The time axis: every question about intervals is answered here, nowhere else."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import cache, cached_property
from zoneinfo import ZoneInfo, available_timezones

import numpy as np
from numpy.typing import NDArray
from pydantic import AwareDatetime, Field, field_validator

from vpp.domain._base import DailyWindow, FrozenModel
from vpp.domain.errors import GridAlignmentError

MINUTES_PER_DAY = 1440

FloatArray = NDArray[np.float64]
"""A series of floats, one per interval (or per resource and interval)."""

PLANNABLE_YEARS = (1900, 9000)
"""Years an event may fall in [year]: a horizon, a notice lead and a year of meter history
around it then stay inside the calendar Python can count."""


class TimeGrid(FrozenModel):
    """Equal intervals: a start, an interval length and a count.

    Arithmetic is done in UTC so days with a DST change keep exact interval lengths; local
    times (for daily profiles) come from the start's time zone, so a grid that is read at
    clock hours must first be put in the zone of those hours with :meth:`in_zone`.
    """

    start: AwareDatetime
    interval_min: int = Field(default=15, gt=0, le=60, description="interval length [min]")
    count: int = Field(gt=0, le=100_000)

    @field_validator("interval_min")
    @classmethod
    def _divides_day(cls, value: int) -> int:
        if MINUTES_PER_DAY % value:
            raise ValueError(f"must divide a day (1440 min) evenly, got {value}")
        return value

    @classmethod
    def covering(cls, start: datetime, end: datetime, interval_min: int = 15) -> TimeGrid:
        """The grid from ``start`` to ``end``; both must lie on interval boundaries."""
        # Subtracting aware times that share a tzinfo uses wall-clock time; UTC is exact.
        span_min = (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() / 60
        if span_min <= 0:
            raise GridAlignmentError(
                "end", f"{end.isoformat()} is not after start {start.isoformat()}"
            )
        if span_min % interval_min:
            raise GridAlignmentError(
                "end",
                f"window of {span_min:g} min is not a whole number of {interval_min}-min intervals",
            )
        return cls(start=start, interval_min=interval_min, count=int(span_min // interval_min))

    @classmethod
    def for_day(cls, day: date, tz: tzinfo, interval_min: int = 15) -> TimeGrid:
        """The grid of one local calendar day."""
        start = datetime(day.year, day.month, day.day, tzinfo=tz)
        end = datetime.combine(day + timedelta(days=1), start.timetz())
        return cls.covering(start, end, interval_min)

    def in_zone(self, tz: tzinfo) -> TimeGrid:
        """The same instants with local times in ``tz`` (profiles are read at its hours)."""
        if self.start.tzinfo is tz:
            return self
        return TimeGrid(
            start=self.start.astimezone(tz), interval_min=self.interval_min, count=self.count
        )

    @property
    def interval(self) -> timedelta:
        return timedelta(minutes=self.interval_min)

    @property
    def dt_h(self) -> float:
        """Interval length [h]: power [kW] x dt_h = energy [kWh]."""
        return self.interval_min / 60.0

    @property
    def tz(self) -> tzinfo:
        assert self.start.tzinfo is not None
        return self.start.tzinfo

    @cached_property
    def starts(self) -> tuple[datetime, ...]:
        """Start of each interval, in the grid's time zone."""
        utc0 = self.start.astimezone(UTC)
        return tuple((utc0 + i * self.interval).astimezone(self.tz) for i in range(self.count))

    @property
    def end(self) -> datetime:
        return (self.start.astimezone(UTC) + self.count * self.interval).astimezone(self.tz)

    def index_of(self, ts: datetime, field: str = "time") -> int:
        """Index of the interval starting at ``ts`` (``ts == end`` gives ``count``)."""
        offset_min = _minutes_between(self.start, ts)
        if offset_min % self.interval_min:
            raise GridAlignmentError(
                field, f"{ts.isoformat()} is not on a {self.interval_min}-min interval boundary"
            )
        index = int(offset_min // self.interval_min)
        if not 0 <= index <= self.count:
            raise GridAlignmentError(
                field,
                f"{ts.isoformat()} is outside the grid "
                f"{self.start.isoformat()} .. {self.end.isoformat()}",
            )
        return index

    def slice_of(self, start: datetime, end: datetime) -> slice:
        """The intervals from ``start`` (inclusive) to ``end`` (exclusive)."""
        return slice(self.index_of(start, "start"), self.index_of(end, "end"))

    def first_index_at_or_after(self, ts: datetime) -> int:
        """Index of the first interval that starts at or after ``ts`` (clamped to 0..count)."""
        offset_min = _minutes_between(self.start, ts)
        index = int(np.ceil(offset_min / self.interval_min - 1e-9))
        return min(max(index, 0), self.count)

    def index_at(self, ts: datetime) -> int:
        """Index of the interval holding ``ts`` (``[start, end)``), clamped to the grid."""
        offset_min = _minutes_between(self.start, ts)
        index = int(np.floor(offset_min / self.interval_min + 1e-9))
        return min(max(index, 0), self.count - 1)

    @cached_property
    def minute_of_day(self) -> NDArray[np.int64]:
        """Local minutes after midnight at each interval start."""
        return np.array([t.hour * 60 + t.minute for t in self.starts], dtype=np.int64)

    def sample_daily(self, profile: Sequence[float]) -> NDArray[np.float64]:
        """A daily profile (24, 48 or 96 values, local time) held constant within its steps."""
        values = np.asarray(profile, dtype=np.float64)
        step_min = MINUTES_PER_DAY // len(values)
        return values[self.minute_of_day // step_min]

    def in_daily_windows(self, windows: Sequence[DailyWindow]) -> NDArray[np.bool_]:
        """Whether each interval lies wholly inside one of the daily windows."""
        start = self.minute_of_day
        end = start + self.interval_min
        mask = np.zeros(self.count, dtype=bool)
        for window in windows:
            mask |= (start >= window.start_min) & (end <= window.end_min)
        return mask

    def window_on(self, day: date, window: DailyWindow) -> tuple[datetime, datetime]:
        """A daily window placed on a calendar day, in the grid's time zone."""
        return daily_window_on(day, window, self.tz)


def _minutes_between(earlier: datetime, later: datetime) -> float:
    """Elapsed minutes, exact across clock changes."""
    return (later.astimezone(UTC) - earlier.astimezone(UTC)).total_seconds() / 60


def daily_window_on(day: date, window: DailyWindow, tz: tzinfo) -> tuple[datetime, datetime]:
    """The aware start and end of a daily window on a given local day.

    The window is read on the wall clock, as profiles are: "11:00-13:00" is 11:00 to 13:00
    local time on a day the clocks change too. A time the clocks skip is the instant after
    the gap (02:30 on a spring-forward day at 02:00 is 03:30), one they pass twice the first.
    """
    return wall_clock(day, window.start_min, tz), wall_clock(day, window.end_min, tz)


def wall_clock(day: date, minute: int, tz: tzinfo) -> datetime:
    """The instant the wall clock shows ``minute`` minutes after midnight on ``day`` (1440
    is the next midnight; a minute the clocks skip is the instant after the gap)."""
    on = day + timedelta(days=minute // MINUTES_PER_DAY)
    minute %= MINUTES_PER_DAY
    local = datetime(on.year, on.month, on.day, minute // 60, minute % 60, tzinfo=tz)
    return local.astimezone(UTC).astimezone(tz)  # a skipped time moves past the gap


def check_plannable(ts: datetime, field: str) -> None:
    """Refuse a time outside :data:`PLANNABLE_YEARS` (a GridAlignmentError naming ``field``)."""
    first, last = PLANNABLE_YEARS
    if not first <= ts.year <= last:
        raise GridAlignmentError(
            field, f"{ts.isoformat()} is outside the years {first}..{last} vpp can plan for"
        )


def zone(name: str) -> ZoneInfo:
    """A time zone by IANA name, with an error that names it.

    Only names of the tz database's regions: ``localtime`` (the host's zone, so plans
    would differ between machines) and file paths such as ``posix/...`` are refused.
    """
    if name == "localtime" or name not in _known_zones():
        raise ValueError(f"unknown time zone {name!r}")
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError) as exc:  # OSError: a folder of the tz database
        raise ValueError(f"unknown time zone {name!r}") from exc


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())
