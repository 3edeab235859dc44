"""The one baseline engine: a :class:`BaselineMethod` applied to a meter's daily loads.

``compute_baseline`` is the thin top layer over :mod:`vpp.baseline.selection` and
:mod:`vpp.baseline.adjustment`: it places the event on the meter's day grid, picks the
days, averages them and applies the day-of step. It reads the event day's readings only
before the adjustment window's end (or before control starts, for a real-time baseline).
"""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

import numpy as np
from numpy.typing import NDArray

from vpp.baseline import selection
from vpp.baseline.adjustment import ADJUSTMENTS, DayOfAdjustment
from vpp.baseline.calendar import CalendarFallbackWarning, is_working_day
from vpp.baseline.meter import MINUTES_PER_DAY, DailyLoad
from vpp.baseline.presets import BaselineMethod, resolve_method
from vpp.domain import GridAlignmentError, VppError

logger = logging.getLogger(__name__)


class BaselineError(VppError):
    """A baseline cannot be computed from the data given."""


class InsufficientHistoryError(BaselineError):
    """Fewer usable candidate days than the method needs."""

    def __init__(self, meter_id: str, needed: int, found: int, detail: str = "") -> None:
        self.meter_id = meter_id
        self.needed = needed
        self.found = found
        message = (
            f"meter {meter_id}: not enough history for the baseline: needs {needed} "
            f"candidate day(s), found {found}"
        )
        super().__init__(f"{message} ({detail})" if detail else message)


class EventWindowError(GridAlignmentError, BaselineError):
    """The event window spans more than one local day; a baseline covers one day."""


class MissingReadingsError(BaselineError):
    """A reading the method cannot do without is missing (e.g. the one before control)."""

    def __init__(self, meter_id: str, what: str) -> None:
        self.meter_id = meter_id
        self.what = what
        super().__init__(f"meter {meter_id}: missing reading: {what}")


@dataclass(frozen=True)
class BaselineResult:
    """One meter's baseline for one event day.

    Attributes
    ----------
    meter_id
        The meter.
    day
        The event's local calendar day.
    interval_min
        Interval length [min].
    values_kw
        The baseline over the whole event day, one value per interval [kW]: the averaged
        profile, times the applied ratio (or plus the applied offset) in every interval; for
        a real-time method the event window holds the pre-control reading. NaN where no
        selected day has a reading (outside the intervals the method reads).
    days_used
        The days averaged, most recent first.
    adjustment
        The day-of adjustment applied, or None (none configured, or not computable: see
        ``warnings``).
    method
        The method's name.
    warnings
        Calendar fallbacks, adjustments that could not be applied, gaps in the profile.
    event_start, event_end
        The event window in the baseline's time zone.
    skipped
        Candidate days of the right type passed over, with the reason, down to the oldest
        day used (all of them when history ran out).
    """

    meter_id: str
    day: date
    interval_min: int
    values_kw: NDArray[np.float64]
    days_used: tuple[date, ...]
    adjustment: DayOfAdjustment | None
    method: str
    warnings: tuple[str, ...]
    event_start: datetime
    event_end: datetime
    skipped: tuple[tuple[date, str], ...] = ()

    @property
    def window(self) -> slice:
        """The event window's intervals within ``values_kw``."""
        start_min, end_min = _minutes_of(self.event_start, self.event_end, self.day)
        return slice(start_min // self.interval_min, end_min // self.interval_min)

    @property
    def window_kw(self) -> NDArray[np.float64]:
        """The baseline over the event window [kW]."""
        return self.values_kw[self.window]

    @property
    def interval_starts(self) -> tuple[datetime, ...]:
        """The local start of every interval of the day (wall clock, as the meter's slots)."""
        tz = self.event_start.tzinfo
        return tuple(
            datetime.combine(self.day, time(m // 60, m % 60), tzinfo=tz)
            for m in range(0, MINUTES_PER_DAY, self.interval_min)
        )


def compute_baseline(
    load: DailyLoad,
    event_start: datetime,
    event_end: datetime,
    method: BaselineMethod | str,
    *,
    tz: tzinfo,
    event_days: Collection[date] = (),
    abnormal_days: Collection[date] = (),
    extra_holidays: Collection[date] = (),
    extra_working_days: Collection[date] = (),
) -> BaselineResult:
    """Customer baseline load of one meter for one event.

    Rule (each step is a field of :class:`BaselineMethod`):

    1. Candidates walk back from ``D - first_offset_days`` to ``D - lookback_days``, where
       ``D`` is the event's local day; with ``day_type="same"`` only days of D's type
       (working / non-working, per :func:`is_working_day`) count.
    2. Skipped: ``event_days``, ``abnormal_days``, days missing a reading in the event
       window or the adjustment window, and, with ``abnormal_max_deviation = a``, days with
       ``|E_d - median(E)| > a x median(E)`` over the look-back pool (daily energy E [kWh]).
    3. The ``days`` most recent remaining days; with ``selection="highest"``, the
       ``highest_count`` of them with the highest event-window mean or daily maximum.
    4. ``b_t = mean_d L_{d,t}``, per interval ``t`` [kW].
    5. Day-of adjustment over ``[start - gap - length, start - gap)`` on D:
       multiplicative ``b'_t = clamp(A / B, 1 - c, 1 + c) x b_t`` or additive
       ``b'_t = b_t + clamp(A - B, -cB, +cB)``, with ``A`` and ``B`` D's measured mean and
       the profile's mean over that window [kW]; applied to the whole day. Or, for
       ``real_time``, ``b'_t = L_{D, start-1}`` over the event window (the interval just
       before control starts), the profile elsewhere.

    Parameters
    ----------
    load
        The meter's history by local day [kW]. Readings of D at or after the adjustment
        window's end (real time: the event start) are never read.
    event_start, event_end
        The event window, time-zone aware, on the meter's interval grid, within one local
        day (``event_end`` may be the next midnight).
    method
        A :class:`BaselineMethod` or the name of one of :data:`BASELINE_PRESETS`.
    tz
        The time zone of the meter's local days, e.g. ``ZoneInfo("Asia/Shanghai")``.
    event_days
        Earlier event days of this meter; never used as candidates.
    abnormal_days
        Days known to be abnormal (outages, shutdowns); never used as candidates.
    extra_holidays, extra_working_days
        Configured calendar corrections; the only holiday knowledge outside the years the
        Chinese calendar is published for.

    Returns
    -------
    BaselineResult
        The baseline over the whole day, the days used, the adjustment and any warnings.

    Raises
    ------
    InsufficientHistoryError
        Fewer than ``min_days`` (default: ``days``) usable candidate days.
    MissingReadingsError
        Real time: the reading just before control starts is missing.
    UnknownBaselineMethodError
        ``method`` names no preset.
    EventWindowError
        The event window spans more than one local day (a :class:`BaselineError` and a
        :class:`GridAlignmentError`).
    GridAlignmentError
        The event window is naive or off the interval grid.
    """
    method = resolve_method(method)
    interval_min = load.interval_min
    local_start, local_end = _localise(event_start, event_end, tz)
    day = local_start.date()
    start_min, end_min = _minutes_of(local_start, local_end, day)
    window = _interval_slice(start_min, end_min, interval_min, "event window")
    notes: list[str] = []

    needed = np.zeros(load.intervals_per_day, dtype=bool)
    needed[window] = True
    adjustment_window: slice | None = None
    if method.adjustment is not None:
        rule = method.adjustment
        adj_end_min = max(start_min - rule.end_before_start_min, 0)
        adj_start_min = max(start_min - rule.end_before_start_min - rule.length_min, 0)
        adjustment_window = _interval_slice(
            adj_start_min, adj_end_min, interval_min, "adjustment window"
        )
        needed[adjustment_window] = True
        clipped = adj_start_min > start_min - rule.end_before_start_min - rule.length_min
        if clipped and adj_end_min > adj_start_min:
            notes.append(
                "the adjustment window starts before midnight; only its part on the event "
                f"day ({_hhmm(adj_start_min)}-{_hhmm(adj_end_min)}) is used"
            )

    calendar = _Calendar(extra_holidays, extra_working_days)
    candidates = selection.walk_back(day, method.first_offset_days, method.lookback_days)
    rows = _rows(load, candidates)
    if method.day_type == "same":
        of_type = selection.same_day_type(candidates, day, calendar.is_working_day)
    else:
        of_type = np.ones(len(candidates), dtype=bool)
    reasons = _exclusions(candidates, rows, needed, of_type, event_days, abnormal_days)
    pool = of_type & np.array([r is None for r in reasons], dtype=bool)
    if method.abnormal_max_deviation is not None:
        abnormal = np.zeros(len(candidates), dtype=bool)
        abnormal[pool] = selection.abnormal_energy(rows[pool], method.abnormal_max_deviation)
        for k in np.flatnonzero(abnormal):
            reasons[k] = (
                f"abnormal: daily energy more than {method.abnormal_max_deviation:.0%} "
                "from the look-back median"
            )
        pool &= ~abnormal

    chosen = selection.most_recent(pool, method.days)
    needed_days = method.min_days or method.days
    oldest = int(chosen[-1]) if len(chosen) >= needed_days else len(candidates) - 1
    skipped = tuple(
        (candidates[k], reason)
        for k, reason in enumerate(reasons[: oldest + 1])
        if reason is not None and of_type[k]
    )
    notes.extend(calendar.fallback_notes())
    if len(chosen) < needed_days:
        raise InsufficientHistoryError(
            load.meter_id,
            needed_days,
            len(chosen),
            _history_detail(method, day, skipped),
        )
    if method.selection == "highest":
        assert method.highest_count is not None
        if method.rank_by == "window_mean":
            scores = selection.window_mean(rows[chosen], window)
        else:
            scores = selection.daily_max(rows[chosen])
        chosen = chosen[selection.high_x_of_y(scores, method.highest_count)]

    values_kw = selection.profile_mean(rows[chosen])
    gaps = int(np.isnan(values_kw).sum())
    if gaps:
        notes.append(f"{gaps} interval(s) outside the event window have no reading on any day used")

    adjustment: DayOfAdjustment | None = None
    if method.adjustment is not None and adjustment_window is not None:
        seen = _event_day_before(load, day, adjustment_window.stop)
        values_kw, adjustment = _adjust(values_kw, seen, adjustment_window, method, notes)
    elif method.real_time:
        seen = _event_day_before(load, day, window.start)
        values_kw = values_kw.copy()
        values_kw[window] = _pre_control_kw(load, day, seen, window.start, local_start)

    return BaselineResult(
        meter_id=load.meter_id,
        day=day,
        interval_min=interval_min,
        values_kw=values_kw,
        days_used=tuple(candidates[k] for k in chosen),
        adjustment=adjustment,
        method=method.name,
        warnings=tuple(dict.fromkeys(notes)),
        event_start=local_start,
        event_end=local_end,
        skipped=skipped,
    )


class _Calendar:
    """is_working_day with configured extras, noting calendar fallbacks once per call."""

    def __init__(self, holidays: Collection[date], working_days: Collection[date]) -> None:
        self._holidays = frozenset(holidays)
        self._working_days = frozenset(working_days)
        self._fallback: set[date] = set()

    def is_working_day(self, day: date) -> bool:
        working, fell_back = _working_day(day, self._holidays, self._working_days)
        if fell_back:
            self._fallback.add(day)
        return working

    def fallback_notes(self) -> list[str]:
        if not self._fallback:
            return []
        first, last = min(self._fallback), max(self._fallback)
        return [
            f"calendar fallback: {len(self._fallback)} day(s) from {first} to {last} are "
            "outside the published Chinese holiday calendar; Monday-Friday were treated as "
            "working days (configure holidays and make-up working days to correct this)"
        ]


@functools.lru_cache(maxsize=8192)
def _working_day(
    day: date, holidays: frozenset[date], working_days: frozenset[date]
) -> tuple[bool, bool]:
    """(working?, fell back?) for a day; cached, as the calendar dominates the engine's time."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        working = is_working_day(day, holidays, working_days)
    fell_back = False
    for warning in caught:
        if issubclass(warning.category, CalendarFallbackWarning):
            fell_back = True
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    return working, fell_back


def _localise(start: datetime, end: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
    """The event window in the meter's time zone; naive times are refused."""
    for name, value in (("event_start", start), ("event_end", end)):
        if value.tzinfo is None or value.utcoffset() is None:
            raise GridAlignmentError(name, f"{value.isoformat()} has no time zone")
    if end <= start:
        raise GridAlignmentError("event_end", f"{end.isoformat()} is not after {start.isoformat()}")
    return start.astimezone(tz), end.astimezone(tz)


def _minutes_of(local_start: datetime, local_end: datetime, day: date) -> tuple[int, int]:
    """Start and end as local minutes after midnight of ``day`` (end may be 1440)."""
    start_min = local_start.hour * 60 + local_start.minute
    if local_end.date() == day:
        end_min = local_end.hour * 60 + local_end.minute
    elif local_end.date() == day + timedelta(days=1) and local_end.time() == time(0):
        end_min = MINUTES_PER_DAY
    else:
        raise EventWindowError(
            "event_end",
            f"the event window {local_start.isoformat()} .. {local_end.isoformat()} "
            "must lie within one local day",
        )
    for name, value in (("event_start", local_start), ("event_end", local_end)):
        if value.second or value.microsecond:
            raise GridAlignmentError(name, f"{value.isoformat()} is not on a whole minute")
    return start_min, end_min


def _interval_slice(start_min: int, end_min: int, interval_min: int, what: str) -> slice:
    """Interval indices of a span of local minutes; both ends must be on the grid."""
    if start_min % interval_min or end_min % interval_min:
        raise GridAlignmentError(
            what,
            f"{_hhmm(start_min)}-{_hhmm(end_min)} is not on the meter's "
            f"{interval_min}-min interval grid",
        )
    return slice(start_min // interval_min, end_min // interval_min)


def _rows(load: DailyLoad, days: tuple[date, ...]) -> NDArray[np.float64]:
    """The candidate days' readings, one row each, NaN for a day the meter has none of."""
    rows = np.full((len(days), load.intervals_per_day), np.nan)
    for k, day in enumerate(days):
        values = load.day(day)
        if values is not None:
            rows[k] = values
    return rows


def _exclusions(
    candidates: tuple[date, ...],
    rows: NDArray[np.float64],
    needed: NDArray[np.bool_],
    of_type: NDArray[np.bool_],
    event_days: Collection[date],
    abnormal_days: Collection[date],
) -> list[str | None]:
    """Why each candidate is skipped (None: it is not), before the automatic abnormal rule."""
    events, abnormal = frozenset(event_days), frozenset(abnormal_days)
    complete = selection.complete(rows, needed)
    reasons: list[str | None] = []
    for k, day in enumerate(candidates):
        if not of_type[k]:
            reasons.append("different day type")
        elif day in events:
            reasons.append("event day")
        elif day in abnormal:
            reasons.append("abnormal (listed)")
        elif np.isnan(rows[k]).all():
            reasons.append("no readings")
        elif not complete[k]:
            reasons.append("missing readings in the intervals the method reads")
        else:
            reasons.append(None)
    return reasons


def _history_detail(
    method: BaselineMethod, day: date, skipped: tuple[tuple[date, str], ...]
) -> str:
    """Where the method looked and why days were skipped, for the error message."""
    first = day - timedelta(days=method.lookback_days)
    last = day - timedelta(days=method.first_offset_days)
    counts: dict[str, int] = {}
    for _, reason in skipped:
        counts[reason] = counts.get(reason, 0) + 1
    why = "; ".join(f"{n} {reason}" for reason, n in counts.items())
    detail = f"method {method.name!r}, event day {day}, look-back {first} .. {last}"
    return f"{detail}; skipped: {why}" if why else detail


def _event_day_before(load: DailyLoad, day: date, stop: int) -> NDArray[np.float64] | None:
    """The event day's readings before interval ``stop`` only: nothing later is ever read."""
    values = load.day(day)
    return None if values is None else values[:stop].copy()


def _adjust(
    profile_kw: NDArray[np.float64],
    seen_kw: NDArray[np.float64] | None,
    adjustment_window: slice,
    method: BaselineMethod,
    notes: list[str],
) -> tuple[NDArray[np.float64], DayOfAdjustment | None]:
    """Apply the day-of adjustment, or explain in ``notes`` why it cannot be applied."""
    rule = method.adjustment
    assert rule is not None
    if adjustment_window.stop <= adjustment_window.start:
        notes.append("no day-of adjustment: the adjustment window lies before the event day")
        return profile_kw, None
    if seen_kw is None or np.isnan(seen_kw[adjustment_window]).any():
        notes.append("no day-of adjustment: the event day lacks readings in the adjustment window")
        return profile_kw, None
    baseline_window_kw = float(profile_kw[adjustment_window].mean())
    actual_window_kw = float(seen_kw[adjustment_window].mean())
    if rule.kind == "multiplicative" and not baseline_window_kw > 0:
        notes.append(
            "no day-of adjustment: the baseline over the adjustment window is not positive "
            f"({baseline_window_kw:g} kW), so a ratio is undefined"
        )
        return profile_kw, None
    return ADJUSTMENTS[rule.kind](profile_kw, baseline_window_kw, actual_window_kw, rule.clamp)


def _pre_control_kw(
    load: DailyLoad,
    day: date,
    seen_kw: NDArray[np.float64] | None,
    start_index: int,
    local_start: datetime,
) -> float:
    """The reading of the interval just before control starts (the day before at midnight)."""
    if start_index > 0:
        value = np.nan if seen_kw is None else float(seen_kw[start_index - 1])
    else:
        previous = load.day(day - timedelta(days=1))
        value = np.nan if previous is None else float(previous[-1])
    if not np.isfinite(value):
        raise MissingReadingsError(
            load.meter_id,
            f"the {load.interval_min}-min interval before control starts at "
            f"{local_start.isoformat()} (a real-time baseline needs it)",
        )
    return value


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
