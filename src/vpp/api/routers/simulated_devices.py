"""Faults struck by hand on the service's simulated gateways (``--simulated-devices``), so a
demo can show a device dropping out: the gateway really vanishes or goes quiet, and the
controller finds out as it would from a real one."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body, status
from pydantic import AwareDatetime, Field

from vpp.api.deps import Engineer, ServiceDep
from vpp.api.devices import DeviceFabric, FaultKind, StruckFault
from vpp.api.errors import ConflictError, InvalidInputError, NotFoundError
from vpp.api.service import Service
from vpp.domain import FrozenModel, Slug

router = APIRouter(prefix="/v1/simulated-devices", tags=["simulated devices"])

#: Kinds that strike one resource (``resource_id`` required); ``offline`` strikes the site.
RESOURCE_KINDS: frozenset[FaultKind] = frozenset(
    {"telemetry_silent", "stuck_meter", "ignore_commands"}
)


class FaultRequest(FrozenModel):
    """A fault from the service clock's now for ``duration_min``."""

    kind: FaultKind = Field(
        description="offline: the gateway vanishes (its will says offline) and comes back; "
        "telemetry_silent: a resource stops reporting; stuck_meter: its reading freezes; "
        "ignore_commands: it neither acks nor obeys setpoints"
    )
    resource_id: Slug | None = Field(
        default=None, description="the struck resource (all kinds but offline, which has none)"
    )
    duration_min: int = Field(gt=0, le=1440, description="how long it lasts [min, clock]")


class FaultView(FrozenModel):
    kind: FaultKind
    site_id: str
    resource_id: str | None
    start: AwareDatetime = Field(description="the service clock when it was struck")
    end: AwareDatetime = Field(description="when the fault is over (the gateway comes back)")

    @classmethod
    def of(cls, fault: StruckFault) -> FaultView:
        return cls(
            kind=fault.kind,
            site_id=fault.site_id,
            resource_id=fault.resource_id,
            start=fault.start,
            end=fault.end,
        )


def _gateways(service: Service, site_id: str) -> DeviceFabric:
    """The fabric holding this site's simulated gateway; 409 without simulated devices."""
    fabric = service.fabric
    if fabric is None or not fabric.simulated:
        raise ConflictError("the service runs no simulated devices (vpp serve --simulated-devices)")
    if site_id not in fabric.gateways:
        raise NotFoundError(f"no simulated gateway for site {site_id!r}")
    return fabric


@router.post("/{site_id}/faults", status_code=status.HTTP_201_CREATED, response_model=FaultView)
async def strike_fault(
    site_id: str, request: Annotated[FaultRequest, Body()], service: ServiceDep, _: Engineer
) -> FaultView:
    """Strike a fault on a site's simulated gateway from now; it ends by itself."""
    fabric = _gateways(service, site_id)
    if request.kind in RESOURCE_KINDS:
        if request.resource_id is None:
            raise InvalidInputError(
                "invalid request", [("resource_id", f"{request.kind} needs a resource_id")]
            )
        if request.resource_id not in fabric.gateways[site_id].devices:
            raise InvalidInputError(
                "invalid request",
                [("resource_id", f"site {site_id!r} has no resource {request.resource_id!r}")],
            )
    elif request.resource_id is not None:
        raise InvalidInputError(
            "invalid request", [("resource_id", "offline strikes the whole site: leave it out")]
        )
    now = fabric.clock.now()
    fault = StruckFault(
        kind=request.kind,
        site_id=site_id,
        resource_id=request.resource_id,
        start=now,
        end=now + timedelta(minutes=request.duration_min),
    )
    fabric.strike(fault)
    return FaultView.of(fault)


@router.get("/{site_id}/faults", response_model=list[FaultView])
async def list_faults(site_id: str, service: ServiceDep, _: Engineer) -> list[FaultView]:
    """The site's struck faults not over yet, oldest first."""
    fabric = _gateways(service, site_id)
    return [FaultView.of(f) for f in fabric.active_faults(site_id)]
