"""Meter history as CSV: ``timestamp,meter_id,power_kw``, one interval reading a row.

``timestamp`` is the interval start in ISO 8601 with its UTC offset
(``2025-10-09T11:15:00+08:00``); ``power_kw`` is the mean power over the interval [kW],
consumption positive. An empty ``power_kw`` cell (or ``nan``) is a missing reading, as is
an absent row. Extra columns are ignored.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from datetime import date, datetime, tzinfo
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from vpp.baseline.meter import MINUTES_PER_DAY, DailyLoad
from vpp.domain import ConfigError

COLUMNS = ("timestamp", "meter_id", "power_kw")
"""The columns a meter CSV must have, in the order :func:`write_meter_csv` writes them."""

MAX_PROBLEMS = 20
"""Problems collected before reading stops, so one bad file gives one readable error."""


def read_meter_csv(path: Path, tz: tzinfo, interval_min: int = 15) -> dict[str, DailyLoad]:
    """Read a meter CSV into one :class:`DailyLoad` per meter, by local day in ``tz``.

    Parameters
    ----------
    path
        The CSV file (UTF-8, an optional BOM is accepted).
    tz
        The time zone whose calendar days the loads are arranged by.
    interval_min
        The readings' interval; every timestamp must be a local multiple of it [min].

    Returns
    -------
    dict of str to DailyLoad
        Loads by meter id, in sorted order [kW].

    Raises
    ------
    ConfigError
        The file cannot be read, or has problems: each is named ``line N.column`` (a
        missing column, a timestamp that is not ISO 8601, has no UTC offset or is off the
        interval grid, a power that is not a finite number, a duplicate reading); up to
        :data:`MAX_PROBLEMS` are collected.
    """
    if interval_min <= 0 or MINUTES_PER_DAY % interval_min:
        raise ValueError(f"interval_min must divide a day (1440 min) evenly, got {interval_min}")
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            return _parse(csv.reader(file), str(path), tz, interval_min)
    except OSError as exc:
        raise ConfigError(str(path), [("(file)", exc.strerror or str(exc))]) from exc
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [("(file)", f"not a readable CSV file: {exc}")]) from exc


def write_meter_csv(path: Path, loads: Iterable[DailyLoad], tz: tzinfo) -> None:
    """Write loads as a meter CSV that :func:`read_meter_csv` reads back.

    Rows go meter by meter, then by time; missing readings (NaN) are left out; power is
    rounded to 0.001 kW; timestamps are local interval starts in ``tz`` with their offset.

    Parameters
    ----------
    path
        The file to write (overwritten).
    loads
        The meters' loads [kW].
    tz
        The time zone the loads' days are local to.
    """
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(COLUMNS)
        for load in loads:
            for day, values in zip(load.days, load.values_kw, strict=True):
                stamps = _interval_stamps(day, load.interval_min, tz)
                writer.writerows(
                    (stamp, load.meter_id, _format_kw(value))
                    for stamp, value in zip(stamps, values.tolist(), strict=True)
                    if not math.isnan(value)
                )


def _parse(
    reader: Iterable[list[str]], source: str, tz: tzinfo, interval_min: int
) -> dict[str, DailyLoad]:
    """Rows to loads, collecting problems instead of stopping at the first."""
    rows = iter(reader)
    header = next(rows, None)
    if header is None:
        raise ConfigError(
            source, [("line 1", "empty file; expected the header " + ",".join(COLUMNS))]
        )
    names = [name.strip() for name in header]
    missing = [column for column in COLUMNS if column not in names]
    if missing:
        raise ConfigError(
            source,
            [
                (f"line 1.{column}", f"missing column (the header must name {', '.join(COLUMNS)})")
                for column in missing
            ],
        )
    at = {column: names.index(column) for column in COLUMNS}
    per_day = MINUTES_PER_DAY // interval_min
    values: dict[str, dict[date, NDArray[np.float64]]] = {}
    filled: dict[str, dict[date, NDArray[np.bool_]]] = {}
    problems: list[tuple[str, str]] = []
    line = 1
    for row in rows:
        line += 1
        if not any(cell.strip() for cell in row):
            continue
        if len(problems) >= MAX_PROBLEMS:
            problems = problems[:MAX_PROBLEMS]
            problems.append((f"line {line}", f"stopped reading after {MAX_PROBLEMS} problems"))
            break
        if len(row) < len(names):
            problems.append((f"line {line}", f"expected {len(names)} fields, got {len(row)}"))
            continue
        meter_id = row[at["meter_id"]].strip()
        local = _parse_timestamp(row[at["timestamp"]].strip(), tz, interval_min)
        power_kw = _parse_power(row[at["power_kw"]].strip())
        row_problems = [
            (f"line {line}.{column}", value)
            for column, value in (("timestamp", local), ("power_kw", power_kw))
            if isinstance(value, str)
        ]
        if not meter_id:
            row_problems.insert(0, (f"line {line}.meter_id", "empty meter id"))
        if row_problems:
            problems.extend(row_problems)
            continue
        assert isinstance(local, datetime)
        assert isinstance(power_kw, float)
        day, slot = local.date(), (local.hour * 60 + local.minute) // interval_min
        day_values = values.setdefault(meter_id, {}).setdefault(day, np.full(per_day, np.nan))
        day_filled = filled.setdefault(meter_id, {}).setdefault(day, np.zeros(per_day, bool))
        if day_filled[slot]:
            problems.append(
                (
                    f"line {line}.timestamp",
                    f"duplicate reading for meter {meter_id!r} at {local.isoformat()}",
                )
            )
            continue
        day_filled[slot] = True
        day_values[slot] = power_kw
    if problems:
        raise ConfigError(source, problems)
    return {
        meter_id: DailyLoad(
            meter_id=meter_id,
            interval_min=interval_min,
            days=tuple(sorted(by_day)),
            values_kw=np.array([by_day[d] for d in sorted(by_day)]),
        )
        for meter_id, by_day in sorted(values.items())
    }


def _parse_timestamp(text: str, tz: tzinfo, interval_min: int) -> datetime | str:
    """The local interval start, or the reason the text is not one."""
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return f"not an ISO 8601 timestamp: {text!r}"
    if stamp.tzinfo is None or stamp.utcoffset() is None:
        return f"no UTC offset in {text!r} (write e.g. 2025-10-09T11:15:00+08:00)"
    local = stamp.astimezone(tz)
    if (local.hour * 60 + local.minute) % interval_min or local.second or local.microsecond:
        return (
            f"{text!r} is not on the {interval_min}-min interval grid "
            f"(local time {local.time().isoformat()} in {tz})"
        )
    return local


def _parse_power(text: str) -> float | str:
    """The power [kW] (NaN for an empty cell), or the reason the text is not one."""
    if not text:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        return f"not a number: {text!r}"
    if math.isinf(value):
        return f"not a finite number: {text!r}"
    return value


def _interval_stamps(day: date, interval_min: int, tz: tzinfo) -> list[str]:
    """ISO 8601 local starts of a day's intervals, as :class:`DailyLoad` slots them."""
    return [
        datetime(day.year, day.month, day.day, m // 60, m % 60, tzinfo=tz).isoformat()
        for m in range(0, MINUTES_PER_DAY, interval_min)
    ]


def _format_kw(value: float) -> str:
    """Power rounded to 0.001 kW, without a negative zero."""
    return repr(round(value, 3) + 0.0)
