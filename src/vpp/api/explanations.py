"""Each event's dispatch explanation: kept with the plan decision, served to operators."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vpp.api.errors import NotFoundError
from vpp.controller.run import EventRun
from vpp.domain import DispatchExplanation

if TYPE_CHECKING:
    from vpp.api.service import Service

PLAN = "plan"
KEY = "explanation"


def explanation_entry(run: EventRun) -> dict[str, Any]:
    """What the plan decision stores of the explanation: ``{"explanation": ...}`` or nothing."""
    if run.explanation is None:
        return {}
    return {KEY: run.explanation.model_dump(mode="json")}


async def event_explanation(service: Service, event_id: str) -> DispatchExplanation:
    """The explanation of the event's latest first plan (a restart plans again).

    Read from the live run while the progress writer has not stored it yet, else from the
    stored plan decision; 404 when the event is unknown, not planned yet, or was too
    large for one model (decomposed dispatches are not priced).
    """
    await service.event_record(event_id)  # 404 for an unknown event
    run = service.live_run(event_id)
    if run is not None and run.explanation is not None:
        return run.explanation
    plans = [
        d for d in await service.store.events.decisions(event_id) if d["kind"] == PLAN and KEY in d
    ]
    if not plans:
        raise NotFoundError(
            f"event {event_id!r}: no explanation (not planned yet, or dispatched in "
            "decomposed groups, which are not priced)"
        )
    return DispatchExplanation.model_validate(plans[-1][KEY])
