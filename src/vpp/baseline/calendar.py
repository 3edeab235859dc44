"""Chinese working days: statutory holidays and make-up working days (调休).

``chinese_calendar`` knows the published years only (1.11.0: 2004-2026). Outside them, fall
back to Monday-Friday plus the holidays and make-up days the caller lists, with a warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection
from datetime import date

import chinese_calendar


class CalendarFallbackWarning(UserWarning):
    """A date lies outside the published Chinese holiday calendar; weekdays were used."""


def is_working_day(
    day: date,
    extra_holidays: Collection[date] = (),
    extra_working_days: Collection[date] = (),
) -> bool:
    """Whether ``day`` is a normal working day in mainland China.

    Parameters
    ----------
    day
        The local calendar day.
    extra_holidays, extra_working_days
        Days configured by the user; they win over the published calendar, and are the only
        holiday knowledge for years the calendar does not cover.
    """
    if day in extra_holidays:
        return False
    if day in extra_working_days:
        return True
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        message = (
            f"{day.isoformat()} is outside the published Chinese holiday calendar; "
            "treating Monday-Friday as working days (configure holidays to correct this)"
        )
        warnings.warn(message, CalendarFallbackWarning, stacklevel=2)
        return day.weekday() < 5
