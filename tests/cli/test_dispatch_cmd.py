"""The ``vpp dispatch`` and ``vpp capability`` commands, run as a user would."""

import csv
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from vpp.cli import app

TINY = Path(__file__).parent.parent / "data" / "tiny_district.yaml"
DEMO = Path(__file__).parent.parent.parent / "configs" / "districts" / "demo.yaml"
runner = CliRunner()


def test_capability_command_prints_pass_line_and_table():
    """Human output: the table of kinds and a PASS line with the margin."""
    result = runner.invoke(app, ["capability", str(TINY), "--day", "2026-07-15"])
    assert result.exit_code == 0, result.output
    assert "PASS" in result.output
    assert "curtailable_load" in result.output


def test_capability_command_json_has_the_documented_fields():
    """--json: district_peak_kw, target_kw, deliverable_kw, percent_of_peak, meets_target."""
    result = runner.invoke(
        app, ["capability", str(TINY), "--window", "2026-07-15T11:00/2026-07-15T13:00", "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["district_peak_kw"] == 10000
    assert doc["target_kw"] == pytest.approx(500.0)
    assert doc["deliverable_kw"] > doc["target_kw"]
    assert doc["percent_of_peak"] == pytest.approx(100 * doc["deliverable_kw"] / 10000, rel=1e-3)
    assert doc["meets_target"] is True


def test_capability_command_exits_1_when_the_target_is_missed(tmp_path):
    """A peak so large that 5% is out of reach: FAIL, exit code 1, the shortfall stated."""
    text = TINY.read_text().replace("peak_load_kw: 10000", "peak_load_kw: 100000")
    district = tmp_path / "big.yaml"
    district.write_text(text)
    result = runner.invoke(app, ["capability", str(district), "--day", "2026-07-15"])
    assert result.exit_code == 1
    assert "FAIL" in result.output
    assert "short by" in result.output


def test_dispatch_command_writes_setpoints_and_plot(tmp_path):
    """CSV and JSON setpoints, the full result and a PNG land in --out."""
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        [
            "dispatch",
            str(TINY),
            "--start",
            "2026-07-15T11:00",
            "--end",
            "2026-07-15T13:00",
            "--target-kw",
            "800",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "target met" in result.output
    with (out / "setpoints.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows
    assert {"command_id", "mode", "power_kw", "valid_from", "valid_until"} <= set(rows[0])
    doc = json.loads((out / "dispatch.json").read_text())
    assert doc["summary"]["meets_target"] is True
    assert len(json.loads((out / "setpoints.json").read_text())) == len(rows)
    assert (out / "dispatch.png").read_bytes()[:4] == b"\x89PNG"


def test_dispatch_command_reports_shortfall_for_impossible_target(tmp_path):
    """An impossible target still dispatches, and says by how much it falls short."""
    result = runner.invoke(
        app,
        [
            "dispatch",
            str(TINY),
            "--day",
            "2026-07-15",
            "--target-kw",
            "5000",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "shortfall" in result.output


def test_dispatch_command_prints_the_post_event_peak_against_the_rebound_cap(tmp_path):
    """By default the cap is the baseline peak; the plan's post-event peak is printed against
    it and written to dispatch.json."""
    args = ["dispatch", str(TINY), "--day", "2026-07-15", "--out", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "rebound: post-event peak" in result.output
    summary = json.loads((tmp_path / "dispatch.json").read_text())["summary"]
    assert summary["rebound_cap_kw"] == pytest.approx(summary["baseline_peak_kw"])
    assert summary["post_event_peak_kw"] <= summary["rebound_cap_kw"] + 1e-3
    assert summary["max_rebound_excess_kw"] == 0.0


def test_dispatch_command_rebound_cap_option_overrides_the_district(tmp_path):
    """--rebound-cap none: no cap; a figure in kW below what the rebound needs: the excess."""
    base = ["dispatch", str(TINY), "--day", "2026-07-15", "--out", str(tmp_path)]
    result = runner.invoke(app, [*base, "--rebound-cap", "none"])
    assert result.exit_code == 0, result.output
    assert "rebound: no cap" in result.output
    assert json.loads((tmp_path / "dispatch.json").read_text())["summary"]["rebound_cap_kw"] is None
    result = runner.invoke(app, [*base, "--rebound-cap", "1"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "dispatch.json").read_text())["summary"]
    assert summary["rebound_cap_kw"] == 1.0


def test_dispatch_command_release_hold_zero_ends_every_curtailment_with_the_window(tmp_path):
    """The demo district: held up to 60 min (the default) some curtailment runs on past
    13:00 and the plan holds the cap; with --release-hold 0 none does, and it cannot."""
    base = ["dispatch", str(DEMO), "--day", "2026-07-15"]
    held = runner.invoke(app, [*base, "--out", str(tmp_path / "held")])
    assert held.exit_code == 0, held.output
    at_once = runner.invoke(app, [*base, "--out", str(tmp_path / "at_once"), "--release-hold", "0"])
    assert at_once.exit_code == 0, at_once.output

    def summary(name: str) -> dict[str, float]:
        out: dict[str, float] = json.loads((tmp_path / name / "dispatch.json").read_text())[
            "summary"
        ]
        return out

    assert summary("held")["max_rebound_excess_kw"] < summary("at_once")["max_rebound_excess_kw"]
    assert ": held" in " ".join(held.output.split())


def test_dispatch_command_lp_first_answers_from_the_rounded_relaxation_where_it_proves(tmp_path):
    """--lp-first with a gap the rounded relaxation meets: no MILP, the proof says so."""
    base = ["dispatch", str(TINY), "--day", "2026-07-15", "--gap", "0.5"]
    result = runner.invoke(app, [*base, "--out", str(tmp_path / "lp"), "--lp-first"])
    assert result.exit_code == 0, result.output
    solve = json.loads((tmp_path / "lp" / "dispatch.json").read_text())["solve"]
    assert "LP relaxation rounded" in solve["termination"]
    result = runner.invoke(app, [*base, "--out", str(tmp_path / "milp")])
    solve = json.loads((tmp_path / "milp" / "dispatch.json").read_text())["solve"]
    assert "LP relaxation" not in solve["termination"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--day", "2026-07-15", "--release-hold", "-5"], "--release-hold"),
        (["--day", "2026-07-15", "--rebound-cap", "peak"], "--rebound-cap"),
        (["--day", "2026-07-15", "--rebound-cap", "-5"], "--rebound-cap"),
        (["--start", "2026-07-15T11:00"], "--start and --end go together"),
        (["--start", "tomorrow", "--end", "2026-07-15T13:00"], "--start: expected an ISO time"),
        (["--day", "2026-07-15", "--target-kw", "5", "--target-pct", "5"], "not both"),
        (["--day", "2026-07-15", "--backend", "gurobi"], "--backend"),
        (["--start", "2026-07-15T11:07", "--end", "2026-07-15T13:00"], "interval boundary"),
        (["--start", "2026-07-15T11:00", "--end", "2026-07-17T11:00"], "at most 24 h"),
        (["--start", "9999-12-31T22:00-05:00", "--end", "9999-12-31T23:00-05:00"], "1900..9000"),
        (["--start", "0001-01-01T00:00", "--end", "0001-01-01T02:00"], "1900..9000"),
        (
            ["--day", "2026-07-15", "--issued-at", "2026-07-15T12:00"],
            "--issued-at: 2026-07-15T12:00:00+08:00 is after the event start",
        ),
        (["--day", "2026-07-15", "--out", "/dev/null/out"], "--out: cannot create the folder"),
    ],
    ids=[
        "hold-negative",
        "cap-word",
        "cap-negative",
        "start-alone",
        "bad-time",
        "two-targets",
        "bad-backend",
        "off-grid",
        "two-days",
        "year-9999",
        "year-1",
        "issued-after-start",
        "out-not-a-folder",
    ],
)
def test_dispatch_command_bad_arguments_exit_2_without_traceback(args, message, tmp_path):
    """Wrong arguments: one clear message naming the option, exit code 2."""
    result = runner.invoke(app, ["dispatch", str(TINY), "--out", str(tmp_path), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_capability_command_refuses_a_local_time_the_clocks_skip(tmp_path):
    """02:30 does not exist in Berlin on 2026-03-29: refused, not silently moved."""
    district = tmp_path / "berlin.yaml"
    district.write_text(
        TINY.read_text().replace("timezone: Asia/Shanghai", "timezone: Europe/Berlin")
    )
    window = "2026-03-29T02:30/2026-03-29T04:00"
    result = runner.invoke(app, ["capability", str(district), "--window", window])
    assert result.exit_code == 2
    assert "does not exist in Europe/Berlin" in result.output
    moved = runner.invoke(
        app, ["capability", str(district), "--window", "2026-03-29T02:30+01:00/2026-03-29T04:00"]
    )
    assert moved.exit_code in (0, 1), moved.output  # with its offset it is 03:30 CEST


def test_dispatch_command_bad_config_names_file_and_field(tmp_path):
    """A wrong config: the file, the field path and the reason; exit code 2."""
    broken = tmp_path / "broken.yaml"
    broken.write_text(TINY.read_text().replace("soc_initial: 0.9", "soc_initial: 1.5"))
    result = runner.invoke(app, ["dispatch", str(broken), "--day", "2026-07-15"])
    assert result.exit_code == 2
    assert str(broken) in result.output
    assert "soc_initial" in result.output


def _scaled_district_file(tmp_path: Path, n_resources: int) -> Path:
    from scaled import scaled_district

    path = tmp_path / "scaled.yaml"
    path.write_text(yaml.safe_dump(scaled_district(n_resources).model_dump(mode="json")))
    return path


def test_dispatch_command_decomposes_on_a_process_pool(tmp_path):
    """--workers 2, a low --decompose-above: groups of about 40 solved in parallel."""
    out = tmp_path / "run"
    args = ["dispatch", str(_scaled_district_file(tmp_path, 124)), "--day", "2026-07-15"]
    args += ["--decompose-above", "50", "--group-resources", "40", "--workers", "2"]
    args += ["--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "decomposed" in result.output
    assert "target met" in result.output
    assert "limit check failed" not in result.output
    doc = json.loads((out / "dispatch.json").read_text())
    assert len(doc["schedules"]) == 124


@pytest.mark.slow
def test_dispatch_command_solves_groups_on_a_dask_scheduler(tmp_path):
    """--dask ADDRESS: a real scheduler with two worker processes solves the groups."""
    distributed = pytest.importorskip("distributed")
    args = ["dispatch", str(_scaled_district_file(tmp_path, 124)), "--day", "2026-07-15"]
    args += ["--decompose-above", "50", "--group-resources", "40", "--out", str(tmp_path / "run")]
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",  # a free port: no clash, no warning
    ) as cluster:
        result = runner.invoke(app, [*args, "--dask", cluster.scheduler_address])
    assert result.exit_code == 0, result.output
    assert "decomposed" in result.output
    assert "target met" in result.output


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--workers", "0", "--workers"),
        ("--decompose-above", "0", "--decompose-above"),
        ("--group-resources", "0", "--group-resources"),
        ("--dask", "scheduler:8786", "--dask"),
        ("--dask", "tcp://", "--dask"),
        ("--group-by", "site", "--group-by"),
    ],
)
def test_dispatch_command_bad_decomposition_options_exit_2(option, value, message, tmp_path):
    result = runner.invoke(app, ["dispatch", str(TINY), "--day", "2026-07-15", option, value])
    assert result.exit_code == 2
    assert message in result.output


def test_capability_command_gives_the_same_answer_for_a_utc_window():
    """06:00+00:00/08:00+00:00 is 14:00-16:00 in Shanghai: the same report, in local time."""
    answers = [
        runner.invoke(app, ["capability", str(TINY), "--window", window, "--json"])
        for window in (
            "2026-07-15T06:00+00:00/2026-07-15T08:00+00:00",
            "2026-07-15T14:00/2026-07-15T16:00",
        )
    ]
    assert [a.exit_code for a in answers] == [0, 0], answers[0].output + answers[1].output
    utc_doc, local_doc = (json.loads(a.output) for a in answers)
    assert utc_doc == local_doc
    assert utc_doc["window"] == {
        "start": "2026-07-15T14:00:00+08:00",
        "end": "2026-07-15T16:00:00+08:00",
    }


def test_dispatch_command_gives_the_same_setpoints_for_utc_start_and_end(tmp_path):
    """--start/--end with +00:00 plan the same local hours as the local times."""
    setpoints = []
    for name, start, end in (
        ("utc", "2026-07-15T06:00+00:00", "2026-07-15T08:00+00:00"),
        ("local", "2026-07-15T14:00", "2026-07-15T16:00"),
    ):
        out = tmp_path / name
        args = ["dispatch", str(TINY), "--start", start, "--end", end, "--target-kw", "300"]
        result = runner.invoke(app, [*args, "--out", str(out)])
        assert result.exit_code == 0, result.output
        setpoints.append((out / "setpoints.csv").read_text())
    assert setpoints[0] == setpoints[1]
