"""One event as the controller runs it: its plan per resource, what was sent, what failed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from vpp.controller.lifecycle import Lifecycle
from vpp.controller.planning import asked_kw, commanded, commanded_in, response_kw, settled_stop
from vpp.domain import (
    DemandResponseEvent,
    DispatchExplanation,
    DispatchResult,
    FloatArray,
    ResourceSchedule,
    TimeGrid,
)
from vpp.optimizer import DispatchProblem

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Replan:
    """A re-plan of the remaining intervals, and why it happened."""

    at: datetime
    reason: str
    first_interval: datetime
    dropped: tuple[str, ...]
    added: tuple[str, ...]
    residual_kw: float  # largest residual target handed to the optimiser
    status: str
    solve_s: float
    rebound_excess_kw: float = 0.0
    """Largest load the re-plan had to put above the room the cap left it [kW]: a re-plan
    meets the target first, so making up for dropped resources may cost the cap."""


@dataclass(frozen=True)
class Fault:
    """A resource the controller stopped relying on during an event."""

    at: datetime
    event_id: str
    key: str
    reason: str


@dataclass
class EventRun:
    event: DemandResponseEvent
    lifecycle: Lifecycle
    problem: DispatchProblem | None = None
    initial: DispatchResult | None = None
    explanation: DispatchExplanation | None = None  # of the initial plan; None if decomposed
    schedules: dict[str, ResourceSchedule] = field(default_factory=dict)
    dropped: dict[str, Fault] = field(default_factory=dict)
    replans: list[Replan] = field(default_factory=list)
    sent: dict[tuple[str, int], float] = field(default_factory=dict)  # value last sent
    command_ids: set[str] = field(default_factory=set)
    evaluated: set[int] = field(default_factory=set)
    pending_faults: dict[str, str] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    cancel_reason: str | None = None
    modified: bool = False
    baseline_notes: tuple[str, ...] = ()
    recoveries_extended: set[str] = field(default_factory=set)
    """Buildings whose recovery was re-planned past its planned end (once each)."""

    @property
    def event_id(self) -> str:
        return self.event.event_id

    @property
    def grid(self) -> TimeGrid:
        assert self.problem is not None, "event not planned yet"
        return self.problem.grid

    @property
    def window(self) -> slice:
        return self.grid.slice_of(self.event.start, self.event.end)

    @property
    def target_kw(self) -> float:
        assert self.problem is not None
        return self.event.target_kw_for(self.problem.district.peak_load_kw)

    def end_of(self, t: int) -> datetime:
        """When interval ``t`` of the plan's grid ends (its leases lapse then)."""
        return self.grid.starts[t] + self.grid.interval

    def drop(self, now: datetime, reasons: Mapping[str, str]) -> list[Fault]:
        """Stop relying on the resources of ``reasons`` (key: why); returns the new faults.

        A resource already dropped, or not in the plan, is left as it is."""
        faults = []
        for key, reason in reasons.items():
            if key in self.dropped or key not in self.schedules:
                continue
            fault = Fault(now, self.event_id, key, reason)
            self.dropped[key] = fault
            faults.append(fault)
            logger.warning("event %s: dropping %s (%s)", self.event_id, key, reason)
        return faults

    def in_window(self, key: str) -> bool:
        """Whether the event asks the resource for something inside its window (one
        commanded only to stagger its recovery after the window is not in the event)."""
        return commanded_in(self.schedules[key], self.window)

    def participants(self) -> list[str]:
        """Resources asked for something in this event's window, dropped ones included."""
        return [key for key in self.schedules if self.in_window(key) or key in self.dropped]

    def asks(self) -> dict[str, FloatArray]:
        """What the event asks of each resource it settles, per interval of the horizon
        [kW, >= 0] (:func:`~vpp.controller.planning.asked_kw`): its participants, and one
        asked something only after the window (a battery discharging under another load's
        rebound), which is paid for it as a participant is."""
        participants = set(self.participants())
        out = {}
        for key, schedule in self.schedules.items():
            asked = asked_kw(schedule, self.event.direction, self.window)
            if key in participants or (key not in self.dropped and bool(asked.any())):
                out[key] = asked
        return out

    def settled(self, asks: Mapping[str, FloatArray]) -> slice:
        """The intervals the event settles: its window and any hold after it."""
        window = self.window
        return slice(window.start, settled_stop(asks.values(), window))

    def was_sent(self, key: str) -> bool:
        """Whether any command of this event has gone to the resource."""
        return any(k == key for k, _ in self.sent)

    def sent_to(self) -> list[str]:
        """Every resource this event has sent a command to, in or after its window."""
        return sorted({k for k, _ in self.sent})

    def kept(self) -> list[str]:
        """Resources asked for something in the window and still relied on."""
        return [k for k in self.schedules if self.in_window(k) and k not in self.dropped]

    def recovering(self) -> list[str]:
        """Resources still relied on with commands in the plan (in the window or only in
        the recovery after it)."""
        return [k for k, s in self.schedules.items() if commanded(s) and k not in self.dropped]

    def planned_response_kw(self, keys: list[str]) -> FloatArray:
        total = np.zeros(self.grid.count)
        for key in keys:
            total += response_kw(self.schedules[key], self.event.direction)
        return total

    def command_span(self) -> tuple[int, int] | None:
        """First and last interval with any command, or None when nothing is commanded."""
        commanded_at = [
            t for s in self.schedules.values() for t, v in enumerate(s.setpoint_kw) if v is not None
        ]
        if not commanded_at:
            return None
        return min(commanded_at), max(commanded_at)
