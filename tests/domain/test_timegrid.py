"""Tests for vpp.domain.timegrid (TimeGrid) and vpp.domain._base (DailyWindow)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from vpp.domain import (
    ALL_DAY,
    DailyWindow,
    GridAlignmentError,
    TimeGrid,
    check_plannable,
    daily_window_on,
)

SH = ZoneInfo("Asia/Shanghai")
DAY = date(2025, 7, 1)
T0 = datetime(2025, 7, 1, tzinfo=SH)


def _errors(exc: ValidationError) -> list[tuple[tuple[int | str, ...], str]]:
    return [(tuple(e["loc"]), e["msg"]) for e in exc.errors(include_url=False)]


# --- TimeGrid.covering -------------------------------------------------------------------


def test_covering_spans_start_to_end():
    """A two-hour window gives eight 15-min intervals that end exactly at ``end``."""
    grid = TimeGrid.covering(T0 + timedelta(hours=11), T0 + timedelta(hours=13))
    assert grid.count == 8
    assert grid.interval_min == 15
    assert grid.start == T0 + timedelta(hours=11)
    assert grid.end == T0 + timedelta(hours=13)


@pytest.mark.parametrize("end", [T0, T0 - timedelta(minutes=15)], ids=["equal", "before"])
def test_covering_rejects_end_not_after_start(end):
    """An empty or reversed window is a GridAlignmentError on the field 'end'."""
    with pytest.raises(GridAlignmentError) as exc_info:
        TimeGrid.covering(T0, end)
    assert exc_info.value.field == "end"
    assert exc_info.value.reason == f"{end.isoformat()} is not after start {T0.isoformat()}"
    assert str(exc_info.value).startswith("end: ")


def test_covering_rejects_partial_interval():
    """A span that is not a whole number of intervals names 'end' and the span."""
    with pytest.raises(GridAlignmentError) as exc_info:
        TimeGrid.covering(T0, T0 + timedelta(minutes=50))
    assert exc_info.value.field == "end"
    assert exc_info.value.reason == "window of 50 min is not a whole number of 15-min intervals"


def test_covering_accepts_end_in_another_zone():
    """Start and end in different zones are compared as instants."""
    grid = TimeGrid.covering(T0, datetime(2025, 7, 1, 0, tzinfo=UTC), interval_min=60)
    assert grid.count == 8  # 00:00+08:00 .. 08:00+08:00


# --- TimeGrid construction -----------------------------------------------------------------


def test_timegrid_rejects_interval_not_dividing_day():
    """7-min intervals do not tile a day and are rejected on 'interval_min'."""
    with pytest.raises(ValidationError) as exc_info:
        TimeGrid(start=T0, interval_min=7, count=4)
    assert _errors(exc_info.value) == [
        (("interval_min",), "Value error, must divide a day (1440 min) evenly, got 7")
    ]


def test_timegrid_rejects_naive_start():
    """A start without a time zone is rejected on 'start'."""
    with pytest.raises(ValidationError) as exc_info:
        TimeGrid(start=datetime(2025, 7, 1), count=4)  # noqa: DTZ001 - the point of the test
    errors = exc_info.value.errors(include_url=False)
    assert [(e["loc"], e["type"]) for e in errors] == [(("start",), "timezone_aware")]


# --- TimeGrid.for_day ----------------------------------------------------------------------


def test_for_day_gives_96_quarter_hours_in_shanghai():
    """A Shanghai day is 96 intervals of 15 min from local midnight to the next."""
    grid = TimeGrid.for_day(DAY, SH)
    assert grid.count == 96
    assert grid.interval_min == 15
    assert grid.start == T0
    assert grid.end == datetime(2025, 7, 2, tzinfo=SH)
    assert grid.starts[-1] == datetime(2025, 7, 1, 23, 45, tzinfo=SH)


def test_for_day_hourly():
    """An hourly day grid has 24 intervals."""
    assert TimeGrid.for_day(DAY, SH, interval_min=60).count == 24


def test_for_day_dst_spring_forward_has_92_intervals():
    """The 23-hour day of a DST change gets 92 quarter-hours and ends at local midnight."""
    berlin = ZoneInfo("Europe/Berlin")
    grid = TimeGrid.for_day(date(2025, 3, 30), berlin)
    assert grid.count == 92
    assert grid.end == datetime(2025, 3, 31, tzinfo=berlin)


def test_index_of_dst_day_round_trips_starts():
    """On a DST day index_of(starts[i]) is i, and the grid end is accepted."""
    berlin = ZoneInfo("Europe/Berlin")
    grid = TimeGrid(start=datetime(2025, 3, 30, tzinfo=berlin), count=92)
    assert [grid.index_of(t) for t in grid.starts] == list(range(92))
    assert grid.index_of(grid.end) == 92


# --- index_of / slice_of -------------------------------------------------------------------


def test_index_of_boundaries():
    """Index of interval starts, of the grid end (== count), and of the same instant in UTC."""
    grid = TimeGrid.for_day(DAY, SH)
    assert grid.index_of(T0) == 0
    assert grid.index_of(T0 + timedelta(hours=11, minutes=45)) == 47
    assert grid.index_of(grid.end) == 96
    assert grid.index_of(datetime(2025, 7, 1, 3, tzinfo=UTC)) == 44  # 11:00 in Shanghai


@pytest.mark.parametrize("offset", [timedelta(minutes=10), timedelta(seconds=1)])
def test_index_of_rejects_off_boundary(offset):
    """A time inside an interval is rejected, naming the caller's field."""
    grid = TimeGrid.for_day(DAY, SH)
    ts = T0 + timedelta(hours=11) + offset
    with pytest.raises(GridAlignmentError) as exc_info:
        grid.index_of(ts, field="event.start")
    assert exc_info.value.field == "event.start"
    assert exc_info.value.reason == f"{ts.isoformat()} is not on a 15-min interval boundary"


@pytest.mark.parametrize(
    "ts",
    [T0 - timedelta(minutes=15), datetime(2025, 7, 2, 0, 15, tzinfo=SH)],
    ids=["before-start", "after-end"],
)
def test_index_of_rejects_out_of_range(ts):
    """A boundary outside start..end is rejected with the grid's extent in the reason."""
    grid = TimeGrid.for_day(DAY, SH)
    with pytest.raises(GridAlignmentError) as exc_info:
        grid.index_of(ts)
    assert exc_info.value.field == "time"
    assert exc_info.value.reason == (
        f"{ts.isoformat()} is outside the grid "
        "2025-07-01T00:00:00+08:00 .. 2025-07-02T00:00:00+08:00"
    )


def test_slice_of_selects_window():
    """11:00-13:00 on a quarter-hour day grid is intervals 44..51."""
    grid = TimeGrid.for_day(DAY, SH)
    sl = grid.slice_of(T0 + timedelta(hours=11), T0 + timedelta(hours=13))
    assert sl == slice(44, 52)
    assert grid.starts[sl][0] == T0 + timedelta(hours=11)
    assert len(grid.starts[sl]) == 8


def test_slice_of_names_start_and_end_fields():
    """Misaligned slice bounds are reported as 'start' or 'end'."""
    grid = TimeGrid.for_day(DAY, SH)
    with pytest.raises(GridAlignmentError) as exc_info:
        grid.slice_of(T0 + timedelta(minutes=5), T0 + timedelta(hours=1))
    assert exc_info.value.field == "start"
    with pytest.raises(GridAlignmentError) as exc_info:
        grid.slice_of(T0, T0 + timedelta(days=2))
    assert exc_info.value.field == "end"


def test_first_index_at_or_after_rounds_up_and_clamps():
    """Times between boundaries round up; times outside the grid clamp to 0..count."""
    grid = TimeGrid.for_day(DAY, SH)
    assert grid.first_index_at_or_after(T0 + timedelta(minutes=15)) == 1
    assert grid.first_index_at_or_after(T0 + timedelta(minutes=16)) == 2
    assert grid.first_index_at_or_after(T0 - timedelta(hours=3)) == 0
    assert grid.first_index_at_or_after(T0 + timedelta(days=3)) == 96


def test_index_at_is_the_interval_holding_a_time_in_any_offset_and_clamps():
    """[start, end) of each interval holds the time; the same moment in UTC or any offset
    gives the same interval; times outside the grid clamp to 0..count-1."""
    grid = TimeGrid.for_day(DAY, SH)
    assert grid.index_at(T0 + timedelta(minutes=15)) == 1
    assert grid.index_at(T0 + timedelta(minutes=29, seconds=59)) == 1
    assert (
        grid.index_at((T0 + timedelta(minutes=29)).astimezone(timezone(timedelta(hours=-5)))) == 1
    )
    assert grid.index_at((T0 + timedelta(minutes=29)).astimezone(UTC)) == 1
    assert grid.index_at(T0 - timedelta(hours=3)) == 0
    assert grid.index_at(T0 + timedelta(days=3)) == 95


# --- dt_h / starts -------------------------------------------------------------------------


@pytest.mark.parametrize(("interval_min", "dt_h"), [(15, 0.25), (30, 0.5), (60, 1.0), (5, 5 / 60)])
def test_dt_h_is_interval_in_hours(interval_min, dt_h):
    """dt_h converts kW per interval to kWh."""
    assert TimeGrid(start=T0, interval_min=interval_min, count=1).dt_h == pytest.approx(dt_h)


def test_starts_are_aware_and_in_grid_zone():
    """Every start is aware, in Asia/Shanghai (+08:00) and one interval after the previous."""
    grid = TimeGrid.for_day(DAY, SH)
    assert len(grid.starts) == 96
    assert all(t.tzinfo is SH for t in grid.starts)
    assert all(t.utcoffset() == timedelta(hours=8) for t in grid.starts)
    gaps = {b - a for a, b in zip(grid.starts, grid.starts[1:], strict=False)}
    assert gaps == {timedelta(minutes=15)}
    assert grid.tz is SH


def test_starts_follow_a_utc_start():
    """A grid started in UTC keeps its starts in UTC."""
    grid = TimeGrid(start=datetime(2025, 7, 1, 3, tzinfo=UTC), count=2)
    assert grid.starts == (
        datetime(2025, 7, 1, 3, tzinfo=UTC),
        datetime(2025, 7, 1, 3, 15, tzinfo=UTC),
    )
    assert all(t.tzinfo is UTC for t in grid.starts)


# --- sample_daily / in_daily_windows -------------------------------------------------------


def test_sample_daily_hourly_profile_is_piecewise_constant():
    """With 24 hourly values each quarter-hour takes its hour's value (11:45 -> hour 11)."""
    grid = TimeGrid.for_day(DAY, SH)
    sampled = grid.sample_daily([float(h) for h in range(24)])
    assert sampled.shape == (96,)
    assert sampled[grid.index_of(T0 + timedelta(hours=11, minutes=45))] == 11.0
    np.testing.assert_array_equal(sampled, np.repeat(np.arange(24.0), 4))


def test_sample_daily_quarter_hour_profile_is_identity():
    """With 96 values on a 15-min day grid every interval takes its own value."""
    grid = TimeGrid.for_day(DAY, SH)
    profile = [float(i) * 1.5 for i in range(96)]
    np.testing.assert_array_equal(grid.sample_daily(profile), np.array(profile))


def test_sample_daily_partial_day_uses_local_time():
    """A grid from 11:00 to 13:00 local samples hours 11 and 12, not UTC hours."""
    grid = TimeGrid.covering(T0 + timedelta(hours=11), T0 + timedelta(hours=13))
    sampled = grid.sample_daily([float(h) for h in range(24)])
    np.testing.assert_array_equal(sampled, [11.0] * 4 + [12.0] * 4)


def test_in_daily_windows_marks_intervals_inside():
    """Peak hours 11:00-13:00 mark exactly intervals 44..51 of a Shanghai day."""
    grid = TimeGrid.for_day(DAY, SH)
    mask = grid.in_daily_windows([DailyWindow.model_validate("11:00-13:00")])
    assert mask.dtype == np.bool_
    assert np.flatnonzero(mask).tolist() == list(range(44, 52))


def test_in_daily_windows_needs_whole_interval_and_unions_windows():
    """An interval only partly in a window is out; several windows are combined."""
    grid = TimeGrid.for_day(DAY, SH, interval_min=60)
    windows = [DailyWindow.model_validate("11:30-13:00"), DailyWindow.model_validate("22:00-24:00")]
    assert np.flatnonzero(grid.in_daily_windows(windows)).tolist() == [12, 22, 23]
    assert not grid.in_daily_windows([]).any()


def test_window_on_places_window_on_day():
    """A daily window on a calendar day gives aware local start and end."""
    grid = TimeGrid.for_day(DAY, SH)
    start, end = grid.window_on(date(2025, 7, 2), DailyWindow.model_validate("00:00-24:00"))
    assert start == datetime(2025, 7, 2, tzinfo=SH)
    assert end == datetime(2025, 7, 3, tzinfo=SH)
    assert start.tzinfo is SH


@pytest.mark.parametrize(
    ("day", "window", "start", "end"),
    [
        (
            date(2026, 3, 29),
            "11:00-13:00",
            "2026-03-29T11:00:00+02:00",
            "2026-03-29T13:00:00+02:00",
        ),
        (
            date(2026, 3, 29),
            "01:00-04:00",
            "2026-03-29T01:00:00+01:00",
            "2026-03-29T04:00:00+02:00",
        ),
        (
            date(2026, 3, 29),
            "02:30-04:00",
            "2026-03-29T03:30:00+02:00",
            "2026-03-29T04:00:00+02:00",
        ),
        (
            date(2026, 10, 25),
            "11:00-13:00",
            "2026-10-25T11:00:00+01:00",
            "2026-10-25T13:00:00+01:00",
        ),
        (
            date(2026, 10, 25),
            "00:00-24:00",
            "2026-10-25T00:00:00+02:00",
            "2026-10-26T00:00:00+01:00",
        ),
    ],
    ids=["spring-peak", "spring-across", "spring-skipped", "autumn-peak", "autumn-day"],
)
def test_daily_window_on_reads_the_wall_clock_on_days_the_clocks_change(day, window, start, end):
    """Peak hours 11:00-13:00 are 11:00-13:00 local on a DST day, not an hour late."""
    berlin = ZoneInfo("Europe/Berlin")
    placed = daily_window_on(day, DailyWindow.model_validate(window), berlin)
    assert (placed[0].isoformat(), placed[1].isoformat()) == (start, end)


@pytest.mark.parametrize("year", [1, 1899, 9001, 9999])
def test_check_plannable_refuses_years_whose_horizon_would_leave_the_calendar(year):
    """Year 1 or 9999 is a GridAlignmentError naming the field, never an OverflowError."""
    with pytest.raises(GridAlignmentError) as exc_info:
        check_plannable(datetime(year, 6, 1, tzinfo=UTC), "start")
    assert exc_info.value.field == "start"
    check_plannable(datetime(2999, 7, 15, tzinfo=UTC), "start")  # far, but plannable


# --- DailyWindow ---------------------------------------------------------------------------


def test_daily_window_parses_text():
    """'11:00-13:00' is minutes 660..780 and prints back the same."""
    window = DailyWindow.model_validate("11:00-13:00")
    assert (window.start_min, window.end_min) == (660, 780)
    assert str(window) == "11:00-13:00"
    assert window.start.hour == 11


def test_daily_window_parses_whole_day():
    """'00:00-24:00' is the whole day and equals ALL_DAY."""
    window = DailyWindow.model_validate("00:00-24:00")
    assert (window.start_min, window.end_min) == (0, 1440)
    assert window == ALL_DAY
    assert str(window) == "00:00-24:00"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("13:00-11:00", "Value error, end must be after start (windows do not cross midnight)"),
        ("25:00-26:00", "Value error, not a time of day in '25:00-26:00'"),
        ("11:60-12:00", "Value error, not a time of day in '11:60-12:00'"),
        ("11:00-24:30", "Value error, not a time of day in '11:00-24:30'"),
        ("noon", "Value error, expected 'HH:MM-HH:MM', got 'noon'"),
    ],
)
def test_daily_window_rejects_bad_text(text, message):
    """Reversed, impossible or unparsable windows are rejected with a clear reason."""
    with pytest.raises(ValidationError) as exc_info:
        DailyWindow.model_validate(text)
    assert [e["msg"] for e in exc_info.value.errors(include_url=False)] == [message]


# --- TimeGrid.in_zone --------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(offset_min=st.integers(min_value=-12 * 60, max_value=14 * 60).map(lambda m: m - m % 15))
def test_in_zone_reads_daily_profiles_at_the_zones_hours_whatever_the_start_offset(offset_min):
    """A grid started with any UTC offset, put in the district's zone, samples local hours."""
    profile = [float(hour) for hour in range(24)]
    local = TimeGrid(start=T0, count=96)
    other = TimeGrid(start=T0.astimezone(timezone(timedelta(minutes=offset_min))), count=96)
    moved = other.in_zone(SH)
    assert moved.starts == local.starts
    assert moved.tz is SH
    np.testing.assert_array_equal(moved.sample_daily(profile), local.sample_daily(profile))
    np.testing.assert_array_equal(
        moved.in_daily_windows([DailyWindow.model_validate("11:00-13:00")]),
        local.in_daily_windows([DailyWindow.model_validate("11:00-13:00")]),
    )


def test_in_zone_is_the_same_grid_when_already_in_that_zone():
    """No copy when nothing changes (the optimiser calls it on every problem)."""
    grid = TimeGrid(start=T0, count=4)
    assert grid.in_zone(SH) is grid
