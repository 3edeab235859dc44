"""Grid operators issue, change and cancel events and watch their delivery."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Response, status

from vpp.api.deps import Limit, Offset, Operator, ServiceDep, require
from vpp.api.explanations import event_explanation
from vpp.api.live import event_view
from vpp.api.views import CancelRequest, EventChange, EventRequest, EventView, Page, page_of
from vpp.domain import DispatchExplanation, Slug
from vpp.store import Role, TokenInfo

router = APIRouter(prefix="/v1/events", tags=["events"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="retrying with the same key returns the first event, not a second one",
    ),
]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=EventView,
    responses={200: {"model": EventView, "description": "replayed (same Idempotency-Key)"}},
)
async def create_event(
    request: Annotated[EventRequest, Body()],
    service: ServiceDep,
    _: Operator,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> EventView:
    """Issue an event: it is stored, planned at once, and dispatched when due.

    The reply carries the first plan (participants, expected shortfall, cost) when the
    solver finishes within the service's plan wait.
    """
    record, created = await service.create_event(request, idempotency_key)
    if not created:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    return await event_view(service, await service.event_record(record.event.event_id))


@router.get("", response_model=Page[EventView])
async def list_events(
    service: ServiceDep, _: Operator, limit: Limit = 20, offset: Offset = 0
) -> Page[EventView]:
    """Every event, newest first."""
    records, total = await service.store.events.page(offset, limit)
    return page_of([await event_view(service, r) for r in records], total, offset, limit)


@router.get("/{event_id}", response_model=EventView)
async def get_event(event_id: Slug, service: ServiceDep, _: Operator) -> EventView:
    """Live state: target, delivered per interval, shortfall, re-dispatched devices."""
    return await event_view(service, await service.event_record(event_id))


@router.get("/{event_id}/explanation", response_model=DispatchExplanation)
async def get_event_explanation(
    event_id: Slug,
    service: ServiceDep,
    _: Annotated[TokenInfo, Depends(require(Role.OPERATOR, Role.ENGINEER))],
) -> DispatchExplanation:
    """Why the first plan is what it is: per resource called or not and why, the marginal
    cost of the target per interval, and for a shortfall what binds (``vpp dispatch
    --explain`` computes the same)."""
    return await event_explanation(service, event_id)


@router.patch("/{event_id}", response_model=EventView)
async def modify_event(
    event_id: Slug, change: Annotated[EventChange, Body()], service: ServiceDep, _: Operator
) -> EventView:
    """Change the target; the remaining intervals are re-planned."""
    return await event_view(service, await service.modify_event(event_id, change))


@router.post("/{event_id}/cancel", response_model=EventView)
async def cancel_event(
    event_id: Slug,
    service: ServiceDep,
    _: Operator,
    cancel: Annotated[CancelRequest | None, Body()] = None,
) -> EventView:
    """Cancel the event: every setpoint it holds is released."""
    reason = (cancel or CancelRequest()).reason
    return await event_view(service, await service.cancel_event(event_id, reason))
