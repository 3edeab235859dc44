"""Simulator speed: simulated seconds per wall second, at 1,000 and 10,000 devices.

A scenario of the demo peak day on a scaled district (:mod:`bench.instances`, written to a
temporary JSON file as the simulator reads districts from files; a city's YAML would take
a minute to parse), embedded broker, no
events and no faults: what is timed is the simulator itself (device physics, gateways,
telemetry through the in-memory broker into the controller's monitor). A whole day at
10,000 devices would take many minutes, so the run stops after ``wall_budget_s`` of wall
time (or at the end of the day) and the speed is measured over the ticks it completed,
from the first tick on (set-up excluded).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from bench.instances import DAY, scaled_district
from bench.measure import in_fresh_process, peak_rss_mb
from vpp.hil_sim.runner import simulate
from vpp.hil_sim.scenario import Scenario


class _EnoughError(Exception):
    """Raised from the progress callback to end a run once enough time was measured."""


@dataclass
class SimulatorSpeed:
    n_devices: int
    n_sites: int
    simulated_s: float
    wall_s: float
    speedup: float
    """Simulated seconds per wall second (over the measured ticks)."""
    setup_s: float
    peak_rss_mb: float
    setup_cpu_s: float | None = None
    """This process's CPU time for the set-up [s]."""
    cpu_s: float | None = None
    """This process's CPU time over the measured ticks [s]: what the ticks cost when the
    machine is shared (simulated s / cpu_s is the speed on a core of its own)."""
    load_1min: tuple[float, float] | None = None
    """The machine's 1-minute load average when the ticks started and when they ended."""

    @property
    def goal(self) -> SimulatorGoal | None:
        return SIMULATOR_GOALS.get(self.n_devices)

    def meets_goal(self) -> bool | None:
        """Whether speed and set-up are at or better than the goal (None: no goal)."""
        goal = self.goal
        if goal is None:
            return None
        return self.speedup >= goal.speedup and self.setup_s <= goal.setup_s


@dataclass(frozen=True)
class SimulatorGoal:
    speedup: float  # simulated s per wall s, at least
    setup_s: float  # from reading the district file to the first tick, at most [s]


#: Issue 16: a city of 10,000 devices at 150x real time, set up within 30 s (2 cores).
SIMULATOR_GOALS = {10_000: SimulatorGoal(speedup=150.0, setup_s=30.0)}


def run_simulator(n_devices: int, wall_budget_s: float = 60.0, seed: int = 0) -> SimulatorSpeed:
    return in_fresh_process(_measure, n_devices, wall_budget_s, seed)


def _measure(n_devices: int, wall_budget_s: float, seed: int) -> SimulatorSpeed:
    district = scaled_district(n_devices, seed)
    with tempfile.TemporaryDirectory(prefix="vpp-bench-sim-") as tmp:
        path = Path(tmp) / "district.json"
        path.write_text(json.dumps(district.model_dump(mode="json")))
        scenario = Scenario(name=f"bench {n_devices}", district=path, day=date(*DAY), tick_s=60)
        started, started_cpu = time.perf_counter(), time.process_time()
        first: list[tuple[float, datetime]] = []
        last: list[tuple[float, datetime]] = []
        cpu: list[float] = []  # process time at each tick [s]
        load: list[float] = []

        def progress(now: datetime, end: datetime) -> None:
            mark = (time.perf_counter(), now)
            if not first:
                first.append(mark)
                load.append(os.getloadavg()[0])
            cpu.append(time.process_time())
            last[:] = [mark]
            if mark[0] - first[0][0] >= wall_budget_s:
                raise _EnoughError

        with contextlib.suppress(_EnoughError):
            asyncio.run(simulate(scenario, progress=progress))
        load.append(os.getloadavg()[0])
    wall = last[0][0] - first[0][0]
    simulated = (last[0][1] - first[0][1]).total_seconds()
    return SimulatorSpeed(
        n_devices=n_devices,
        n_sites=len({ref.site.site_id for ref in district.resources()}),
        simulated_s=simulated,
        wall_s=wall,
        speedup=simulated / wall if wall > 0 else 0.0,
        setup_s=first[0][0] - started,
        setup_cpu_s=cpu[0] - started_cpu,
        peak_rss_mb=peak_rss_mb(),
        cpu_s=cpu[-1] - cpu[0],
        load_1min=(load[0], load[-1]),
    )
