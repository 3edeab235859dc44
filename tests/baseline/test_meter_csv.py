"""Tests for vpp.baseline.meter_csv: the round trip and errors that name line and column."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from vpp.baseline import DailyLoad, read_meter_csv, write_meter_csv
from vpp.domain import ConfigError

TZ = ZoneInfo("Asia/Shanghai")
HEADER = "timestamp,meter_id,power_kw\n"


def _write(path: Path, body: str) -> Path:
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def _problems(path: Path, interval_min: int = 15) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        read_meter_csv(path, TZ, interval_min)
    assert caught.value.source == str(path)
    return caught.value.problems


def test_write_meter_csv_round_trips_through_read(tmp_path):
    """Written loads read back equal, rounded to 0.001 kW, gaps kept as gaps."""
    rng = np.random.default_rng(7)
    days = (date(2025, 10, 8), date(2025, 10, 9), date(2025, 10, 12))
    values = rng.uniform(-50.0, 500.0, (3, 96))
    values[1, 10:14] = np.nan
    loads = [
        DailyLoad("site-a", 15, days, values),
        DailyLoad("site-b", 15, days[:1], np.full((1, 96), 12.3456)),
    ]
    path = tmp_path / "meters.csv"
    write_meter_csv(path, loads, TZ)
    back = read_meter_csv(path, TZ)
    assert list(back) == ["site-a", "site-b"]
    assert back["site-a"].days == days
    np.testing.assert_allclose(back["site-a"].values_kw, np.round(values, 3), equal_nan=True)
    np.testing.assert_array_equal(back["site-b"].values_kw, np.full((1, 96), 12.346))


def test_write_meter_csv_writes_local_starts_with_offset(tmp_path):
    """Rows are timestamp,meter_id,power_kw with ISO 8601 local starts and their offset."""
    path = tmp_path / "meters.csv"
    write_meter_csv(path, [DailyLoad("m1", 60, (date(2025, 10, 9),), np.full((1, 24), 5.0))], TZ)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "timestamp,meter_id,power_kw"
    assert lines[1] == "2025-10-09T00:00:00+08:00,m1,5.0"
    assert len(lines) == 25


def test_read_meter_csv_places_utc_timestamps_on_local_days(tmp_path):
    """16:00Z is 00:00 the next day in Shanghai."""
    path = _write(tmp_path / "m.csv", "2025-10-08T16:00:00Z,m1,7.5\n")
    load = read_meter_csv(path, TZ)["m1"]
    assert load.days == (date(2025, 10, 9),)
    assert load.values_kw[0, 0] == 7.5
    assert np.isnan(load.values_kw[0, 1:]).all()


def test_read_meter_csv_empty_power_is_a_missing_reading(tmp_path):
    """An empty power cell is a gap, not an error."""
    path = _write(tmp_path / "m.csv", "2025-10-09T00:00:00+08:00,m1,\n")
    assert np.isnan(read_meter_csv(path, TZ)["m1"].values_kw).all()


def test_read_meter_csv_missing_column_names_it(tmp_path):
    """A header without power_kw is reported as line 1.power_kw."""
    path = tmp_path / "m.csv"
    path.write_text("timestamp,meter_id\n2025-10-09T00:00:00+08:00,m1\n", encoding="utf-8")
    assert _problems(path) == [
        ("line 1.power_kw", "missing column (the header must name timestamp, meter_id, power_kw)")
    ]


def test_read_meter_csv_problems_name_line_and_column(tmp_path):
    """A naive timestamp, a non-number and an off-grid time are each named by line.column."""
    path = _write(
        tmp_path / "m.csv",
        "2025-10-09T00:00:00+08:00,m1,1.0\n"
        "2025-10-09T00:15:00,m1,1.0\n"
        "2025-10-09T00:30:00+08:00,m1,lots\n"
        "2025-10-09T00:50:00+08:00,m1,1.0\n"
        "yesterday,m1,inf\n",
    )
    problems = _problems(path)
    assert [where for where, _ in problems] == [
        "line 3.timestamp",
        "line 4.power_kw",
        "line 5.timestamp",
        "line 6.timestamp",
        "line 6.power_kw",
    ]
    reasons = dict(problems)
    assert "no UTC offset" in reasons["line 3.timestamp"]
    assert "not a number: 'lots'" in reasons["line 4.power_kw"]
    assert "15-min interval grid" in reasons["line 5.timestamp"]
    assert "not an ISO 8601 timestamp" in reasons["line 6.timestamp"]
    assert "not a finite number" in reasons["line 6.power_kw"]


def test_read_meter_csv_reports_duplicates_and_short_rows(tmp_path):
    """The same meter and interval twice, and a row with too few fields, are problems."""
    path = _write(
        tmp_path / "m.csv",
        "2025-10-09T00:00:00+08:00,m1,1.0\n2025-10-08T16:00:00+00:00,m1,2.0\n\nonly-one-field\n",
    )
    problems = _problems(path)
    assert problems[0][0] == "line 3.timestamp"
    assert "duplicate reading for meter 'm1'" in problems[0][1]
    assert problems[1] == ("line 5", "expected 3 fields, got 1")


def test_read_meter_csv_stops_collecting_after_twenty_problems(tmp_path):
    """A file full of errors gives about twenty problems, then says it stopped."""
    path = _write(tmp_path / "m.csv", "2025-10-09T00:00:00+08:00,m1,x\n" * 50)
    problems = _problems(path)
    assert len(problems) == 21
    assert problems[-1] == ("line 22", "stopped reading after 20 problems")


def test_read_meter_csv_missing_file_is_a_config_error(tmp_path):
    """A file that does not exist is one ConfigError naming it."""
    problems = _problems(tmp_path / "absent.csv")
    assert problems[0][0] == "(file)"


def test_read_meter_csv_refuses_an_interval_that_does_not_divide_a_day(tmp_path):
    """interval_min must divide 1440."""
    path = _write(tmp_path / "m.csv", "")
    with pytest.raises(ValueError, match="divide a day"):
        read_meter_csv(path, TZ, interval_min=7)
