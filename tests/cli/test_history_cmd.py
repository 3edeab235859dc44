"""Tests for vpp.cli.history_cmd: ``vpp history`` writes the synthetic meter history."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import vpp.cli.history_cmd  # noqa: F401  (registers the command)
from vpp.baseline.meter_csv import read_meter_csv
from vpp.cli.app import EXIT_USAGE, app
from vpp.config import load_district
from vpp.domain import CurtailableLoad, SyntheticHistory
from vpp.synthetic import meter_history

DEMO = Path(__file__).resolve().parents[2] / "configs" / "districts" / "demo.yaml"
runner = CliRunner()


@pytest.fixture(scope="module")
def demo_data() -> dict:
    return yaml.safe_load(DEMO.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def small(demo_data, tmp_path_factory) -> Path:
    """The demo's first five enterprises (all industrial), to keep the runs short."""
    data = dict(demo_data)
    data["enterprises"] = demo_data["enterprises"][:5]
    ids = {e["enterprise_id"] for e in data["enterprises"]}
    data["rotation_counts"] = {k: v for k, v in demo_data["rotation_counts"].items() if k in ids}
    path = tmp_path_factory.mktemp("district") / "small.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_history_writes_the_expected_header_and_rows(tmp_path):
    """The shipped demo district: one meter per curtailable load, 8 days of 96 intervals."""
    out = tmp_path / "meters.csv"
    result = runner.invoke(
        app, ["history", str(DEMO), "--end-day", "2026-07-15", "--days", "7", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    district = load_district(DEMO)
    meters = sorted(
        ref.key for ref in district.resources() if isinstance(ref.resource, CurtailableLoad)
    )
    with out.open(encoding="utf-8", newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["timestamp", "meter_id", "power_kw"]
    assert len(rows) - 1 == len(meters) * 8 * 96
    assert sorted({row[1] for row in rows[1:]}) == meters
    first = datetime.fromisoformat(rows[1][0])
    assert first.utcoffset() is not None
    assert first.isoformat() == "2026-07-08T00:00:00+08:00"
    assert max(datetime.fromisoformat(row[0]) for row in rows[1:]).isoformat() == (
        "2026-07-15T23:45:00+08:00"
    )
    assert str(len(meters)) in _flat(result.output)


def test_the_csv_reads_back_as_the_generated_history(small, tmp_path):
    out = tmp_path / "meters.csv"
    result = runner.invoke(
        app, ["history", str(small), "--end-day", "2026-07-15", "--days", "7", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    district = load_district(small)
    assert isinstance(district.meter_history, SyntheticHistory)
    expected = meter_history(
        district, date(2026, 7, 15), district.meter_history.model_copy(update={"days": 7})
    )
    back = read_meter_csv(out, district.tz)
    assert set(back) == set(expected)
    for meter_id, load in expected.items():
        assert back[meter_id].days == load.days
        np.testing.assert_allclose(back[meter_id].values_kw, load.values_kw, atol=1e-3)


def test_days_default_to_the_district_file(small, tmp_path):
    out = tmp_path / "meters.csv"
    result = runner.invoke(
        app, ["history", str(small), "--end-day", "2026-07-15", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    district = load_district(small)
    assert district.meter_history is not None
    assert f"x {district.meter_history.days + 1} days" in _flat(result.output)


def test_a_district_without_synthetic_history_is_a_clear_error(small, tmp_path):
    data = yaml.safe_load(small.read_text(encoding="utf-8"))
    data["meter_history"] = {"source": "csv", "path": "meters.csv"}
    district_file = tmp_path / "district.yaml"
    district_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    out = tmp_path / "out.csv"
    result = runner.invoke(
        app, ["history", str(district_file), "--end-day", "2026-07-15", "--out", str(out)]
    )
    assert result.exit_code == EXIT_USAGE
    assert "synthetic" in _flat(result.output)
    assert "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--end-day", "15/07/2026"], "--end-day"),
        (["--end-day", "2026-07-15", "--interval-min", "7"], "--interval-min"),
        (["--end-day", "0001-01-05", "--days", "30"], "--end-day: 0001-01-05 is outside"),
    ],
    ids=["bad-day", "bad-interval", "year-1"],
)
def test_wrong_options_are_clear_errors(small, tmp_path, args, message):
    result = runner.invoke(app, ["history", str(small), *args, "--out", str(tmp_path / "m.csv")])
    assert result.exit_code == EXIT_USAGE
    assert message in _flat(result.output)


def test_a_broken_district_file_is_a_clear_error(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("district_id: x\n", encoding="utf-8")
    result = runner.invoke(
        app, ["history", str(broken), "--end-day", "2026-07-15", "--out", str(tmp_path / "m.csv")]
    )
    assert result.exit_code == EXIT_USAGE
    assert "broken.yaml" in _flat(result.output)
