"""Tests for vpp.optimizer.problem: what a DispatchProblem makes of its inputs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from vpp.config import load_district
from vpp.domain import TimeGrid
from vpp.optimizer import DispatchProblem, dispatch
from vpp.planning import make_event

TZ = ZoneInfo("Asia/Shanghai")
TINY = Path(__file__).parent.parent / "data" / "tiny_district.yaml"


def test_dispatch_problem_reads_profiles_at_the_districts_hours_on_a_utc_grid():
    """A grid given in UTC is the same horizon in Shanghai time: the same dispatch."""
    district = load_district(TINY)
    event = make_event(
        district,
        datetime(2026, 7, 15, 14, tzinfo=TZ),
        datetime(2026, 7, 15, 16, tzinfo=TZ),
        target_kw=300,
    )
    local_grid = TimeGrid(start=datetime(2026, 7, 15, tzinfo=TZ), count=96)
    utc_grid = TimeGrid(start=local_grid.start.astimezone(UTC), count=96)
    local = dispatch(DispatchProblem(district, event, local_grid))
    moved_problem = DispatchProblem(district, event, utc_grid)
    assert moved_problem.grid.tz is TZ
    moved = dispatch(moved_problem)
    assert [s.power_kw for s in moved.schedules] == [s.power_kw for s in local.schedules]
    assert [s.setpoint_kw for s in moved.schedules] == [s.setpoint_kw for s in local.schedules]
