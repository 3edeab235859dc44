"""Parsing of command-line values that typer cannot check on its own."""

from __future__ import annotations

from datetime import date, datetime, tzinfo

from vpp.domain import District, VppError
from vpp.planning import peak_window


class OptionError(VppError, ValueError):
    """A command-line value is wrong; the message names the option."""


def parse_day(text: str, option: str = "--day") -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise OptionError(f"{option}: expected a date YYYY-MM-DD, got {text!r}") from None


def parse_time(text: str, tz: tzinfo, option: str) -> datetime:
    """An ISO time in the district's zone; without an offset it is local time there.

    A time with another offset is the same instant, expressed in the district's zone.
    """
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise OptionError(
            f"{option}: expected an ISO time such as 2026-07-15T11:00, got {text!r}"
        ) from None
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=tz)
    return value.astimezone(tz)


def parse_window(text: str, tz: tzinfo, option: str = "--window") -> tuple[datetime, datetime]:
    """``START/END`` in ISO format, e.g. ``2026-07-15T11:00/2026-07-15T13:00``."""
    start_text, sep, end_text = text.partition("/")
    if not sep:
        raise OptionError(f"{option}: expected START/END, e.g. 2026-07-15T11:00/2026-07-15T13:00")
    start, end = parse_time(start_text, tz, option), parse_time(end_text, tz, option)
    if end <= start:
        raise OptionError(f"{option}: end {end.isoformat()} is not after start {start.isoformat()}")
    return start, end


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
        return begin, finish
    the_day = parse_day(day) if day else datetime.now(tz).date()
    return peak_window(district, the_day)
