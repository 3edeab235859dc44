"""Choosing the days a baseline averages: look-back, day type, exclusions, high X of Y.

Every function here is pure. Days are handled as rows of a ``(day x interval)`` array
[kW] ordered **most recent first** (the order of :func:`walk_back`), so "the first n
eligible rows" means "the n most recent eligible days".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta

import numpy as np
from numpy.typing import NDArray

#: Minutes per day, the length of every daily row.
MINUTES_PER_DAY = 1440


def walk_back(event_day: date, first_offset_days: int, lookback_days: int) -> tuple[date, ...]:
    """The calendar days a baseline may look at, most recent first.

    Rule: ``D - first_offset_days, D - first_offset_days - 1, ..., D - lookback_days``,
    where ``D`` is the event day. Nothing on or after ``D`` is ever a candidate.

    Parameters
    ----------
    event_day
        The local calendar day of the event.
    first_offset_days
        Days between the event day and the most recent candidate (1: the day before) [d].
    lookback_days
        Oldest candidate, in days before the event day [d].

    Returns
    -------
    tuple of date
        Candidate days, most recent first; empty when ``lookback_days < first_offset_days``.
    """
    if first_offset_days < 1:
        raise ValueError(f"first_offset_days must be >= 1, got {first_offset_days}")
    return tuple(event_day - timedelta(days=k) for k in range(first_offset_days, lookback_days + 1))


def same_day_type(
    days: Sequence[date], event_day: date, is_working_day: Callable[[date], bool]
) -> NDArray[np.bool_]:
    """Whether each day has the event day's type: working or non-working.

    Statutory holidays are non-working and make-up working days (调休) are working, as far
    as ``is_working_day`` knows them.

    Parameters
    ----------
    days
        Candidate days.
    event_day
        The event day.
    is_working_day
        The calendar, e.g. :func:`vpp.baseline.calendar.is_working_day` with configured extras.
    """
    wanted = is_working_day(event_day)
    return np.array([is_working_day(d) == wanted for d in days], dtype=bool)


def complete(values_kw: NDArray[np.float64], needed: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Whether each day has a reading in every needed interval.

    Parameters
    ----------
    values_kw
        Loads, one row per day, NaN where a reading is missing, shape (days, intervals) [kW].
    needed
        The intervals a method reads, shape (intervals,).
    """
    return np.asarray(~np.isnan(values_kw[:, needed]).any(axis=1), dtype=bool)


def abnormal_energy(values_kw: NDArray[np.float64], max_deviation: float) -> NDArray[np.bool_]:
    """Days whose daily energy deviates from the pool's median by more than a fraction.

    Rule: with ``E_d`` the day's energy [kWh] (mean of its available readings x 24 h) and
    ``M`` the median of ``E_d`` over the pool (all rows given), day ``d`` is abnormal when
    ``|E_d - M| > max_deviation * |M|``. A day with no readings at all is not judged here.

    Parameters
    ----------
    values_kw
        The look-back pool, one row per day, shape (days, intervals) [kW].
    max_deviation
        Largest accepted relative deviation from the median, e.g. 0.25 [unitless].
    """
    energy_kwh = _nan_mean_rows(values_kw) * 24.0
    has_data = ~np.isnan(energy_kwh)
    if not has_data.any():
        return np.zeros(values_kw.shape[0], dtype=bool)
    median_kwh = float(np.median(energy_kwh[has_data]))
    deviation_kwh = np.abs(np.where(has_data, energy_kwh, median_kwh) - median_kwh)
    return np.asarray(deviation_kwh > max_deviation * abs(median_kwh), dtype=bool)


def most_recent(eligible: NDArray[np.bool_], n: int) -> NDArray[np.intp]:
    """Indices of the first ``n`` eligible rows, i.e. the ``n`` most recent eligible days.

    Parameters
    ----------
    eligible
        Eligibility of each row, rows ordered most recent first.
    n
        How many days to take; fewer come back when fewer are eligible.
    """
    return np.flatnonzero(eligible)[:n]


def window_mean(values_kw: NDArray[np.float64], window: slice) -> NDArray[np.float64]:
    """Mean load of each day over a window of intervals [kW]."""
    return np.asarray(values_kw[:, window].mean(axis=1), dtype=np.float64)


def daily_max(values_kw: NDArray[np.float64]) -> NDArray[np.float64]:
    """Highest reading of each day [kW]; missing readings are ignored."""
    out = np.full(values_kw.shape[0], np.nan)
    has_data = ~np.isnan(values_kw).all(axis=1)
    if has_data.any():
        out[has_data] = np.nanmax(values_kw[has_data], axis=1)
    return out


def high_x_of_y(scores: NDArray[np.float64], x: int) -> NDArray[np.intp]:
    """Indices of the ``x`` highest-scoring days among the ``y = len(scores)`` given.

    Rule: sort by score, highest first; ties go to the more recent day (the lower row).
    The indices come back in row order (most recent first).

    Parameters
    ----------
    scores
        One score per day, e.g. :func:`window_mean` or :func:`daily_max` [kW].
    x
        How many days to keep; all of them when ``x >= len(scores)``.
    """
    order = np.argsort(-scores, kind="stable")
    return np.sort(order[:x])


def profile_mean(values_kw: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per-interval average over the selected days [kW]; NaN where no day has a reading."""
    return _nan_mean_rows(values_kw.T)


def _nan_mean_rows(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Row means ignoring NaN, NaN for an all-NaN row, without numpy's empty-slice warning."""
    present = ~np.isnan(values)
    count = present.sum(axis=1)
    total = np.where(present, values, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(count > 0, total / count, np.nan), dtype=np.float64)
