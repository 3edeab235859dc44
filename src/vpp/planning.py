"""From a district and an event to a dispatch problem: horizon, meter history, baselines.

The CLI, the service and the controller use it for each event. It sits above the domain,
the baseline engine and the optimiser, and imports nothing above them: meter history is
read, never generated here. A district's history source names a reader; ``csv`` is built
in, and whoever runs with demo data (the CLI, the service, the simulator) registers the
``synthetic`` generator with :func:`register_history_reader`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

import numpy as np

from vpp.baseline import DEFAULT_BASELINE, BaselineError, compute_baseline, resolve_method
from vpp.baseline.meter import DailyLoad
from vpp.baseline.meter_csv import read_meter_csv
from vpp.domain import (
    ConfigError,
    CsvHistory,
    CurtailableLoad,
    DemandResponseEvent,
    District,
    EventKind,
    MeterHistorySource,
    Notice,
    TimeGrid,
    check_plannable,
    daily_window_on,
    kind_of,
)
from vpp.optimizer import DispatchProblem

logger = logging.getLogger(__name__)

#: How long before the window an event of each notice is issued, when not stated.
DEFAULT_LEAD = {
    Notice.DAY_AHEAD: timedelta(hours=20),
    Notice.INTRADAY: timedelta(hours=2),
    Notice.REAL_TIME: timedelta(minutes=15),
}


def make_event(
    district: District,
    start: datetime,
    end: datetime,
    *,
    target_kw: float | None = None,
    target_pct: float | None = None,
    kind: EventKind = EventKind.PEAK_SHAVING,
    notice: Notice = Notice.DAY_AHEAD,
    issued_at: datetime | None = None,
    event_id: str | None = None,
) -> DemandResponseEvent:
    """An event in the district's time zone; without a target, the district's required %.

    Times given with any UTC offset are the same instants in the district's zone: a window
    ``06:00+00:00`` and ``14:00+08:00`` make the same event.
    """
    check_plannable(start, "start")
    check_plannable(end, "end")
    if issued_at is not None:
        check_plannable(issued_at, "issued_at")
    if target_kw is None and target_pct is None:
        target_pct = district.response_target_pct
    tz = district.tz
    start, end = start.astimezone(tz), end.astimezone(tz)
    issued = (issued_at or start - DEFAULT_LEAD[notice]).astimezone(tz)
    return DemandResponseEvent(
        event_id=event_id or f"{district.district_id}-{start:%Y%m%d-%H%M}",
        kind=kind,
        start=start,
        end=end,
        target_kw=target_kw,
        target_pct_of_peak=target_pct,
        notice=notice,
        issued_at=issued,
    )


def in_zone(event: DemandResponseEvent, tz: tzinfo) -> DemandResponseEvent:
    """The event with its times expressed in ``tz`` (the same instants).

    Events read back from a store or an API request carry whatever offset they were given;
    days, horizons and clock-hour lookups are the district's, so planning starts here.
    """
    times = {"start": event.start, "end": event.end, "issued_at": event.issued_at}
    if all(value.tzinfo is tz for value in times.values()):
        return event
    return event.model_copy(update={k: v.astimezone(tz) for k, v in times.items()})


def peak_window(district: District, day: date) -> tuple[datetime, datetime]:
    """The district's stated peak hours on a given day."""
    return daily_window_on(day, district.peak_hours, district.tz)


#: The horizon reaches at least this far past the event, so rebound, EV catch-up and
#: HVAC recovery stay visible to the feeder limits even for a late-evening event.
AFTER_EVENT = timedelta(hours=4)


#: The longest recovery a horizon plans for, however slow a resource is.
LONGEST_RECOVERY = timedelta(hours=24)


def recovery_time(district: District) -> timedelta:
    """How long after an event its slowest resource needs to return, at least
    ``AFTER_EVENT``: a curtailed load's rebound, a building's recovery, a battery's full
    recharge at its rated power (EV energy owed past the horizon is counted by the
    optimiser), at most ``LONGEST_RECOVERY``."""
    longest = AFTER_EVENT
    for ref in district.resources():
        need = kind_of(ref.resource).recovery(ref.resource)
        if need is not None:
            longest = max(longest, need)
    return min(longest, LONGEST_RECOVERY)


def event_horizon(
    event: DemandResponseEvent,
    interval_min: int = 15,
    tz: tzinfo | None = None,
    recovery: timedelta = AFTER_EVENT,
) -> TimeGrid:
    """From local midnight of the event's day to the next midnight or ``recovery`` after it
    (the recovery, see :func:`recovery_time`), whichever is later.

    Days are those of ``tz`` (the district's zone; by default the event start's own).
    """
    tz = tz or event.start.tzinfo
    assert tz is not None
    first = event.start.astimezone(tz).date()
    last = (event.end.astimezone(tz) - timedelta(microseconds=1)).date()
    start = datetime(first.year, first.month, first.day, tzinfo=tz)
    after = last + timedelta(days=1)
    midnight_after = datetime(after.year, after.month, after.day, tzinfo=tz)
    end = max(midnight_after, (event.end.astimezone(UTC) + recovery).astimezone(tz))
    return TimeGrid.covering(start, end, interval_min)


HistoryReader = Callable[[District, date, Any, int], dict[str, DailyLoad]]
"""``(district, end_day, source, interval_min)`` to each meter's daily loads up to
``end_day`` (``source`` is the district's ``meter_history`` block of the reader's kind)."""


def _read_csv(
    district: District, end_day: date, source: CsvHistory, interval_min: int
) -> dict[str, DailyLoad]:
    return read_meter_csv(source.path, district.tz, interval_min)


_READERS: dict[str, HistoryReader] = {"csv": _read_csv}


def register_history_reader(source: str, reader: HistoryReader) -> None:
    """Read histories whose ``source`` is ``source`` with ``reader`` (replaces any before)."""
    _READERS[source] = reader


def history_reader(source: MeterHistorySource, district_id: str = "?") -> HistoryReader:
    """The reader registered for a history source; a ConfigError names what is missing."""
    try:
        return _READERS[source.source]
    except KeyError:
        raise ConfigError(
            f"district {district_id}",
            [
                (
                    "meter_history.source",
                    f"no reader for {source.source!r} here (registered: "
                    f"{', '.join(sorted(_READERS))}); demo data is the CLI's, the service's "
                    "and the simulator's to register",
                )
            ],
        ) from None


def load_meter_history(
    district: District, end_day: date, interval_min: int = 15
) -> dict[str, DailyLoad]:
    """The district's meter history up to ``end_day``, from its configured source."""
    source = district.meter_history
    if source is None:
        return {}
    reader = history_reader(source, district.district_id)
    return reader(district, end_day, source, interval_min)


@dataclass(frozen=True)
class PreparedBaselines:
    """Each curtailable load's baseline over the horizon, and how it was obtained."""

    load_kw: dict[str, np.ndarray]
    method: str
    days_used: dict[str, tuple[date, ...]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def curtailable_baselines(
    district: District,
    event: DemandResponseEvent,
    grid: TimeGrid,
    method: str = DEFAULT_BASELINE,
) -> PreparedBaselines:
    """Customer baselines of the curtailable loads over ``grid`` (one day per event day).

    A load without meter history, or whose history cannot give a baseline, falls back to
    its registered typical load, and a note says so.
    """
    resolve_method(method)  # an unknown method is the caller's error, not a fallback
    grid = grid.in_zone(district.tz)
    history = load_meter_history(
        district, event.start.astimezone(district.tz).date(), grid.interval_min
    )
    out: dict[str, np.ndarray] = {}
    days_used: dict[str, tuple[date, ...]] = {}
    notes: list[str] = []
    for ref in district.resources():
        if not isinstance(ref.resource, CurtailableLoad):
            continue
        typical = grid.sample_daily(ref.resource.typical_load_kw)
        load = history.get(ref.key)
        if load is None:
            out[ref.key] = typical
            if district.meter_history is not None:
                notes.append(f"{ref.key}: no meter history; typical load used")
            continue
        try:
            result = compute_baseline(load, event.start, event.end, method, tz=district.tz)
        except BaselineError as exc:
            notes.append(f"{ref.key}: {exc}; typical load used")
            out[ref.key] = typical
            continue
        notes += [f"{ref.key}: {w}" for w in result.warnings]
        series = _on_grid(grid, result.day, result.values_kw, result.interval_min)
        out[ref.key] = np.where(np.isnan(series), typical, series)
        days_used[ref.key] = result.days_used
    return PreparedBaselines(out, method, days_used, tuple(notes))


def _on_grid(grid: TimeGrid, day: date, values_kw: np.ndarray, interval_min: int) -> np.ndarray:
    """Place one day's baseline on the grid; other days are NaN."""
    out = np.full(grid.count, np.nan)
    if interval_min != grid.interval_min:
        raise ValueError("meter interval and grid interval differ")
    for t, start in enumerate(grid.starts):
        if start.date() == day:
            out[t] = values_kw[grid.minute_of_day[t] // interval_min]
    return out


def prepare_problem(
    district: District,
    event: DemandResponseEvent,
    *,
    baseline_method: str = DEFAULT_BASELINE,
    interval_min: int = 15,
) -> tuple[DispatchProblem, PreparedBaselines]:
    """The dispatch problem for an event over its day(s), with customer baselines.

    The event is taken in the district's zone first, whatever offset its times carry.
    """
    check_plannable(event.start, "start")
    check_plannable(event.end, "end")
    event = in_zone(event, district.tz)
    grid = event_horizon(event, interval_min, district.tz, recovery_time(district))
    grid.slice_of(event.start, event.end)  # the window must lie on the interval grid
    baselines = curtailable_baselines(district, event, grid, baseline_method)
    return DispatchProblem(district, event, grid, baselines.load_kw), baselines
