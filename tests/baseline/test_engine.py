"""Tests for vpp.baseline.engine.compute_baseline: the DOMAIN.md worked checks and the rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from vpp.baseline import (
    AdjustmentRule,
    BaselineError,
    BaselineMethod,
    DailyLoad,
    EventWindowError,
    InsufficientHistoryError,
    MissingReadingsError,
    UnknownBaselineMethodError,
    compute_baseline,
)
from vpp.domain import GridAlignmentError

TZ = ZoneInfo("Asia/Shanghai")
PER_DAY = 96  # 15-min intervals

# 2025-07-15 is a Tuesday with no holiday in the 45 days before it; its 10 most recent
# working days are 14, 11, 10, 9, 8, 7, 4, 3, 2 and 1 July.
EVENT_DAY = date(2025, 7, 15)
TEN_WORKING_DAYS = tuple(date(2025, 7, d) for d in (14, 11, 10, 9, 8, 7, 4, 3, 2, 1))


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def _slots(start: str, end: str) -> slice:
    """Interval indices of a local HH:MM-HH:MM span."""
    h0, m0 = (int(x) for x in start.split(":"))
    h1, m1 = (int(x) for x in end.split(":"))
    return slice((h0 * 60 + m0) // 15, (h1 * 60 + m1) // 15)


def _load(rows: dict[date, np.ndarray], meter_id: str = "m1") -> DailyLoad:
    days = tuple(sorted(rows))
    return DailyLoad(meter_id, 15, days, np.array([rows[d] for d in days], dtype=float))


def _history(first: date, last: date, kw: float = 100.0) -> dict[date, np.ndarray]:
    """Flat rows for every day from first to last."""
    count = (last - first).days + 1
    return {first + timedelta(days=k): np.full(PER_DAY, kw) for k in range(count)}


def _adjustment_case(event_window_kw: float) -> DailyLoad:
    """DOMAIN.md: flat 100 kW days averaging 80 kW in the adjustment window (10:00-13:00)."""
    rows = _history(date(2025, 6, 1), EVENT_DAY - timedelta(days=1))
    for row in rows.values():
        row[_slots("10:00", "13:00")] = 80.0
    event_row = np.full(PER_DAY, 100.0)
    event_row[_slots("10:00", "13:00")] = event_window_kw
    event_row[_slots("13:00", "24:00")] = 5000.0  # after the adjustment window: never read
    rows[EVENT_DAY] = event_row
    return _load(rows)


def _caiso(kind: str = "multiplicative", clamp: float | None = 0.2) -> BaselineMethod:
    return BaselineMethod(
        name="test",
        days=10,
        lookback_days=45,
        adjustment=AdjustmentRule(kind=kind, length_min=180, end_before_start_min=60, clamp=clamp),
    )


def test_compute_baseline_multiplicative_worked_check():
    """Ten flat 100 kW days, window 80 kW vs 100 kW on the day: 1.25 clamped to 1.2: 120 kW."""
    load = _adjustment_case(event_window_kw=100.0)
    result = compute_baseline(load, _at(EVENT_DAY, 14), _at(EVENT_DAY, 16), "caiso_10_in_10", tz=TZ)
    assert result.days_used == TEN_WORKING_DAYS
    assert result.adjustment is not None
    assert result.adjustment.raw == pytest.approx(1.25)
    assert result.adjustment.applied == pytest.approx(1.2)
    assert result.adjustment.clamped
    np.testing.assert_allclose(result.window_kw, 120.0)


def test_compute_baseline_multiplicative_clamps_low_ratio():
    """Event-day window at 60 kW: ratio 0.75, clamped to 0.8: 80 kW."""
    load = _adjustment_case(event_window_kw=60.0)
    result = compute_baseline(load, _at(EVENT_DAY, 14), _at(EVENT_DAY, 16), "caiso_10_in_10", tz=TZ)
    assert result.adjustment is not None
    assert result.adjustment.raw == pytest.approx(0.75)
    assert result.adjustment.applied == pytest.approx(0.8)
    np.testing.assert_allclose(result.window_kw, 80.0)


def test_compute_baseline_additive_worked_check():
    """Additive: +20 kW, 120 kW, with a clamp wide enough (c = 0.25 of the 80 kW mean)."""
    load = _adjustment_case(event_window_kw=100.0)
    result = compute_baseline(
        load, _at(EVENT_DAY, 14), _at(EVENT_DAY, 16), _caiso("additive", 0.25), tz=TZ
    )
    assert result.adjustment is not None
    assert result.adjustment.applied == pytest.approx(20.0)
    assert not result.adjustment.clamped
    np.testing.assert_allclose(result.window_kw, 120.0)


def test_compute_baseline_additive_default_clamp_limits_offset():
    """Additive at the default c = 0.2: +20 kW is clamped to 0.2 x 80 = 16 kW: 116 kW."""
    load = _adjustment_case(event_window_kw=100.0)
    result = compute_baseline(
        load, _at(EVENT_DAY, 14), _at(EVENT_DAY, 16), _caiso("additive"), tz=TZ
    )
    assert result.adjustment is not None
    assert result.adjustment.clamped
    np.testing.assert_allclose(result.window_kw, 116.0)


def test_compute_baseline_adjustment_applies_to_the_whole_day():
    """The applied ratio scales every interval of the averaged profile."""
    load = _adjustment_case(event_window_kw=100.0)
    result = compute_baseline(load, _at(EVENT_DAY, 14), _at(EVENT_DAY, 16), "caiso_10_in_10", tz=TZ)
    np.testing.assert_allclose(result.values_kw[_slots("10:00", "13:00")], 96.0)
    np.testing.assert_allclose(result.values_kw[_slots("00:00", "10:00")], 120.0)


def test_compute_baseline_high_5_of_10_worked_check():
    """High 5 of 10 over days whose window means are 91..100 kW: 98 kW."""
    rows = _history(date(2025, 6, 1), EVENT_DAY - timedelta(days=1), kw=50.0)
    means_kw = (93.0, 100.0, 91.0, 97.0, 95.0, 99.0, 92.0, 96.0, 94.0, 98.0)
    for day, kw in zip(TEN_WORKING_DAYS, means_kw, strict=True):
        rows[day][_slots("11:00", "13:00")] = kw
    method = BaselineMethod(
        name="high-5-of-10", days=10, selection="highest", highest_count=5, rank_by="window_mean"
    )
    result = compute_baseline(_load(rows), _at(EVENT_DAY, 11), _at(EVENT_DAY, 13), method, tz=TZ)
    assert set(result.days_used) == {
        day for day, kw in zip(TEN_WORKING_DAYS, means_kw, strict=True) if kw >= 96
    }
    np.testing.assert_allclose(result.window_kw, 98.0)


def test_compute_baseline_beijing_ranks_by_daily_max_from_d_minus_2():
    """Beijing: 10 days from D-2 of the same type, the 5 with the highest daily maximum."""
    rows = _history(date(2025, 6, 1), EVENT_DAY - timedelta(days=1), kw=50.0)
    rows[date(2025, 7, 14)][40] = 10_000.0  # D-1 is never a Beijing candidate
    beijing_ten = (*TEN_WORKING_DAYS[1:], date(2025, 6, 30))
    peaks_kw = (150.0, 110.0, 190.0, 120.0, 170.0, 130.0, 160.0, 140.0, 180.0, 200.0)
    for day, peak in zip(beijing_ten, peaks_kw, strict=True):
        rows[day][20] = peak  # 05:00, outside the event window
    result = compute_baseline(_load(rows), _at(EVENT_DAY, 11), _at(EVENT_DAY, 13), "beijing", tz=TZ)
    assert set(result.days_used) == {
        day for day, peak in zip(beijing_ten, peaks_kw, strict=True) if peak >= 160
    }
    assert result.values_kw[20] == pytest.approx(180.0)


def test_compute_baseline_jiangsu_skips_holidays_and_uses_make_up_day():
    """Around National Day 2025 the 5 days before 9 Oct include Sunday 28 Sep (调休)."""
    rows = _history(date(2025, 8, 1), date(2025, 10, 12))
    result = compute_baseline(
        _load(rows), _at(date(2025, 10, 9), 11), _at(date(2025, 10, 9), 13), "jiangsu", tz=TZ
    )
    assert result.days_used == (
        date(2025, 9, 30),
        date(2025, 9, 29),
        date(2025, 9, 28),
        date(2025, 9, 26),
        date(2025, 9, 25),
    )
    assert result.method == "jiangsu"
    assert result.adjustment is None
    assert result.warnings == ()


def test_compute_baseline_jiangsu_make_up_saturday_is_a_working_event_day():
    """An event on Saturday 11 Oct 2025 (调休) takes working days, not weekend days."""
    rows = _history(date(2025, 8, 1), date(2025, 10, 12))
    result = compute_baseline(
        _load(rows), _at(date(2025, 10, 11), 11), _at(date(2025, 10, 11), 13), "jiangsu", tz=TZ
    )
    assert result.days_used == (
        date(2025, 10, 10),
        date(2025, 10, 9),
        date(2025, 9, 30),
        date(2025, 9, 29),
        date(2025, 9, 28),
    )


def test_compute_baseline_non_working_event_day_takes_non_working_days():
    """An event on Sunday 12 Oct 2025 averages the holiday week's non-working days."""
    rows = _history(date(2025, 8, 1), date(2025, 10, 12))
    result = compute_baseline(
        _load(rows), _at(date(2025, 10, 12), 11), _at(date(2025, 10, 12), 13), "jiangsu", tz=TZ
    )
    assert result.days_used == tuple(date(2025, 10, d) for d in (8, 7, 6, 5, 4))


def test_compute_baseline_excludes_event_days_and_listed_abnormal_days():
    """Earlier event days and listed abnormal days are replaced by older days."""
    rows = _history(date(2025, 6, 1), EVENT_DAY)
    result = compute_baseline(
        _load(rows),
        _at(EVENT_DAY, 11),
        _at(EVENT_DAY, 13),
        "jiangsu",
        tz=TZ,
        event_days={date(2025, 7, 14)},
        abnormal_days={date(2025, 7, 10)},
    )
    assert result.days_used == tuple(date(2025, 7, d) for d in (11, 9, 8, 7, 4))
    assert (date(2025, 7, 14), "event day") in result.skipped
    assert (date(2025, 7, 10), "abnormal (listed)") in result.skipped


def test_compute_baseline_excludes_abnormal_energy_automatically():
    """Jiangsu's 'normal' days: a day 40% below the look-back median is left out."""
    rows = _history(date(2025, 6, 1), EVENT_DAY)
    rows[date(2025, 7, 11)][:] = 60.0
    result = compute_baseline(_load(rows), _at(EVENT_DAY, 11), _at(EVENT_DAY, 13), "jiangsu", tz=TZ)
    assert date(2025, 7, 11) not in result.days_used
    assert any(day == date(2025, 7, 11) and "abnormal" in why for day, why in result.skipped)
    np.testing.assert_allclose(result.window_kw, 100.0)


def test_compute_baseline_skips_days_missing_needed_readings_only():
    """A gap in the event window skips the day; a gap elsewhere does not."""
    rows = _history(date(2025, 6, 1), EVENT_DAY)
    rows[date(2025, 7, 14)][_slots("11:30", "11:45")] = np.nan
    rows[date(2025, 7, 11)][_slots("03:00", "03:15")] = np.nan
    rows[date(2025, 7, 10)][:] = np.nan
    result = compute_baseline(_load(rows), _at(EVENT_DAY, 11), _at(EVENT_DAY, 13), "jiangsu", tz=TZ)
    assert result.days_used == tuple(date(2025, 7, d) for d in (11, 9, 8, 7, 4))
    assert result.values_kw[_slots("03:00", "03:15")][0] == pytest.approx(100.0)


def test_compute_baseline_never_reads_event_day_after_adjustment_window():
    """Readings of the event day from the adjustment window's end on change nothing."""
    load = _adjustment_case(event_window_kw=100.0)
    later = _slots("13:00", "24:00")
    blind = load.values_kw.copy()
    blind[load.days.index(EVENT_DAY), later] = np.nan
    noisy = load.values_kw.copy()
    noisy[load.days.index(EVENT_DAY), later] = np.random.default_rng(0).uniform(0, 1e6, 44)
    results = [
        compute_baseline(
            DailyLoad("m1", 15, load.days, values),
            _at(EVENT_DAY, 14),
            _at(EVENT_DAY, 16),
            "caiso_10_in_10",
            tz=TZ,
        )
        for values in (blind, noisy)
    ]
    np.testing.assert_array_equal(results[0].values_kw, results[1].values_kw)
    assert results[0].adjustment == results[1].adjustment


def test_compute_baseline_ignores_later_days_in_the_history():
    """Days after the event day (hindsight) are never candidates."""
    rows = _history(date(2025, 6, 1), date(2025, 7, 31))
    for day in rows:
        if day >= EVENT_DAY:
            rows[day][:] = 999.0
    result = compute_baseline(_load(rows), _at(EVENT_DAY, 11), _at(EVENT_DAY, 13), "jiangsu", tz=TZ)
    np.testing.assert_allclose(result.values_kw, 100.0)


def test_compute_baseline_real_time_holds_the_interval_before_control():
    """Real time: the window holds the 10:45-11:00 reading; elsewhere the jiangsu profile."""
    rows = _history(date(2025, 6, 1), EVENT_DAY - timedelta(days=1))
    event_row = np.full(PER_DAY, 100.0)
    event_row[_slots("10:45", "11:00")] = 137.0
    event_row[_slots("11:00", "24:00")] = np.random.default_rng(1).uniform(0, 1e6, 52)
    rows[EVENT_DAY] = event_row
    load = _load(rows)
    start, end = _at(EVENT_DAY, 11), _at(EVENT_DAY, 13)
    result = compute_baseline(load, start, end, "real_time", tz=TZ)
    jiangsu = compute_baseline(load, start, end, "jiangsu", tz=TZ)
    np.testing.assert_allclose(result.window_kw, 137.0)
    outside = np.ones(PER_DAY, dtype=bool)
    outside[result.window] = False
    np.testing.assert_array_equal(result.values_kw[outside], jiangsu.values_kw[outside])
    assert result.days_used == jiangsu.days_used


def test_compute_baseline_real_time_at_midnight_reads_the_day_before():
    """An event starting at 00:00 takes the previous day's last interval."""
    rows = _history(date(2025, 6, 1), EVENT_DAY)
    rows[EVENT_DAY - timedelta(days=1)][-1] = 42.0
    result = compute_baseline(_load(rows), _at(EVENT_DAY, 0), _at(EVENT_DAY, 1), "real_time", tz=TZ)
    np.testing.assert_allclose(result.window_kw, 42.0)


def test_compute_baseline_real_time_without_the_pre_control_reading_raises():
    """A missing reading before control is an error, not a silent guess."""
    rows = _history(date(2025, 6, 1), EVENT_DAY)
    rows[EVENT_DAY][_slots("10:45", "11:00")] = np.nan
    with pytest.raises(MissingReadingsError, match="before control starts"):
        compute_baseline(_load(rows), _at(EVENT_DAY, 11), _at(EVENT_DAY, 13), "real_time", tz=TZ)


def test_compute_baseline_without_event_day_readings_skips_adjustment_with_warning():
    """A day-ahead forecast has no event-day readings: no adjustment, and a warning."""
    rows = _history(date(2025, 6, 1), EVENT_DAY - timedelta(days=1))
    result = compute_baseline(
        _load(rows), _at(EVENT_DAY, 14), _at(EVENT_DAY, 16), "caiso_10_in_10", tz=TZ
    )
    assert result.adjustment is None
    assert any("no day-of adjustment" in warning for warning in result.warnings)
    np.testing.assert_allclose(result.window_kw, 100.0)


def test_compute_baseline_unknown_preset_names_it_and_lists_known():
    """An unknown method name raises an error naming it and the presets."""
    rows = _history(date(2025, 6, 1), EVENT_DAY)
    with pytest.raises(UnknownBaselineMethodError, match=r"'nope'.*jiangsu.*caiso_10_in_10"):
        compute_baseline(_load(rows), _at(EVENT_DAY, 11), _at(EVENT_DAY, 13), "nope", tz=TZ)


def test_compute_baseline_insufficient_history_raises_with_counts():
    """Three usable days where five are needed raises InsufficientHistoryError."""
    rows = _history(date(2025, 7, 10), EVENT_DAY)
    with pytest.raises(InsufficientHistoryError, match=r"m1.*needs 5.*found 3") as caught:
        compute_baseline(_load(rows), _at(EVENT_DAY, 11), _at(EVENT_DAY, 13), "jiangsu", tz=TZ)
    assert (caught.value.meter_id, caught.value.needed, caught.value.found) == ("m1", 5, 3)


def test_compute_baseline_min_days_accepts_fewer_days():
    """With min_days = 3, three usable days of ten are enough."""
    rows = _history(date(2025, 7, 10), EVENT_DAY)
    method = BaselineMethod(days=10, min_days=3)
    result = compute_baseline(_load(rows), _at(EVENT_DAY, 11), _at(EVENT_DAY, 13), method, tz=TZ)
    assert result.days_used == (date(2025, 7, 14), date(2025, 7, 11), date(2025, 7, 10))


def test_compute_baseline_calendar_fallback_is_a_warning():
    """An event in 2027 (unpublished calendar) falls back to weekdays and says so."""
    day = date(2027, 3, 3)
    rows = _history(date(2027, 1, 1), day)
    result = compute_baseline(_load(rows), _at(day, 11), _at(day, 13), "jiangsu", tz=TZ)
    assert result.days_used == tuple(date(2027, 3, d) for d in (2, 1)) + tuple(
        date(2027, 2, d) for d in (26, 25, 24)
    )
    assert any("calendar fallback" in warning for warning in result.warnings)


def test_compute_baseline_accepts_event_times_in_another_zone():
    """The event window may be given in UTC; it is placed on the meter's local day."""
    rows = _history(date(2025, 6, 1), EVENT_DAY)
    start = _at(EVENT_DAY, 11).astimezone(UTC)
    result = compute_baseline(_load(rows), start, start + timedelta(hours=2), "jiangsu", tz=TZ)
    assert result.day == EVENT_DAY
    assert result.window == _slots("11:00", "13:00")
    assert result.interval_starts[result.window.start] == _at(EVENT_DAY, 11)


def test_compute_baseline_refuses_naive_event_times():
    """A naive event start is refused."""
    rows = _history(date(2025, 6, 1), EVENT_DAY)
    naive = datetime(2025, 7, 15, 11)  # noqa: DTZ001  (the point of the test)
    with pytest.raises(GridAlignmentError, match="no time zone"):
        compute_baseline(_load(rows), naive, _at(EVENT_DAY, 13), "jiangsu", tz=TZ)


def test_compute_baseline_refuses_windows_off_the_grid_or_across_days():
    """An event off the 15-min grid, or spanning two days, is refused."""
    rows = _history(date(2025, 6, 1), EVENT_DAY)
    with pytest.raises(GridAlignmentError, match="interval grid"):
        compute_baseline(_load(rows), _at(EVENT_DAY, 11, 5), _at(EVENT_DAY, 13), "jiangsu", tz=TZ)
    with pytest.raises(EventWindowError, match="one local day"):
        compute_baseline(
            _load(rows),
            _at(EVENT_DAY, 23),
            _at(EVENT_DAY + timedelta(days=1), 1),
            "jiangsu",
            tz=TZ,
        )


def test_compute_baseline_multi_day_window_is_a_baseline_error():
    """A window across midnight is a BaselineError, so callers can fall back."""
    rows = _history(date(2025, 6, 1), EVENT_DAY)
    with pytest.raises(BaselineError):
        compute_baseline(
            _load(rows),
            _at(EVENT_DAY, 22),
            _at(EVENT_DAY + timedelta(days=1), 2),
            "jiangsu",
            tz=TZ,
        )
