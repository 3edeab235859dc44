"""``vpp simulate --days --ledger`` records rotation; ``vpp rotation`` shows it."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vpp.cli import app

DATA = Path(__file__).parent.parent / "data"
runner = CliRunner()


@pytest.fixture(scope="module")
def season(tmp_path_factory):
    """Two simulated days of the tiny scenario with a ledger."""
    out = tmp_path_factory.mktemp("season")
    ledger = out / "ledger.jsonl"
    args = ["simulate", str(DATA / "tiny_scenario.yaml"), "--out", str(out), "--quiet"]
    result = runner.invoke(app, [*args, "--days", "2", "--ledger", str(ledger)])
    return result, out, ledger


def test_simulate_days_writes_a_report_per_day_and_records_each_event(season):
    result, out, ledger = season
    assert result.exit_code == 0, result.output
    for day in ("2026-07-15", "2026-07-16"):
        assert (out / day / "report.json").is_file()
    lines = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert {(x["start"][:10], x["enterprise_id"]) for x in lines} == {
        (d, e) for d in ("2026-07-15", "2026-07-16") for e in ("steel", "mall")
    }
    called_first_day = sorted(
        x["enterprise_id"] for x in lines if x["called"] and "07-15" in x["start"]
    )
    assert called_first_day
    assert "rotation counts from" in result.output
    second_day = result.output.split("2026-07-16, seed 2")[1]
    expected = ", ".join(f"{e} 1" for e in called_first_day)
    assert f"rotation counts from {ledger}: {expected}" in " ".join(second_day.split())


def test_rotation_command_counts_the_calls_of_the_ledger(season):
    _, _, ledger = season
    result = runner.invoke(
        app, ["rotation", str(ledger), str(DATA / "tiny_district.yaml"), "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    recorded = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert doc["events"] == 2
    calls = {e["enterprise_id"]: e["calls"] for e in doc["enterprises"]}
    assert sum(calls.values()) == sum(x["called"] for x in recorded)
    assert {e["enterprise_id"]: e["rotation_count"] for e in doc["enterprises"]} == calls
    assert doc["fairness"]["calls_per_mw_spread"] >= 0.0


def test_rotation_command_prints_a_table_and_the_fairness(season):
    _, _, ledger = season
    result = runner.invoke(app, ["rotation", str(ledger), str(DATA / "tiny_district.yaml")])
    assert result.exit_code == 0, result.output
    assert "rotation over 2 events" in result.output
    assert "fairness: calls per MW of registered flexibility spread" in " ".join(
        result.output.split()
    )


@pytest.mark.parametrize(
    ("ledger_text", "extra", "message"),
    [
        pytest.param(None, [], "is not a file", id="no-ledger"),
        pytest.param("{bad\n", [], "line 1", id="bad-line"),
        pytest.param("", ["--at", "tomorrow"], "--at: expected an ISO time", id="bad-at"),
        pytest.param("", ["--at", "2026-07-15T00:00"], "--at: give a UTC offset", id="naive-at"),
    ],
)
def test_rotation_command_bad_input_exits_2_naming_it(tmp_path, ledger_text, extra, message):
    ledger = tmp_path / "ledger.jsonl"
    if ledger_text is not None:
        ledger.write_text(ledger_text)
    result = runner.invoke(app, ["rotation", str(ledger), str(DATA / "tiny_district.yaml"), *extra])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
