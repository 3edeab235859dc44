"""Tests for vpp.domain.dispatch: setpoints from a hand-made DispatchResult, and outcomes."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from vpp.domain import (
    CostBreakdown,
    DemandResponseEvent,
    DispatchResult,
    IntervalOutcome,
    ResourceSchedule,
    SetpointMode,
    SolveStats,
    SolveStatus,
    TimeGrid,
)

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2025, 7, 1, 11, tzinfo=SH)
Q = timedelta(minutes=15)
ISSUED = datetime(2025, 7, 1, 10, 50, tzinfo=SH)


def _result(
    setpoints: tuple[float | None, ...] = (None, 50.0, 50.0, None),
    shortfalls: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0),
    mode: SetpointMode = SetpointMode.LIMIT,
    excess: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0),
) -> DispatchResult:
    """Four quarter-hours from 11:00; the event covers the middle two."""
    grid = TimeGrid(start=T0, interval_min=15, count=4)
    event = DemandResponseEvent(
        event_id="ev1",
        start=T0 + Q,
        end=T0 + 3 * Q,
        target_kw=100,
        issued_at=T0 - timedelta(hours=1),
    )
    schedule = ResourceSchedule(
        enterprise_id="steel",
        feeder_id="f1",
        site_id="steel-main",
        resource_id="rolling-mill",
        kind="curtailable_load",
        mode=mode,
        baseline_kw=(150.0, 150.0, 150.0, 150.0),
        power_kw=(150.0, 50.0, 50.0, 150.0),
        setpoint_kw=setpoints,
    )
    intervals = tuple(
        IntervalOutcome(
            start=grid.starts[t],
            in_event=t in (1, 2),
            target_kw=100.0 if t in (1, 2) else 0.0,
            baseline_kw=150.0,
            expected_power_kw=schedule.power_kw[t],
            expected_response_kw=150.0 - schedule.power_kw[t],
            shortfall_kw=shortfalls[t],
            rebound_limit_kw=None if t in (1, 2) else 150.0,
            rebound_excess_kw=excess[t],
        )
        for t in range(4)
    )
    stats = SolveStats(
        status=SolveStatus.OPTIMAL,
        termination="optimal",
        backend="highs",
        objective_cny=50.0,
        mip_gap=0.0,
        build_s=0.01,
        solve_s=0.02,
        extract_s=0.0,
        n_variables=10,
        n_constraints=8,
        n_integer=2,
    )
    return DispatchResult(
        event=event,
        grid=grid,
        target_kw=100.0,
        schedules=(schedule,),
        intervals=intervals,
        costs=CostBreakdown(compensation_cny=50.0),
        solve=stats,
    )


def test_dispatch_result_setpoints_one_per_commanded_interval():
    """Intervals with setpoint None get no command; the others get one each."""
    setpoints = _result().setpoints(ISSUED)
    assert len(setpoints) == 2
    assert [s.power_kw for s in setpoints] == [50.0, 50.0]
    assert {(s.site_id, s.resource_id) for s in setpoints} == {("steel-main", "rolling-mill")}
    assert all(s.issued_at == ISSUED for s in setpoints)


def test_dispatch_result_setpoints_expire_at_interval_end():
    """Each setpoint is valid from its interval's start until its end, never longer."""
    setpoints = _result().setpoints(ISSUED)
    assert [(s.valid_from, s.valid_until) for s in setpoints] == [
        (T0 + Q, T0 + 2 * Q),
        (T0 + 2 * Q, T0 + 3 * Q),
    ]
    assert all(s.valid_until - s.valid_from == Q for s in setpoints)


def test_dispatch_result_setpoints_last_interval_expires_at_grid_end():
    """A setpoint in the final interval lapses at the grid's end."""
    result = _result(setpoints=(None, None, None, -20.0))
    (only,) = result.setpoints(ISSUED)
    assert (only.valid_from, only.valid_until) == (T0 + 3 * Q, result.grid.end)
    assert only.valid_until == T0 + 4 * Q


def test_dispatch_result_setpoints_command_ids_unique_and_deterministic():
    """Command ids differ between setpoints, repeat for the same issued_at, change otherwise."""
    result = _result()
    first = [s.command_id for s in result.setpoints(ISSUED)]
    again = [s.command_id for s in result.setpoints(ISSUED)]
    later = [s.command_id for s in result.setpoints(ISSUED + timedelta(minutes=5))]
    assert len(set(first)) == 2
    assert first == again
    assert not set(first) & set(later)
    expected = uuid.uuid5(
        uuid.NAMESPACE_URL,
        f"ev1/steel-main/rolling-mill/{(T0 + Q).isoformat()}/{ISSUED.isoformat()}",
    )
    assert first[0] == str(expected)


@pytest.mark.parametrize("mode", list(SetpointMode))
def test_dispatch_result_setpoints_carry_schedule_mode(mode):
    """Each setpoint has its schedule's mode."""
    setpoints = _result(mode=mode).setpoints(ISSUED)
    assert [s.mode for s in setpoints] == [mode, mode]


def test_dispatch_result_setpoints_none_when_nothing_commanded():
    """A schedule that runs normally throughout gives no setpoints."""
    assert _result(setpoints=(None, None, None, None)).setpoints(ISSUED) == []


def test_dispatch_result_meets_target_without_shortfall():
    """No shortfall in event intervals means the target is met."""
    result = _result()
    assert result.max_shortfall_kw == 0.0
    assert result.meets_target
    assert [i.start for i in result.event_intervals] == [T0 + Q, T0 + 2 * Q]


def test_dispatch_result_max_shortfall_counts_event_intervals_only():
    """Shortfall outside the event is ignored; inside, the largest one counts."""
    result = _result(shortfalls=(500.0, 3.0, 7.5, 900.0))
    assert result.max_shortfall_kw == 7.5
    assert not result.meets_target


@pytest.mark.parametrize(("shortfall", "meets"), [(0.01, True), (0.0101, False)])
def test_dispatch_result_meets_target_tolerance(shortfall, meets):
    """A shortfall up to 0.01 kW (10 x DEVIATION_TOL_KW) still meets the target."""
    result = _result(shortfalls=(0.0, shortfall, 0.0, 0.0))
    assert result.max_shortfall_kw == shortfall
    assert result.meets_target is meets


def test_cost_breakdown_cost_excludes_penalties():
    """cost_cny sums compensation, degradation and energy, not priced violations."""
    costs = CostBreakdown(
        compensation_cny=10.0,
        rotation_cny=100.0,
        degradation_cny=2.0,
        energy_cny=3.0,
        shortfall_penalty_cny=1000.0,
    )
    assert costs.cost_cny == 15.0


def test_resource_schedule_key():
    """A schedule's key is 'site/resource'."""
    assert _result().schedules[0].key == "steel-main/rolling-mill"


def test_dispatch_result_post_event_peak_is_the_largest_load_after_the_window():
    """Only the interval after the window counts, not the one before it."""
    result = _result()
    before = result.intervals[0].model_copy(update={"expected_power_kw": 300.0})
    result = result.model_copy(update={"intervals": (before, *result.intervals[1:])})
    assert result.post_event_peak_kw == 150.0


def test_dispatch_result_max_rebound_excess_is_the_cap_shortfall():
    assert _result().max_rebound_excess_kw == 0.0
    assert _result(excess=(0.0, 0.0, 0.0, 12.5)).max_rebound_excess_kw == 12.5
