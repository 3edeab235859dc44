"""The scenario runner: the same scenario and seed give the same report, however busy the
machine is (solves on work limits, a clock that waits for its messages, not for seconds)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from vpp.hil_sim.report import report_dict
from vpp.hil_sim.runner import simulate
from vpp.hil_sim.scenario import load_scenario

DATA = Path(__file__).parent.parent / "data"

#: The tiny day with work for the controller: half the gateways drop off mid-event (a
#: re-dispatch), then the scenario's own broker outage (the clock keeps running through it).
FAULTS = {"offline": {"share": 0.5, "at": "11:10", "duration_min": 10}}
OUTAGE = {"broker_outage": {"at": "11:22", "duration_min": 3}}

#: A wall-clock limit no solve could keep: it must not apply in simulated time [s].
TIME_LIMIT_S = 1e-4

#: Report fields that measure the machine, not the simulated day.
WALL_CLOCK_FIELDS = ("wall_s", "speedup", "round_trip_ms")


@contextmanager
def cpu_burners() -> Iterator[None]:
    """One busy process per core for as long as the block runs."""
    burners = [
        subprocess.Popen([sys.executable, "-c", "while 1: pass"])
        for _ in range(os.cpu_count() or 1)
    ]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


async def _report(tmp_path: Path) -> dict[str, Any]:
    scenario = load_scenario(DATA / "tiny_scenario.yaml")
    faults = scenario.faults.model_validate({**FAULTS, **OUTAGE})
    dispatch = scenario.controller.dispatch.model_copy(update={"time_limit_s": TIME_LIMIT_S})
    controller = scenario.controller.model_copy(update={"dispatch": dispatch})
    result = await simulate(
        scenario.model_copy(update={"faults": faults, "controller": controller})
    )
    report = report_dict(result)
    for name in WALL_CLOCK_FIELDS:
        report.pop(name)
    return report


async def test_simulate_same_seed_gives_the_same_report_with_every_core_busy(tmp_path):
    """Idle, then with a CPU burner per core: report.json is the same but for wall time,
    though the scenario asks for a wall-clock solver limit no solve could keep."""
    idle = await _report(tmp_path)
    with cpu_burners():
        loaded = await _report(tmp_path)
    assert idle["events"][0]["redispatch"], "the faults should have forced a re-dispatch"
    assert {r["solver"] for r in idle["events"][0]["redispatch"]} <= {"optimal"}
    assert idle == loaded
