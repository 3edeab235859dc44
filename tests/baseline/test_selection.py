"""Tests for vpp.baseline.selection: look-back, day type, exclusions, high X of Y."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from vpp.baseline import selection


def _weekday(day: date) -> bool:
    return day.weekday() < 5


def test_walk_back_starts_the_day_before_and_goes_back():
    """Candidates run from D-1 back to D-lookback, most recent first."""
    days = selection.walk_back(date(2025, 7, 15), first_offset_days=1, lookback_days=3)
    assert days == (date(2025, 7, 14), date(2025, 7, 13), date(2025, 7, 12))


def test_walk_back_honours_first_offset():
    """A first offset of 2 (Beijing's D-2) leaves out the day before the event."""
    days = selection.walk_back(date(2025, 7, 15), first_offset_days=2, lookback_days=3)
    assert days == (date(2025, 7, 13), date(2025, 7, 12))


def test_walk_back_refuses_the_event_day_itself():
    """An offset of 0 would make the event day a candidate, so it is refused."""
    with pytest.raises(ValueError, match="first_offset_days"):
        selection.walk_back(date(2025, 7, 15), first_offset_days=0, lookback_days=3)


def test_same_day_type_compares_with_the_event_day():
    """Only days whose working/non-working status equals the event day's match."""
    days = (date(2025, 7, 14), date(2025, 7, 13), date(2025, 7, 12), date(2025, 7, 11))
    assert selection.same_day_type(days, date(2025, 7, 15), _weekday).tolist() == [
        True,
        False,
        False,
        True,
    ]
    assert selection.same_day_type(days, date(2025, 7, 19), _weekday).tolist() == [
        False,
        True,
        True,
        False,
    ]


def test_complete_flags_a_gap_in_a_needed_interval_only():
    """A missing reading matters only inside the intervals the method reads."""
    values_kw = np.ones((3, 4))
    values_kw[1, 0] = np.nan  # outside the needed intervals
    values_kw[2, 2] = np.nan  # inside
    needed = np.array([False, True, True, False])
    assert selection.complete(values_kw, needed).tolist() == [True, True, False]


def test_abnormal_energy_flags_days_beyond_the_deviation():
    """A day 40% below the pool median is abnormal at 25%; one 20% above is not."""
    values_kw = np.array([[100.0] * 4, [100.0] * 4, [60.0] * 4, [120.0] * 4, [100.0] * 4])
    assert selection.abnormal_energy(values_kw, 0.25).tolist() == [
        False,
        False,
        True,
        False,
        False,
    ]


def test_abnormal_energy_ignores_days_without_readings():
    """A day with no readings is neither judged nor part of the median."""
    values_kw = np.array([[100.0, 100.0], [np.nan, np.nan], [100.0, np.nan]])
    assert selection.abnormal_energy(values_kw, 0.1).tolist() == [False, False, False]


def test_most_recent_takes_the_first_eligible_rows():
    """The n most recent eligible days are the first n eligible rows."""
    eligible = np.array([False, True, True, False, True, True])
    assert selection.most_recent(eligible, 3).tolist() == [1, 2, 4]
    assert selection.most_recent(eligible, 10).tolist() == [1, 2, 4, 5]


def test_high_x_of_y_keeps_the_highest_scores_in_row_order():
    """High 5 of 10 over window means 91..100 kW keeps 96..100 kW, averaging 98 kW."""
    scores = np.array([93.0, 100.0, 91.0, 97.0, 95.0, 99.0, 92.0, 96.0, 94.0, 98.0])
    kept = selection.high_x_of_y(scores, 5)
    assert kept.tolist() == [1, 3, 5, 7, 9]
    assert scores[kept].mean() == pytest.approx(98.0)


def test_high_x_of_y_breaks_ties_towards_the_more_recent_day():
    """Equal scores keep the lower row, the more recent day."""
    assert selection.high_x_of_y(np.array([5.0, 7.0, 5.0, 5.0]), 2).tolist() == [0, 1]


def test_window_mean_averages_the_window_only():
    """The window mean reads only the window's intervals."""
    values_kw = np.array([[0.0, 10.0, 20.0, 99.0]])
    assert selection.window_mean(values_kw, slice(1, 3)).tolist() == [15.0]


def test_daily_max_ignores_missing_readings():
    """Missing readings do not hide the day's maximum; an empty day gives NaN."""
    values_kw = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan]])
    result = selection.daily_max(values_kw)
    assert result[0] == 3.0
    assert np.isnan(result[1])


def test_profile_mean_averages_per_interval_skipping_gaps():
    """Each interval averages the days that have it; NaN where none has."""
    values_kw = np.array([[100.0, np.nan, np.nan], [80.0, 50.0, np.nan]])
    result = selection.profile_mean(values_kw)
    assert result[:2].tolist() == [90.0, 50.0]
    assert np.isnan(result[2])
