"""Parsing of command-line values that typer cannot check on its own."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path

import typer

from vpp.domain import MAX_TARGET_KW, PLANNABLE_YEARS, District, VppError, check_plannable
from vpp.planning import peak_window


class OptionError(VppError, ValueError):
    """A command-line value is wrong; the message names the option."""


@dataclass(frozen=True)
class Number:
    """The parser of one numeric option: a finite number within its range, or a usage error.

    Every numeric option of every command parses through one of these (``parser=``), so
    NaN, infinities and out-of-range values are refused before a command runs, in one
    line that names the option (click adds the name), with exit code 2.
    """

    low: float
    high: float
    low_open: bool = False
    """True: ``low`` itself is refused (a strict lower bound)."""
    integer: bool = False
    unit: str = ""

    def __call__(self, value: str | float) -> float:
        number = self._parse(value)
        too_low = number <= self.low if self.low_open else number < self.low
        if not math.isfinite(number) or too_low or number > self.high:
            raise typer.BadParameter(f"expected {self.describe()}, got {value!s}")
        return number

    def _parse(self, value: str | float) -> float:
        if not isinstance(value, str):
            return value
        try:
            return int(value) if self.integer else float(value)
        except ValueError:
            raise typer.BadParameter(f"expected {self.describe()}, got {value}") from None

    def describe(self) -> str:
        """The accepted values in words, e.g. ``a number > 0 and <= 3600 [s]``."""
        what = "a whole number" if self.integer else "a number"
        low = f"> {_plain(self.low)}" if self.low_open else f">= {_plain(self.low)}"
        unit = f" [{self.unit}]" if self.unit else ""
        return f"{what} {low} and <= {_plain(self.high)}{unit}"


def _plain(number: float) -> str:
    return f"{number:,.0f}" if float(number).is_integer() else f"{number:g}"


# The numeric options of every command, with their ranges (one place).
TIME_LIMIT_S = Number(0, 3600, low_open=True, unit="s")
MIP_GAP = Number(0, 1)
TARGET_KW = Number(0, MAX_TARGET_KW, low_open=True, unit="kW")
TARGET_PCT = Number(0, 100, low_open=True, unit="% of district peak")
RESOURCE_COUNT = Number(1, 1_000_000, integer=True)
WORKERS = Number(1, 256, integer=True)
INTERVAL_MIN = Number(1, 60, integer=True, unit="min")
HISTORY_DAYS = Number(1, 400, integer=True, unit="days")
SIMULATED_DAYS = Number(1, 366, integer=True, unit="days")
FLUSH_S = Number(0.01, 60, unit="s")
PORT = Number(1, 65535, integer=True)
TIME_SCALE = Number(1, 3600, unit="simulated s per wall s")
POLL_S = Number(0.1, 3600, unit="s")
FRACTION = Number(0, 1, low_open=True)
HOLD_MIN = Number(0, 24 * 60, integer=True, unit="min")


def writable_folder(path: Path, option: str = "--out") -> Path:
    """Create the output folder now, so a long run never ends in a traceback on its files."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OptionError(f"{option}: cannot create the folder {path}: {reason}") from None
    return path


def parse_day(text: str, option: str = "--day") -> date:
    """A calendar day YYYY-MM-DD in the years vpp can plan for."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise OptionError(f"{option}: expected a date like 2026-07-15, got {text!r}") from None
    first, last = PLANNABLE_YEARS
    if not first <= day.year <= last:
        raise OptionError(f"{option}: {day} is outside the years {first}..{last} vpp can plan for")
    return day


def parse_moment(text: str, option: str) -> datetime:
    """An ISO time with its UTC offset: the same moment in every zone (options read where
    no district gives local time a meaning)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise OptionError(
            f"{option}: expected an ISO time such as 2026-07-15T10:45+08:00, got {text!r}"
        ) from None
    check_plannable(value, option)
    if value.tzinfo is None or value.utcoffset() is None:
        raise OptionError(f"{option}: give a UTC offset, e.g. {text}+08:00")
    return value


def parse_time(text: str, tz: tzinfo, option: str) -> datetime:
    """An ISO time in the district's zone; without an offset it is local time there.

    A time with another offset is the same instant, expressed in the district's zone. A
    local time the clocks skip (a DST change) is refused; one they pass twice is the first.
    """
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise OptionError(
            f"{option}: expected an ISO time such as 2026-07-15T11:00, got {text!r}"
        ) from None
    check_plannable(value, option)  # before any arithmetic can leave the calendar
    if value.tzinfo is None or value.utcoffset() is None:
        local = value.replace(tzinfo=tz)
        if local.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != value:
            raise OptionError(
                f"{option}: {text} does not exist in {tz} (the clocks skip it); "
                "give the time with its UTC offset"
            )
        return local
    return value.astimezone(tz)


def parse_window(text: str, tz: tzinfo, option: str = "--window") -> tuple[datetime, datetime]:
    """``START/END`` in ISO format, e.g. ``2026-07-15T11:00/2026-07-15T13:00``."""
    start_text, sep, end_text = text.partition("/")
    if not sep:
        raise OptionError(f"{option}: expected START/END, e.g. 2026-07-15T11:00/2026-07-15T13:00")
    start, end = parse_time(start_text, tz, option), parse_time(end_text, tz, option)
    if end <= start:
        raise OptionError(f"{option}: end {end.isoformat()} is not after start {start.isoformat()}")
    return start, _within_a_day(start, end, option)


#: The longest event window, as the API allows.
MAX_WINDOW = timedelta(days=1)


def _within_a_day(start: datetime, end: datetime, option: str) -> datetime:
    if end - start > MAX_WINDOW:
        hours = (end - start) / timedelta(hours=1)
        raise OptionError(f"{option}: a window lasts at most 24 h, got {hours:g} h")
    return end


def resolve_window(
    district: District,
    window: str | None,
    start: str | None,
    end: str | None,
    day: str | None,
) -> tuple[datetime, datetime]:
    """The event window: ``--window``, or ``--start``/``--end``, or the peak hours of ``--day``."""
    tz = district.tz
    if window is not None:
        return parse_window(window, tz)
    if start is not None or end is not None:
        if start is None or end is None:
            raise OptionError("--start and --end go together")
        begin, finish = parse_time(start, tz, "--start"), parse_time(end, tz, "--end")
        if finish <= begin:
            raise OptionError(
                f"--end {finish.isoformat()} is not after --start {begin.isoformat()}"
            )
        return begin, _within_a_day(begin, finish, "--end")
    the_day = parse_day(day) if day else datetime.now(tz).date()
    return peak_window(district, the_day)
