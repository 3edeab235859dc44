from datetime import UTC, datetime

import pytest

from vpp.controller import EventState, Lifecycle, TransitionError

T0 = datetime(2026, 7, 15, 3, 0, tzinfo=UTC)


def test_lifecycle_runs_received_to_completed_and_keeps_history() -> None:
    life = Lifecycle("e1", T0)
    for state in (EventState.SCHEDULED, EventState.NOTIFIED, EventState.ACTIVE):
        life.move(state, T0)
    life.move(EventState.COMPLETED, T0, "window over")
    assert life.finished
    assert life.history[0].state is EventState.RECEIVED
    assert life.history[-1].note == "window over"


@pytest.mark.parametrize(
    "state", [EventState.RECEIVED, EventState.SCHEDULED, EventState.NOTIFIED, EventState.ACTIVE]
)
def test_lifecycle_can_cancel_any_unfinished_state(state: EventState) -> None:
    life = Lifecycle("e1", T0)
    path = [EventState.SCHEDULED, EventState.NOTIFIED, EventState.ACTIVE]
    for step in path[: path.index(state) + 1] if state in path else []:
        life.move(step, T0)
    life.move(EventState.CANCELLED, T0)
    assert life.state is EventState.CANCELLED


def test_lifecycle_refuses_skipping_or_leaving_a_terminal_state() -> None:
    life = Lifecycle("e1", T0)
    with pytest.raises(TransitionError, match="received to active"):
        life.move(EventState.ACTIVE, T0)
    life.move(EventState.CANCELLED, T0)
    with pytest.raises(TransitionError):
        life.move(EventState.SCHEDULED, T0)
