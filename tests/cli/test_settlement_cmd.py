"""The ``vpp settlement`` command on folders of simulation reports, as a user runs it."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vpp.cli import app
from vpp.settlement import ResourceDelivery, settle_event

runner = CliRunner()


def record(enterprise_id: str, asked_kw: float, response_kw: float) -> ResourceDelivery:
    return ResourceDelivery(
        enterprise_id=enterprise_id,
        site_id=f"{enterprise_id}-site",
        resource_id="load",
        kind="curtailable_load",
        asked_kw=(asked_kw,),
        baseline_kw=(500.0,),
        measured_kw=(500.0 - response_kw,),
        price_cny_per_kwh=1.0,
    )


def write_report(folder: Path, *events: list[ResourceDelivery]) -> None:
    """A report.json with the fields `vpp simulate` writes that settlement reads."""
    folder.mkdir(parents=True)
    doc = {
        "events": [
            {"id": f"ev{i}", "settlement": settle_event(f"ev{i}", ev, 1.0).model_dump(mode="json")}
            for i, ev in enumerate(events)
        ]
    }
    (folder / "report.json").write_text(json.dumps(doc))


@pytest.fixture
def season(tmp_path: Path) -> Path:
    """Two days with the same event ids: acme 100 of 100 kWh on both; beta asked nothing on
    day 1 (60 kWh of response anyway) and 100 of 100 kWh on day 2."""
    write_report(tmp_path / "day1", [record("acme", 100, 100), record("beta", 0, 60)])
    write_report(tmp_path / "nested" / "day2", [record("acme", 100, 100), record("beta", 100, 100)])
    return tmp_path


def test_settlement_command_totals_each_enterprise_across_reports(season: Path) -> None:
    result = runner.invoke(app, ["settlement", str(season), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["events"] == 2
    totals = {t["enterprise_id"]: t for t in doc["enterprises"]}
    assert (totals["acme"]["events"], totals["acme"]["net_cny"]) == (2, pytest.approx(200.0))
    beta = totals["beta"]
    assert (beta["events"], beta["unasked_events"]) == (1, 1)
    assert (beta["payment_cny"], beta["unasked_kwh"]) == (pytest.approx(100.0), pytest.approx(60.0))


def test_settlement_command_prints_a_table_and_the_unasked_apart(season: Path) -> None:
    result = runner.invoke(app, ["settlement", str(season)])
    assert result.exit_code == 0, result.output
    assert "settlement totals over 2 events in 2 reports" in result.output
    assert "unasked response (asked nothing: not paid, not penalised): beta 1 events 60.0 kWh" in (
        " ".join(result.output.split())
    )


def test_settlement_command_filters_one_enterprise(season: Path) -> None:
    result = runner.invoke(app, ["settlement", str(season), "--json", "--enterprise", "beta"])
    assert [t["enterprise_id"] for t in json.loads(result.output)["enterprises"]] == ["beta"]


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        pytest.param(None, ["missing"], "does not exist", id="no-folder"),
        pytest.param(None, ["."], "no report.json under", id="empty-folder"),
        pytest.param("{not json", ["."], "not a simulation report", id="not-json"),
        pytest.param(
            '{"events": [{"settlement": {}}]}', ["."], "not a simulation report", id="no-lines"
        ),
        pytest.param(
            '{"events": [{"settlement": {"event_id": "e", "enterprises": [{"asked_kwh": 1}]}}]}',
            ["."],
            "not a simulation report",
            id="bad-line",
        ),
    ],
)
def test_settlement_command_bad_input_exits_2_naming_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    setup: str | None,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    if setup is not None:
        (tmp_path / "report.json").write_text(setup)
    result = runner.invoke(app, ["settlement", *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_settlement_command_unknown_enterprise_exits_2(season: Path) -> None:
    result = runner.invoke(app, ["settlement", str(season), "--enterprise", "nobody"])
    assert result.exit_code == 2
    assert "'nobody' has no settlement line in 2 reports" in " ".join(result.output.split())
