"""From a district file and an event to a dispatch problem."""

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vpp.planning
from vpp.baseline.meter import DailyLoad
from vpp.config import load_district
from vpp.domain import ConfigError, District
from vpp.optimizer import dispatch
from vpp.planning import (
    AFTER_EVENT,
    LONGEST_RECOVERY,
    event_horizon,
    make_event,
    prepare_problem,
    recovery_time,
    register_history_reader,
)

TZ = ZoneInfo("Asia/Shanghai")
TINY = Path(__file__).parent / "data" / "tiny_district.yaml"


def test_event_horizon_covers_the_day_and_four_hours_after_a_late_event():
    """A 22:00-24:00 event's horizon runs to 04:00 next day, so its rebound is planned."""
    district = load_district(TINY)
    late = make_event(
        district, datetime(2026, 7, 15, 22, tzinfo=TZ), datetime(2026, 7, 16, tzinfo=TZ)
    )
    grid = event_horizon(late)
    assert grid.start == datetime(2026, 7, 15, tzinfo=TZ)
    assert grid.end == datetime(2026, 7, 16, 4, tzinfo=TZ)
    midday = make_event(
        district, datetime(2026, 7, 15, 11, tzinfo=TZ), datetime(2026, 7, 15, 13, tzinfo=TZ)
    )
    assert event_horizon(midday).count == 96


def test_recovery_time_is_the_slowest_resources_return_within_bounds():
    """The tiny district's slowest return is a battery's full recharge at rated power;
    a slower one is bounded by a day, a faster district gets the 4 h floor."""
    district = load_district(TINY)
    batteries = [r.resource for r in district.resources() if r.resource.kind == "battery"]
    assert batteries
    full = max(
        (b.soc_max - b.soc_min) * b.capacity_kwh / b.charge_efficiency / b.max_charge_kw
        for b in batteries
    )
    assert recovery_time(district).total_seconds() / 3600 == max(full, 4.0)
    assert recovery_time(district) >= AFTER_EVENT
    assert recovery_time(district) <= LONGEST_RECOVERY


def test_prepare_problem_horizon_reaches_past_a_late_event_for_its_recovery():
    """A 22:00-24:00 event's horizon covers at least the district's recovery after it."""
    district = load_district(TINY)
    start, end = datetime(2026, 7, 15, 22, tzinfo=TZ), datetime(2026, 7, 16, tzinfo=TZ)
    problem, _ = prepare_problem(district, make_event(district, start, end, target_kw=800))
    assert problem.grid.end >= end + recovery_time(district)


def test_prepare_problem_rebound_of_a_late_event_lands_after_midnight():
    """Rebound after a late event is inside the horizon, not lost past its end."""
    district = load_district(TINY)
    start, end = datetime(2026, 7, 15, 22, tzinfo=TZ), datetime(2026, 7, 16, tzinfo=TZ)
    problem, _ = prepare_problem(district, make_event(district, start, end, target_kw=800))
    result = dispatch(problem)
    (mill,) = [s for s in result.schedules if s.resource_id == "rolling-mill"]
    during = np.array(mill.baseline_kw[88:96]) - np.array(mill.power_kw[88:96])
    after = np.array(mill.power_kw[96:100]) - np.array(mill.baseline_kw[96:100])
    assert during.min() > 100  # curtailed 22:00-24:00
    assert after.max() > 100  # rebound at 00:00-01:00 of the next day


def test_prepare_problem_uses_customer_baselines_from_meter_history():
    """Curtailable loads get their CBL from the (synthetic) meter history, noted by method."""
    district = load_district(TINY)
    event = make_event(
        district, datetime(2026, 7, 15, 11, tzinfo=TZ), datetime(2026, 7, 15, 13, tzinfo=TZ)
    )
    problem, baselines = prepare_problem(district, event)
    key = "steel-main/rolling-mill"
    assert baselines.method == "jiangsu"
    assert len(baselines.days_used[key]) == 5
    cbl = problem.load_baselines_kw[key]
    assert not np.allclose(cbl, 1000.0)  # measured history, not the flat typical load
    assert abs(cbl[44:52].mean() - 1000.0) < 150


def test_planning_reads_history_from_the_registered_reader_and_generates_none(monkeypatch):
    """The demo generator is registered by the edges (CLI, service, simulator, tests); without
    a reader for a district's source, planning refuses it with a ConfigError, and a reader
    that is registered is what planning's baselines come from."""
    monkeypatch.setattr(vpp.planning, "_READERS", dict(vpp.planning._READERS))
    vpp.planning._READERS.pop("synthetic")
    district = load_district(TINY)
    assert district.meter_history is not None
    assert district.meter_history.source == "synthetic"
    event = make_event(
        district, datetime(2026, 7, 15, 11, tzinfo=TZ), datetime(2026, 7, 15, 13, tzinfo=TZ)
    )
    with pytest.raises(ConfigError, match=r"meter_history\.source"):
        prepare_problem(district, event)

    asked: list[tuple[str, object]] = []

    def flat_2000_kw(d: District, end_day, source, interval_min: int) -> dict[str, DailyLoad]:
        asked.append((d.district_id, end_day))
        days = tuple(end_day - timedelta(days=n) for n in range(20, -1, -1))
        values = np.full((len(days), 1440 // interval_min), 2000.0)
        key = "steel-main/rolling-mill"
        return {
            key: DailyLoad(meter_id=key, interval_min=interval_min, days=days, values_kw=values)
        }

    register_history_reader("synthetic", flat_2000_kw)
    problem, _ = prepare_problem(district, event)
    assert asked == [(district.district_id, event.start.date())]
    assert np.allclose(problem.load_baselines_kw["steel-main/rolling-mill"][44:52], 2000.0)


OFFSETS_MIN = st.integers(min_value=-12 * 60, max_value=14 * 60).map(lambda m: m - m % 15)


@settings(max_examples=25, deadline=None)
@given(offset_min=OFFSETS_MIN, late=st.booleans())
def test_prepare_problem_is_the_same_whatever_utc_offset_the_window_is_given_in(offset_min, late):
    """06:00+00:00 is 14:00 in Shanghai: same horizon, same local hours, same baselines."""
    district = load_district(TINY)
    hours = (22, 24) if late else (14, 16)  # a late window's UTC date is the next local day
    start = datetime(2026, 7, 15, tzinfo=TZ) + timedelta(hours=hours[0])
    end = datetime(2026, 7, 15, tzinfo=TZ) + timedelta(hours=hours[1])
    there = timezone(timedelta(minutes=offset_min))
    local, local_baselines = prepare_problem(district, make_event(district, start, end))
    moved, moved_baselines = prepare_problem(
        district, make_event(district, start.astimezone(there), end.astimezone(there))
    )
    assert moved.grid.starts == local.grid.starts
    assert moved.grid.tz is TZ
    assert (moved.event.start, moved.event.end) == (start, end)
    assert moved.event.event_id == local.event.event_id
    for key, values in local_baselines.load_kw.items():
        np.testing.assert_array_equal(moved_baselines.load_kw[key], values)
    assert moved_baselines.days_used == local_baselines.days_used


def test_prepare_problem_takes_a_stored_utc_event_in_the_districts_zone():
    """An event read back from the store in UTC is planned on the district's local day."""
    district = load_district(TINY)
    local_event = make_event(
        district, datetime(2026, 7, 16, 1, tzinfo=TZ), datetime(2026, 7, 16, 3, tzinfo=TZ)
    )
    utc_event = local_event.model_copy(
        update={
            "start": local_event.start.astimezone(UTC),  # 2026-07-15T17:00Z: the day before
            "end": local_event.end.astimezone(UTC),
            "issued_at": local_event.issued_at.astimezone(UTC),
        }
    )
    problem, _ = prepare_problem(district, utc_event)
    assert problem.grid.start == datetime(2026, 7, 16, tzinfo=TZ)
    assert problem.grid.starts == prepare_problem(district, local_event)[0].grid.starts
