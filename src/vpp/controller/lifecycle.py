"""The life of an event: which states follow which, and the record of how it went."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from vpp.domain import VppError


class EventState(StrEnum):
    RECEIVED = "received"  # accepted from the operator, not yet planned
    SCHEDULED = "scheduled"  # a dispatch plan exists
    NOTIFIED = "notified"  # participants told (their first setpoints are due)
    ACTIVE = "active"  # inside the event window
    COMPLETED = "completed"  # window over, every setpoint released
    CANCELLED = "cancelled"


TERMINAL = frozenset({EventState.COMPLETED, EventState.CANCELLED})

NEXT: dict[EventState, frozenset[EventState]] = {
    EventState.RECEIVED: frozenset({EventState.SCHEDULED, EventState.CANCELLED}),
    EventState.SCHEDULED: frozenset(
        {EventState.SCHEDULED, EventState.NOTIFIED, EventState.CANCELLED}
    ),
    EventState.NOTIFIED: frozenset({EventState.NOTIFIED, EventState.ACTIVE, EventState.CANCELLED}),
    EventState.ACTIVE: frozenset({EventState.COMPLETED, EventState.CANCELLED}),
    EventState.COMPLETED: frozenset(),
    EventState.CANCELLED: frozenset(),
}
"""Allowed transitions; a modified event may be scheduled or notified again."""


class TransitionError(VppError, ValueError):
    def __init__(self, event_id: str, current: EventState, wanted: EventState) -> None:
        self.event_id = event_id
        self.current = current
        self.wanted = wanted
        super().__init__(f"event {event_id}: cannot go from {current} to {wanted}")


@dataclass(frozen=True)
class StateChange:
    at: datetime
    state: EventState
    note: str = ""


class Lifecycle:
    """The current state of one event and every change that led there."""

    def __init__(self, event_id: str, at: datetime) -> None:
        self.event_id = event_id
        self.history: list[StateChange] = [StateChange(at, EventState.RECEIVED)]

    @property
    def state(self) -> EventState:
        return self.history[-1].state

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL

    def move(self, state: EventState, at: datetime, note: str = "") -> None:
        if state not in NEXT[self.state]:
            raise TransitionError(self.event_id, self.state, state)
        self.history.append(StateChange(at, state, note))
