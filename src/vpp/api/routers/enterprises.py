"""Enterprises register and update their sites and resources, and read their own events,
setpoints and settlement; operators list every enterprise.

A registration that adds a site answers with that site's gateway credentials for the
broker, once: only their hash is kept.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Response, status
from pydantic import BaseModel, Field

from vpp.api.deps import Limit, Offset, PrincipalDep, ServiceDep, check_enterprise
from vpp.api.errors import ForbiddenError, InvalidInputError, NotFoundError
from vpp.api.live import enterprise_event_view
from vpp.api.views import (
    EnterpriseEventView,
    Page,
    RegistrationView,
    SetpointView,
    SettlementPage,
    SettlementView,
    page_of,
)
from vpp.domain import Enterprise, Resource, Site, Slug
from vpp.settlement import enterprise_totals, stored_line
from vpp.store import Role

router = APIRouter(prefix="/v1/enterprises", tags=["enterprises"])


class GatewayCredentialsView(BaseModel):
    """A new site's gateway login for the MQTT broker; shown in this response only."""

    site_id: str
    username: str
    password: str
    client_id: str = Field(description="the broker makes a client's id its username")


class EnterpriseRegistrationView(RegistrationView):
    gateway_credentials: list[GatewayCredentialsView] = Field(
        default_factory=list,
        description="credentials of each site that had none (new sites); never shown again",
    )


def _same(field: str, in_path: str, in_body: str) -> None:
    if in_path != in_body:
        raise InvalidInputError(
            f"{field} differs between path and body",
            [(field, f"{in_body!r} in the body, {in_path!r} in the path")],
        )


async def _saved(
    service: ServiceDep, enterprise: Enterprise, response: Response
) -> EnterpriseRegistrationView:
    created = await service.register(enterprise)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    issued = await service.broker_accounts.issue(
        [s.site_id for s in enterprise.sites], datetime.now(UTC)
    )
    response.headers["Cache-Control"] = "no-store"  # it may carry passwords
    return EnterpriseRegistrationView(
        enterprise=enterprise,
        created=created,
        gateway_credentials=[
            GatewayCredentialsView(
                site_id=c.site_id or "",
                username=c.username,
                password=c.password,
                client_id=c.client_id,
            )
            for c in issued
        ],
    )


@router.get("", response_model=Page[Enterprise])
async def list_enterprises(
    service: ServiceDep, principal: PrincipalDep, limit: Limit = 50, offset: Offset = 0
) -> Page[Enterprise]:
    """Every registered enterprise (operators, admins); an enterprise sees only itself."""
    if principal.role is Role.ENTERPRISE:
        assert principal.enterprise_id is not None
        own = await service.store.enterprises.get(principal.enterprise_id)
        items = [own] if own is not None else []
        return page_of(items[offset : offset + limit], len(items), offset, limit)
    if principal.role not in (Role.ADMIN, Role.OPERATOR):
        raise ForbiddenError(f"role {principal.role.value} may not list enterprises")
    items, total = await service.store.enterprises.page(offset, limit)
    return page_of(items, total, offset, limit)


@router.put(
    "/{enterprise_id}",
    response_model=EnterpriseRegistrationView,
    responses={201: {"model": EnterpriseRegistrationView, "description": "created"}},
)
async def put_enterprise(
    enterprise_id: Slug,
    enterprise: Annotated[Enterprise, Body()],
    service: ServiceDep,
    principal: PrincipalDep,
    response: Response,
) -> EnterpriseRegistrationView:
    """Register an enterprise with its sites and resources, or replace its registration."""
    check_enterprise(principal, enterprise_id, write=True)
    _same("enterprise_id", enterprise_id, enterprise.enterprise_id)
    return await _saved(service, enterprise, response)


@router.get("/{enterprise_id}", response_model=Enterprise)
async def get_enterprise(
    enterprise_id: Slug, service: ServiceDep, principal: PrincipalDep
) -> Enterprise:
    check_enterprise(principal, enterprise_id, write=False)
    return await service.enterprise(enterprise_id)


@router.put(
    "/{enterprise_id}/sites/{site_id}",
    response_model=EnterpriseRegistrationView,
    responses={201: {"model": EnterpriseRegistrationView, "description": "created"}},
)
async def put_site(
    enterprise_id: Slug,
    site_id: Slug,
    site: Annotated[Site, Body()],
    service: ServiceDep,
    principal: PrincipalDep,
    response: Response,
) -> EnterpriseRegistrationView:
    """Add a site to an enterprise, or replace it with its resources."""
    check_enterprise(principal, enterprise_id, write=True)
    _same("site_id", site_id, site.site_id)
    enterprise = await service.enterprise(enterprise_id)
    others = tuple(s for s in enterprise.sites if s.site_id != site_id)
    updated = enterprise.model_copy(update={"sites": (*others, site)})
    view = await _saved(service, Enterprise.model_validate(updated.model_dump()), response)
    response.status_code = (
        status.HTTP_200_OK if len(others) < len(enterprise.sites) else status.HTTP_201_CREATED
    )
    return view


@router.put(
    "/{enterprise_id}/sites/{site_id}/resources/{resource_id}",
    response_model=EnterpriseRegistrationView,
    responses={201: {"model": EnterpriseRegistrationView, "description": "created"}},
)
async def put_resource(
    enterprise_id: Slug,
    site_id: Slug,
    resource_id: Slug,
    resource: Annotated[Resource, Body()],
    service: ServiceDep,
    principal: PrincipalDep,
    response: Response,
) -> EnterpriseRegistrationView:
    """Add a resource to a site, or replace it."""
    check_enterprise(principal, enterprise_id, write=True)
    _same("resource_id", resource_id, resource.resource_id)
    enterprise = await service.enterprise(enterprise_id)
    site = next((s for s in enterprise.sites if s.site_id == site_id), None)
    if site is None:
        raise NotFoundError(f"site {site_id!r}: not registered for {enterprise_id!r}")
    others = tuple(r for r in site.resources if r.resource_id != resource_id)
    new_site = site.model_copy(update={"resources": (*others, resource)})
    sites = tuple(new_site if s.site_id == site_id else s for s in enterprise.sites)
    updated = Enterprise.model_validate(enterprise.model_copy(update={"sites": sites}).model_dump())
    view = await _saved(service, updated, response)
    response.status_code = (
        status.HTTP_200_OK if len(others) < len(site.resources) else status.HTTP_201_CREATED
    )
    return view


@router.get("/{enterprise_id}/events", response_model=Page[EnterpriseEventView])
async def list_enterprise_events(
    enterprise_id: Slug,
    service: ServiceDep,
    principal: PrincipalDep,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[EnterpriseEventView]:
    """Events the enterprise was asked to take part in, newest first, with its own part."""
    check_enterprise(principal, enterprise_id, write=False)
    records, total = await service.store.events.page(offset, limit, enterprise_id=enterprise_id)
    items = [await enterprise_event_view(service, r, enterprise_id) for r in records]
    return page_of(items, total, offset, limit)


@router.get("/{enterprise_id}/setpoints", response_model=Page[SetpointView])
async def list_setpoints(
    enterprise_id: Slug,
    service: ServiceDep,
    principal: PrincipalDep,
    event_id: Slug | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[SetpointView]:
    """Setpoints sent to the enterprise's resources and their acks, oldest first."""
    check_enterprise(principal, enterprise_id, write=False)
    rows, total = await service.store.records.setpoints(enterprise_id, offset, limit, event_id)
    items = [SetpointView.model_validate(row, from_attributes=True) for row in rows]
    return page_of(items, total, offset, limit)


@router.get("/{enterprise_id}/settlements", response_model=SettlementPage)
async def list_settlements(
    enterprise_id: Slug,
    service: ServiceDep,
    principal: PrincipalDep,
    limit: Limit = 50,
    offset: Offset = 0,
) -> SettlementPage:
    """The enterprise's settlement line of every settled event, and their totals."""
    check_enterprise(principal, enterprise_id, write=False)
    lines = await service.store.events.settlements(enterprise_id=enterprise_id)
    items = [SettlementView(event_id=e, enterprise_id=n, line=d) for e, n, d in lines]
    page = page_of(items[offset : offset + limit], len(items), offset, limit)
    totals = enterprise_totals(enterprise_id, (stored_line(d) for _, _, d in lines))
    return SettlementPage(**dict(page), totals=totals)
