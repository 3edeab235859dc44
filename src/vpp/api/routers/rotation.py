"""Rotation (分轮次) across events: who was called how often, and how fairly."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from vpp.api.deps import Operator, ServiceDep
from vpp.domain import EnterpriseRotation, fairness, rotation_counts

router = APIRouter(prefix="/v1", tags=["rotation"])


class RotationLine(EnterpriseRotation):
    rotation_count: int = Field(description="calls the optimiser's rotation adder reads now")


class RotationView(BaseModel):
    """The ledger over the district's rotation window (docs/rotation.md)."""

    until: AwareDatetime
    events: int = Field(description="settled events in the window")
    calls_per_mw_spread: float = Field(description="max - min of calls per MW [1/MW]")
    calls_per_mw_cv: float = Field(description="coefficient of variation of calls per MW [-]")
    enterprises: list[RotationLine]


@router.get("/rotation", response_model=RotationView)
async def get_rotation(
    service: ServiceDep,
    _: Operator,
    until: Annotated[
        AwareDatetime | None, Query(description="window end, with offset [default: now]")
    ] = None,
) -> RotationView:
    """Per registered enterprise: calls, asked and delivered energy and earnings over the
    rotation window, and the fairness figure."""
    district = service.require_district()
    ledger = await service.store.rotation.ledger()
    end = until if until is not None else service.clock.now()
    window = ledger.between(district.rotation.window_start(end), end)
    rows = window.summary(district)
    counts = rotation_counts(district, ledger, end)
    spread, cv = fairness(rows)
    return RotationView(
        until=end,
        events=len({(e.event_id, e.start) for e in window.entries}),
        calls_per_mw_spread=spread,
        calls_per_mw_cv=cv,
        enterprises=[
            RotationLine(
                **r.model_dump(exclude={"calls_per_mw"}),
                rotation_count=counts.get(r.enterprise_id, 0),
            )
            for r in rows
        ],
    )
