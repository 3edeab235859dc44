"""The ``vpp simulate`` command, run as a user would, on the tiny district's event day."""

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mosquitto_broker import free_port
from vpp.cli import app

DATA = Path(__file__).parent.parent / "data"
TINY_SCENARIO = DATA / "tiny_scenario.yaml"
REPORT_FILES = (
    "report.json",
    "event_intervals.csv",
    "settlement.csv",
    "timeseries.csv",
    "district_load.png",
    "contributions.png",
    "event_delivery.png",
)
runner = CliRunner()


def scenario_variant(tmp_path: Path, name: str, replace: dict[str, str], extra: str = "") -> Path:
    """The tiny scenario with some text replaced, written beside a copy of its district."""
    text = TINY_SCENARIO.read_text()
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    (tmp_path / "tiny_district.yaml").write_text((DATA / "tiny_district.yaml").read_text())
    path = tmp_path / name
    path.write_text(text + extra)
    return path


@pytest.fixture(scope="module")
def met_run(tmp_path_factory):
    """One simulated day in which the tiny district meets its 150 kW for 30 min."""
    out = tmp_path_factory.mktemp("simulate") / "out"
    result = runner.invoke(app, ["simulate", str(TINY_SCENARIO), "--out", str(out)])
    return result, out


def test_simulate_command_met_target_exits_0(met_run):
    """Every event met: exit code 0, the interval table, the verdict and the settlement."""
    result, _ = met_run
    assert result.exit_code == 0, result.output
    assert "noon-peak: MET in all 2 intervals" in result.output
    assert "district peak 10,000 kW" in result.output
    assert "settlement (rule default)" in result.output
    assert "speed-up" in result.output


def test_simulate_command_writes_every_report_file(met_run):
    """report.json, three CSV files and three plots land in --out, and are listed."""
    result, out = met_run
    for name in REPORT_FILES:
        assert (out / name).is_file(), name
        assert f"wrote {out / name}\n" in result.output
    assert (out / "district_load.png").read_bytes()[:4] == b"\x89PNG"


def test_simulate_command_post_event_peak_stays_under_the_rebound_cap(met_run):
    """report.json's rebound block: the measured post-event peak at or below the cap, which
    is the plan's baseline peak; the line is printed too."""
    result, out = met_run
    rebound = json.loads((out / "report.json").read_text())["rebound"]
    assert rebound["cap_kw"] == pytest.approx(rebound["baseline_peak_kw"])
    assert rebound["post_event_peak_kw"] <= rebound["cap_kw"]
    assert rebound["intervals_above_cap"] == 0
    assert [e["id"] for e in rebound["events"]] == ["noon-peak"]
    assert rebound["events"][0]["planned_max_excess_kw"] == 0.0
    assert rebound["events"][0]["final_plans_max_excess_kw"] == 0.0
    assert rebound["planned_post_event_peak_kw"] <= rebound["cap_kw"] + 1e-3
    assert rebound["post_event_peak_at"] >= "2026-07-15T11:30"
    assert "post-event peak" in result.output
    assert "(the plans' " in result.output


def test_simulate_command_gives_the_true_post_event_peak_beside_the_metered_one(met_run):
    """The meters' peak is what an operator sees; the devices' own load is what the grid
    feels: report.json has both, at the largest ``true_kw`` of timeseries.csv after the
    event, and the printed line names both."""
    result, out = met_run
    rebound = json.loads((out / "report.json").read_text())["rebound"]
    with (out / "timeseries.csv").open() as f:  # the event ends at 11:30; 4 h of recovery
        after = [r for r in csv.DictReader(f) if "T11:30" <= r["start"][10:16] < "T15:30"]
    top = max(after, key=lambda r: float(r["true_kw"]))
    assert rebound["true_post_event_peak_at"] == top["start"]
    assert rebound["true_post_event_peak_kw"] == pytest.approx(float(top["true_kw"]), abs=1e-3)
    above = sum(float(r["true_kw"]) > rebound["cap_kw"] for r in after)
    assert rebound["true_intervals_above_cap"] == above
    assert f"{rebound['true_post_event_peak_kw']:,.0f} kW at " in result.output
    assert " true (the plans' " in result.output


def test_simulate_command_traces_the_post_event_peak_to_each_kind(met_run):
    """At the post-event peak, the load above the baselines is split by kind, planned and
    measured; the measured parts add up to the peak less the baseline there."""
    _, out = met_run
    event = json.loads((out / "report.json").read_text())["rebound"]["events"][0]
    with (out / "timeseries.csv").open() as f:
        row = next(r for r in csv.DictReader(f) if r["start"] == event["post_event_peak_at"])
    parts = event["at_peak_by_kind"]
    kinds = {c.removesuffix("_measured_kw") for c in row if c.endswith("_measured_kw")}
    assert set(parts) == kinds
    assert all(set(p) == {"planned_kw", "measured_kw"} for p in parts.values())
    above = float(row["measured_kw"]) - float(row["baseline_kw"])
    assert sum(p["measured_kw"] for p in parts.values()) == pytest.approx(above, abs=0.01)
    # the planned part again, by the event whose plan adds it (one event here)
    by_event = event["at_peak_by_event"]
    assert set(by_event) == {"noon-peak"}
    planned = sum(p["planned_kw"] for p in parts.values())
    assert by_event["noon-peak"] == pytest.approx(planned, abs=0.01)


def test_simulate_command_report_json_has_the_documented_fields(met_run):
    """events[0]: id, target_kw, performance_ratio, met and per-interval figures."""
    _, out = met_run
    doc = json.loads((out / "report.json").read_text())
    event = doc["events"][0]
    assert event["id"] == "noon-peak"
    assert event["target_kw"] == pytest.approx(150.0)
    assert event["met"] is True
    assert event["performance_ratio"] >= 1.0
    assert [i["start"] for i in event["intervals"]] == [
        "2026-07-15T11:00:00+08:00",
        "2026-07-15T11:15:00+08:00",
    ]
    for interval in event["intervals"]:
        assert {"start", "target_kw", "baseline_kw", "actual_kw", "delivered_kw"} <= set(interval)
        assert interval["delivered_kw"] == pytest.approx(
            interval["baseline_kw"] - interval["actual_kw"], abs=2e-3
        )


def test_simulate_command_report_is_totalled_by_the_settlement_command(met_run):
    """`vpp settlement OUT` reads what simulate wrote: its payments are the report's."""
    _, out = met_run
    doc = json.loads((out / "report.json").read_text())
    paid = {
        line["enterprise_id"]: line["payment_cny"]
        for event in doc["events"]
        for line in event["settlement"]["enterprises"]
    }
    result = runner.invoke(app, ["settlement", str(out), "--json"])
    assert result.exit_code == 0, result.output
    totals = json.loads(result.output)["enterprises"]
    assert {t["enterprise_id"]: t["payment_cny"] for t in totals if t["events"]} == paid


def test_simulate_command_honest_day_refuses_no_reading(met_run):
    """Every simulated meter reads within its envelope: nothing refused, nothing listed."""
    result, out = met_run
    doc = json.loads((out / "report.json").read_text())
    assert doc["messages"]["controller"]["refused"] == {}
    assert doc["events"][0]["refused_samples"] == {}
    assert all(
        line["refused_samples"] == 0 for line in doc["events"][0]["settlement"]["enterprises"]
    )
    assert "refused as implausible" in result.output


def test_simulate_command_plausibility_settings_come_from_the_scenario_file(tmp_path):
    """No tolerance at all (``controller.plausibility`` in the scenario): PV at full sun and
    chargers at full power read a little beyond their registered limits through meter
    noise, so readings are refused, counted by reason in report.json and the printed table."""
    scenario = scenario_variant(
        tmp_path,
        "strict.yaml",
        {},
        "controller:\n  plausibility: {tolerance_pct: 0, tolerance_kw: 0}\n",
    )
    out = tmp_path / "out"
    result = runner.invoke(app, ["simulate", str(scenario), "--out", str(out), "--quiet"])
    doc = json.loads((out / "report.json").read_text())
    refused = doc["messages"]["controller"]["refused"]
    assert set(refused) == {"power_outside_envelope"}, refused
    n = refused["power_outside_envelope"]
    assert n > 0
    assert f"refused as implausible  │ {n:,} (power_outside_envelope {n:,})" in result.output
    header = (out / "settlement.csv").read_text().splitlines()[0].split(",")
    assert header[-5:] == ["refused_samples", "unasked_kwh", "asked_intervals", "status", "note"]


def test_simulate_command_missed_target_exits_1_with_the_shortfall(tmp_path):
    """A target twice what the district has, and a gateway that drops off: NOT MET, exit 1,
    the shortfall, the fault injected and the fault the controller saw."""
    scenario = scenario_variant(
        tmp_path,
        "too_much.yaml",
        {"target_kw: 150": "target_kw: 2000"},
        'faults:\n  offline: {share: 0.5, at: "11:10", duration_min: 10}\n',
    )
    result = runner.invoke(
        app, ["simulate", str(scenario), "--out", str(tmp_path / "out"), "--quiet"]
    )
    assert result.exit_code == 1, result.output
    assert "noon-peak: NOT MET: shortfall in 2 of 2 intervals" in result.output
    assert "gateway offline from 11:10 for 10 min" in result.output  # injected
    assert "Faults seen by the controller" in result.output
    assert "Re-dispatches" in result.output
    doc = json.loads((tmp_path / "out" / "report.json").read_text())
    assert doc["events"][0]["met"] is False


def test_simulate_command_unknown_scenario_field_exits_2_naming_it(tmp_path):
    """A field the scenario format does not have: the file and the field, exit code 2."""
    scenario = scenario_variant(tmp_path, "typo.yaml", {"tick_s: 60": "tick_seconds: 60"})
    result = runner.invoke(app, ["simulate", str(scenario), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert str(scenario) in result.output.replace("\n", "")
    assert "tick_seconds" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.yaml"], "No such file or directory"),
        ([str(TINY_SCENARIO), "--mqtt", "http://127.0.0.1:1883"], "expected mqtt://host:port"),
        ([str(TINY_SCENARIO), "--mqtt", "mqtt://127.0.0.1:70000"], "port must be an integer"),
        ([str(TINY_SCENARIO), "--mqtt", f"mqtt://127.0.0.1:{free_port()}"], "no MQTT broker"),
        ([str(TINY_SCENARIO), "--out", "/dev/null/out"], "--out: cannot create the folder"),
    ],
    ids=["missing-file", "not-mqtt-url", "bad-port", "no-broker", "out-not-a-folder"],
)
def test_simulate_command_bad_input_exits_2_without_traceback(args, message, tmp_path):
    """Wrong input is refused before the run: one error message, exit code 2."""
    result = runner.invoke(app, ["simulate", "--out", str(tmp_path / "out"), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output.replace("\n", " ")
    assert result.output.startswith("error:")
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("day: 2026-07-15", "day: 9999-12-31", "day: 9999-12-31 is outside the years"),
        ("day: 2026-07-15", "day: 0001-01-01", "day: 0001-01-01 is outside the years"),
        ("target_kw: 150", "target_kw: 1e308", "events.noon-peak.target_kw"),
    ],
    ids=["year-9999", "year-1", "huge-target"],
)
def test_simulate_command_out_of_range_scenario_exits_2_naming_the_field(tmp_path, old, new, field):
    """A day the calendar cannot hold or a target no district has: refused before the run."""
    scenario = scenario_variant(tmp_path, "odd.yaml", {old: new})
    result = runner.invoke(app, ["simulate", str(scenario), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert field in result.output.replace("\n", " ")
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_simulate_command_prints_messages_and_round_trips_per_protocol(tmp_path):
    """A day on MQTT, OCPP and Modbus at once: a Messages row per protocol and its setpoint
    round trips, and the same in report.json (the round trips apart, as wall clock)."""
    scenario = scenario_variant(
        tmp_path,
        "mixed.yaml",
        {"target_kw: 150": "target_kw: 800"},
        extra="protocols: {mall: ocpp, steel-main: modbus}\n",
    )
    out = tmp_path / "out"
    result = runner.invoke(app, ["simulate", str(scenario), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    for label in ("MQTT", "OCPP", "Modbus"):
        assert f"{label} setpoint to ack" in result.output
    doc = json.loads((out / "report.json").read_text())
    assert set(doc["messages"]["by_protocol"]) == {"mqtt", "ocpp", "modbus"}
    assert set(doc["round_trip_ms"]["setpoint_to_ack"]) == {"mqtt", "ocpp", "modbus"}
