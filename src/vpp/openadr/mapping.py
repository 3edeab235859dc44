"""From an OpenADR 2.0b ``oadrEvent`` (as openleadr parses it) to what vpp can plan.

Signals understood (OpenADR 2.0b profile B, EiEvent):

- ``LOAD_DISPATCH`` / ``delta``: change of the portfolio's consumption against its baseline,
  in the signal's unit (W with SI scale ``k`` or ``M``; kW when no unit is given). Negative
  is a reduction (peak shaving, 削峰), positive an increase (valley filling, 填谷), as
  vpp's sign convention has it (``power_kw`` is consumption).
- ``LOAD_DISPATCH`` / ``level``: the consumption the portfolio should hold [kW]; the target
  is the portfolio's baseline over the window minus that level.
- ``SIMPLE`` / ``level``: levels 0..3 mapped by a configurable table to a reduction in % of
  the district's peak (default 1: 5 %, 2: 10 %, 3: 15 %, after Tianjin's orderly-use levels
  of 5 % each); level 0 asks for nothing.

One internal event has one target, so an event whose intervals ask for different amounts is
planned at the largest of them: meeting it meets every interval.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from vpp.domain import EventKind

#: SIMPLE signal level -> reduction [% of district peak]. Configurable; see VenSettings.
DEFAULT_SIMPLE_LEVELS_PCT: dict[int, float] = {1: 5.0, 2: 10.0, 3: 15.0}

#: SI scale codes OpenADR uses on a W measurement -> factor to kW.
_TO_KW = {"none": 1e-3, "k": 1.0, "M": 1e3, "G": 1e6}


class UnsupportedEventError(ValueError):
    """The event asks for something vpp cannot plan; the reason goes back as an optOut."""


@dataclass(frozen=True)
class VtnEvent:
    """The parts of an ``oadrEvent`` the VEN acts on, times as the VTN stated them."""

    vtn_event_id: str
    modification_number: int
    status: str  # far | near | active | completed | cancelled
    test_event: bool
    response_required: bool
    start: datetime
    end: datetime
    start_after: timedelta
    signal_name: str
    signal_type: str
    values: tuple[float, ...]  # one per interval, in the unit below
    unit_to_kw: float

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"


@dataclass(frozen=True)
class Ask:
    """What the VTN asks, in vpp's terms: a kind and one target (kW or % of peak)."""

    kind: EventKind
    target_kw: float | None = None
    target_pct: float | None = None
    level_kw: float | None = None  # LOAD_DISPATCH level: the target follows the baseline

    @property
    def nothing(self) -> bool:
        return self.target_kw is None and self.target_pct is None and self.level_kw is None


def _get(tree: Mapping[str, Any], *path: str) -> Any:
    node: Any = tree
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "no")
    return bool(value)


def parse_event(event: Mapping[str, Any]) -> VtnEvent:
    """The VEN's view of one parsed ``oadrEvent``; raises ValueError naming what is missing."""
    descriptor = _get(event, "event_descriptor") or {}
    event_id = descriptor.get("event_id")
    if not isinstance(event_id, str) or not event_id:
        raise ValueError("event_descriptor.event_id: missing")
    period = _get(event, "active_period") or {}
    start, duration = period.get("dtstart"), period.get("duration")
    if not isinstance(start, datetime) or start.tzinfo is None:
        raise ValueError(f"event {event_id}: active_period.dtstart missing or naive")
    if not isinstance(duration, timedelta) or duration <= timedelta(0):
        raise ValueError(f"event {event_id}: active_period.duration missing or not positive")
    start_after = (
        _get(period, "tolerance", "tolerate", "startafter")
        or _get(period, "tolerance", "startafter")
        or timedelta(0)
    )
    signals = event.get("event_signals") or []
    if isinstance(signals, Mapping):
        signals = signals.get("event_signals") or []
    signal = signals[0] if signals else {}
    intervals = sorted(signal.get("intervals") or [], key=lambda i: i.get("uid", 0))
    values = tuple(float(i.get("signal_payload", 0.0)) for i in intervals)
    measurement = signal.get("measurement") or {}
    unit = str(measurement.get("unit") or "kW")
    scale = str(measurement.get("scale") or "none")
    if unit == "kW":
        unit_to_kw = 1.0
    elif unit == "W" and scale in _TO_KW:
        unit_to_kw = _TO_KW[scale]
    else:
        unit_to_kw = math.nan  # refused when the signal needs a unit
    return VtnEvent(
        vtn_event_id=event_id,
        modification_number=int(descriptor.get("modification_number") or 0),
        status=str(descriptor.get("event_status") or "far"),
        test_event=_truthy(descriptor.get("test_event")),
        response_required=event.get("response_required", "always") == "always",
        start=start,
        end=start + duration,
        start_after=start_after if isinstance(start_after, timedelta) else timedelta(0),
        signal_name=str(signal.get("signal_name") or ""),
        signal_type=str(signal.get("signal_type") or ""),
        values=values,
        unit_to_kw=unit_to_kw,
    )


def ask_of(event: VtnEvent, simple_levels_pct: Mapping[int, float]) -> Ask:
    """What the event asks for; UnsupportedEventError says why it cannot be planned."""
    if not event.values:
        raise UnsupportedEventError("the event has no signal intervals")
    if event.signal_name == "SIMPLE":
        level = max(round(v) for v in event.values)
        if level <= 0:
            return Ask(EventKind.PEAK_SHAVING)
        if level not in simple_levels_pct:
            raise UnsupportedEventError(f"SIMPLE level {level} has no mapping")
        return Ask(EventKind.PEAK_SHAVING, target_pct=simple_levels_pct[level])
    if event.signal_name != "LOAD_DISPATCH":
        raise UnsupportedEventError(f"signal {event.signal_name!r} is not supported")
    if math.isnan(event.unit_to_kw):
        raise UnsupportedEventError("the signal's unit is not a power (W or kW)")
    kw = [v * event.unit_to_kw for v in event.values]
    if event.signal_type == "level":
        return Ask(EventKind.PEAK_SHAVING, level_kw=min(kw))
    if event.signal_type != "delta":
        raise UnsupportedEventError(f"LOAD_DISPATCH type {event.signal_type!r} is not supported")
    if all(v <= 0 for v in kw):
        largest = -min(kw)
        return (
            Ask(EventKind.PEAK_SHAVING, target_kw=largest)
            if largest > 0
            else Ask(EventKind.PEAK_SHAVING)
        )
    if all(v >= 0 for v in kw):
        return Ask(EventKind.VALLEY_FILLING, target_kw=max(kw))
    raise UnsupportedEventError("the intervals ask for both less and more load")


def served_window(
    event: VtnEvent, now: datetime, interval: timedelta, rng: random.Random
) -> tuple[datetime, datetime] | None:
    """The whole intervals of the VTN's window vpp can still serve, or None.

    The start is delayed by a random draw within ``startAfter`` (the VTN's randomisation)
    and rounded up to the next interval boundary, as is ``now``; the end is rounded down.
    """
    delay = timedelta(seconds=rng.uniform(0, event.start_after.total_seconds()))
    start = _ceil(max(event.start + delay, now), interval)
    end = _floor(event.end, interval)
    return (start, end) if end > start else None


def _floor(ts: datetime, step: timedelta) -> datetime:
    epoch = ts.replace(hour=0, minute=0, second=0, microsecond=0)
    return epoch + ((ts - epoch) // step) * step


def _ceil(ts: datetime, step: timedelta) -> datetime:
    floor = _floor(ts, step)
    return floor if floor == ts else floor + step
