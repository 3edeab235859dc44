"""Tests for vpp.cli.baseline_cmd: ``vpp baseline`` on small CSV files."""

from __future__ import annotations

import csv
import json
import re
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from typer.testing import CliRunner

import vpp.cli.baseline_cmd  # noqa: F401  (registers the command)
from vpp.baseline import DailyLoad, write_meter_csv
from vpp.cli.app import EXIT_USAGE, app

TZ = ZoneInfo("Asia/Shanghai")
EVENT_DAY = date(2025, 7, 15)
runner = CliRunner()


@pytest.fixture
def meter_csv(tmp_path: Path) -> Path:
    """Two meters, flat 100 and 40 kW, for the 30 days before 15 July 2025 and the day itself."""
    days = tuple(EVENT_DAY - timedelta(days=k) for k in range(30, -1, -1))
    path = tmp_path / "meters.csv"
    write_meter_csv(
        path,
        [
            DailyLoad("site-a", 15, days, np.full((len(days), 96), 100.0)),
            DailyLoad("site-b", 15, days, np.full((len(days), 96), 40.0)),
        ],
        TZ,
    )
    return path


def _invoke(*args: str):
    return runner.invoke(app, ["baseline", *args])


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_baseline_prints_window_rows_for_every_meter(meter_csv):
    """A plain run shows each meter's baseline over the window, the days used and the adjustment."""
    result = _invoke(str(meter_csv), "--day", "2025-07-15", "--window", "11:00-13:00")
    assert result.exit_code == 0, result.output
    output = _flat(result.output)
    assert "site-a [kW]" in output
    assert "site-b [kW]" in output
    assert re.search(r"11:00 +100\.000 +40\.000", output)
    assert re.search(r"12:45 +[0-9.]+ +[0-9.]+", output)
    assert not re.search(r"13:00 +[0-9.]+", output)
    assert "days used 2025-07-14, 2025-07-11, 2025-07-10, 2025-07-09, 2025-07-08" in output
    assert "adjustment: none" in output


def test_baseline_json_reports_values_days_and_adjustment(meter_csv):
    """--json prints machine-readable results for the chosen meter."""
    result = _invoke(
        str(meter_csv),
        "--day",
        "2025-07-15",
        "--method",
        "caiso_10_in_10",
        "--window",
        "14:00-16:00",
        "--meter",
        "site-b",
        "--json",
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["method"] == "caiso_10_in_10"
    (meter,) = payload["meters"]
    assert meter["meter_id"] == "site-b"
    assert len(meter["days_used"]) == 10
    assert meter["adjustment"]["applied"] == pytest.approx(1.0)
    assert len(meter["intervals"]) == 8
    assert meter["intervals"][0] == {"start": "2025-07-15T14:00:00+08:00", "baseline_kw": 40.0}


def test_baseline_out_writes_csv_of_the_whole_day(meter_csv, tmp_path):
    """--out with --all-intervals writes timestamp,meter_id,baseline_kw for every interval."""
    out = tmp_path / "baseline.csv"
    result = _invoke(str(meter_csv), "--day", "2025-07-15", "--all-intervals", "--out", str(out))
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 2 * 96
    assert rows[0] == {
        "timestamp": "2025-07-15T00:00:00+08:00",
        "meter_id": "site-a",
        "baseline_kw": "100.0",
    }


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--day", "15/07/2025"], "--day: expected a date like 2026-07-15"),
        (["--day", "2025-07-15", "--method", "nope"], "--method: unknown baseline method 'nope'"),
        (["--day", "2025-07-15", "--meter", "site-z"], "--meter: no meter 'site-z'"),
        (["--day", "2025-07-15", "--window", "13:00-11:00"], "--window: end must be after start"),
        (["--day", "2025-07-15", "--method", "caiso_10_in_10"], "--window: required"),
        (["--day", "2025-07-15", "--tz", "Mars/Olympus"], "--tz: unknown time zone"),
        (["--day", "2025-07-15", "--interval-min", "7"], "--interval-min: must divide"),
        (["--day", "2025-07-15", "--event-day", "soon"], "--event-day: expected a date"),
        (["--day", "2025-06-16"], "not enough history"),
    ],
    ids=[
        "bad-date",
        "unknown-method",
        "unknown-meter",
        "reversed-window",
        "window-required",
        "bad-zone",
        "bad-interval",
        "bad-event-day",
        "no-history",
    ],
)
def test_baseline_bad_input_exits_2_with_a_message(meter_csv, args, expected):
    """Wrong arguments give exit code 2 and a message naming the option, no traceback."""
    result = _invoke(str(meter_csv), *args)
    assert result.exit_code == EXIT_USAGE
    assert expected in _flat(result.output)
    assert "Traceback" not in result.output


def test_baseline_bad_csv_exits_2_naming_line_and_column(tmp_path):
    """A malformed meter file is reported by line and column, exit code 2."""
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,meter_id,power_kw\n2025-07-15T00:00:00,m1,1\n", encoding="utf-8")
    result = _invoke(str(path), "--day", "2025-07-15")
    assert result.exit_code == EXIT_USAGE
    assert "line 2.timestamp" in _flat(result.output)
