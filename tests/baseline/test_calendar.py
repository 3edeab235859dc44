"""Tests for vpp.baseline.calendar: statutory holidays, make-up days, the fallback."""

from __future__ import annotations

from datetime import date

import pytest

from vpp.baseline.calendar import CalendarFallbackWarning, is_working_day


def test_is_working_day_statutory_holiday_is_not():
    """National Day 2025 (a Wednesday) is a holiday."""
    assert not is_working_day(date(2025, 10, 1))


def test_is_working_day_make_up_weekend_days_are():
    """Sunday 28 Sep and Saturday 11 Oct 2025 were make-up working days (调休)."""
    assert is_working_day(date(2025, 9, 28))
    assert is_working_day(date(2025, 10, 11))


def test_is_working_day_ordinary_weekend_is_not():
    """Saturday 27 Sep 2025 was an ordinary weekend day."""
    assert not is_working_day(date(2025, 9, 27))


def test_is_working_day_configured_extras_win():
    """Configured holidays and working days override the published calendar."""
    assert not is_working_day(date(2025, 9, 29), extra_holidays={date(2025, 9, 29)})
    assert is_working_day(date(2025, 9, 27), extra_working_days={date(2025, 9, 27)})


def test_is_working_day_falls_back_to_weekdays_with_a_warning():
    """Outside the published years Monday-Friday count, and a warning says so."""
    with pytest.warns(CalendarFallbackWarning, match="outside the published"):
        assert is_working_day(date(2027, 3, 3))
    with pytest.warns(CalendarFallbackWarning):
        assert not is_working_day(date(2027, 3, 6))


def test_is_working_day_fallback_honours_configured_holidays():
    """A configured holiday in an unpublished year needs no calendar, hence no warning."""
    assert not is_working_day(date(2027, 3, 3), extra_holidays={date(2027, 3, 3)})
