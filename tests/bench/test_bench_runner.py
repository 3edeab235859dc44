"""The benchmark harness end to end in quick mode: a smoke test, not a timed assertion."""

import json

import pytest
from bench.runner import main


@pytest.mark.slow
@pytest.mark.broker
def test_quick_bench_runs_every_suite_and_writes_results(tmp_path, capsys):
    out, plot = tmp_path / "results.json", tmp_path / "scaling.png"
    assert main(["--quick", "--out", str(out), "--plot", str(plot)]) == 0
    results = json.loads(out.read_text())
    assert results["mode"] == "quick"
    assert results["complete"] is True
    assert results["machine"]["cpus"] >= 1
    rows = {(r["case"], r["emitter"]): r for r in results["dispatch"]}
    for case in {case for case, _ in rows}:
        ours, ref = rows[(case, "ours")], rows[(case, "reference")]
        assert ours["status"] == "optimal"
        assert ref["status"] == "Optimal"
        assert ours["objective_cny"] == pytest.approx(ref["objective_cny"], rel=0.011)
        assert ours["peak_rss_mb"] > 0
    assert results["redispatch"]["replan_s"] > 0
    telemetry = results["telemetry"]
    assert telemetry["received"] == telemetry["n_messages"]
    assert telemetry["ingested"] == telemetry["n_messages"]
    assert telemetry["workers_ingested"] == telemetry["n_messages"]
    assert all(s["speedup"] > 0 for s in results["simulator"])
    assert plot.stat().st_size > 0
    printed = capsys.readouterr().out
    assert "Dispatch" in printed
    assert "Telemetry ingestion" in printed


def test_a_bench_run_stopped_part_way_keeps_what_it_measured(tmp_path, monkeypatch):
    """The full suite takes over an hour: each step's figures reach the results file as
    soon as it ends, so a run interrupted in its second step keeps the first, marked
    incomplete, and a partial run keeps the other suites' figures from the file."""
    import bench.runner as runner

    out = tmp_path / "results.json"
    out.write_text(json.dumps({"telemetry": {"rate_per_s": 1.0}, "dispatch": []}))
    real_step = runner._run_step
    steps: list[str] = []

    def step_then_stop(name, arg, plan, results):
        steps.append(name)
        if len(steps) > 1:
            raise KeyboardInterrupt  # Ctrl-C, or a CI timeout
        real_step(name, arg, plan, results)

    monkeypatch.setattr(runner, "_run_step", step_then_stop)
    with pytest.raises(KeyboardInterrupt):
        main(["--quick", "--only", "dispatch", "--out", str(out)])
    results = json.loads(out.read_text())
    assert results["complete"] is False
    assert results["stopped_after"] == steps[0]
    [row] = results["dispatch"]  # the first step's figures (its status is the solver's)
    assert row["status"]
    assert results["telemetry"] == {"rate_per_s": 1.0}


def test_a_stopped_run_resumes_without_running_its_finished_steps_again(tmp_path, monkeypatch):
    """``--resume`` goes on where a stopped run left off: the finished step keeps its
    figures and is not run again; the run is then complete. (The suites themselves are the
    quick test's; here every step but the first dispatch records only that it ran.)"""
    import bench.runner as runner

    out = tmp_path / "results.json"
    real_step = runner._run_step
    ran: list[str] = []

    def first_real_then_stop(name, arg, plan, results):
        ran.append(name)
        if len(ran) > 1:
            raise KeyboardInterrupt
        real_step(name, arg, plan, results)

    monkeypatch.setattr(runner, "_run_step", first_real_then_stop)
    with pytest.raises(KeyboardInterrupt):
        main(["--quick", "--out", str(out)])
    stopped = json.loads(out.read_text())
    assert stopped["steps_done"] == [ran[0]]

    resumed: list[str] = []

    def record(name, arg, plan, results):
        resumed.append(name)

    monkeypatch.setattr(runner, "_run_step", record)
    assert main(["--quick", "--resume", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert ran[0] not in resumed
    assert ran[1] == resumed[0]
    assert results["complete"] is True
    assert results["dispatch"] == stopped["dispatch"]  # the finished step's figures
    assert results["steps_done"] == [ran[0], *resumed]
    with pytest.raises(SystemExit):  # nothing left to resume
        main(["--quick", "--resume", "--out", str(out)])
