"""Admins issue and revoke tokens (the very first admin token comes from `vpp token`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, status

from vpp.api.deps import Admin, ServiceDep
from vpp.api.views import NewTokenView, TokenRequest, TokenView
from vpp.store import TokenInfo

router = APIRouter(prefix="/v1/tokens", tags=["tokens"])

TokenId = Annotated[str, Path(pattern=r"^[0-9a-f]{12}$")]


def _view(info: TokenInfo) -> TokenView:
    return TokenView.model_validate(info, from_attributes=True)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=NewTokenView)
async def create_token(
    request: Annotated[TokenRequest, Body()], service: ServiceDep, _: Admin
) -> NewTokenView:
    """A new token; its secret is in this reply only."""
    info, secret = await service.store.tokens.create(
        request.role, service.clock.now(), request.enterprise_id, request.name
    )
    return NewTokenView(**_view(info).model_dump(), secret=secret)


@router.get("", response_model=list[TokenView])
async def list_tokens(service: ServiceDep, _: Admin) -> list[TokenView]:
    return [_view(info) for info in await service.store.tokens.all()]


@router.delete("/{token_id}", response_model=TokenView)
async def revoke_token(token_id: TokenId, service: ServiceDep, _: Admin) -> TokenView:
    """Revoke a token: it answers 401 from now on."""
    return _view(await service.store.tokens.revoke(token_id, service.clock.now()))
