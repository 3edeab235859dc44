"""Solver logs go to the log, never to stdout: a command's output parses, run as a user would.

HiGHS prints its banner on the file descriptor of standard output the first time a process
makes a solver, which an in-process test runner cannot see; these run ``vpp`` in a fresh
process.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parent.parent / "data"


def run_vpp(*args: str) -> subprocess.CompletedProcess[str]:
    """``vpp`` in a fresh Python, sources of this checkout first on the path."""
    env = dict(os.environ)
    src = str(Path(__file__).parents[2] / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, "-c", "from vpp.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_capability_json_stdout_parses_without_the_solver_banner():
    """``vpp capability --json`` prints one JSON document and nothing else on stdout."""
    done = run_vpp("capability", str(DATA / "tiny_district.yaml"), "--day", "2026-07-15", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["deliverable_kw"] > 0
    assert "HiGHS" not in done.stdout


def test_simulate_quiet_prints_no_solver_banner(tmp_path):
    """``vpp simulate --quiet`` leaves the solver's banner out of its output."""
    (tmp_path / "tiny_district.yaml").write_text((DATA / "tiny_district.yaml").read_text())
    scenario = tmp_path / "tiny_scenario.yaml"
    scenario.write_text((DATA / "tiny_scenario.yaml").read_text())
    done = run_vpp("simulate", str(scenario), "--out", str(tmp_path / "out"), "--quiet")
    assert done.returncode == 0, done.stderr
    assert "HiGHS" not in done.stdout
    assert json.loads((tmp_path / "out" / "report.json").read_text())["events"]
