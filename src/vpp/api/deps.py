"""Dependencies routes declare: the service, the caller's token, its role and scope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from vpp.api.errors import ForbiddenError, NotAuthenticatedError
from vpp.api.service import Service
from vpp.api.views import MAX_LIMIT
from vpp.store import Role, TokenInfo

_bearer = HTTPBearer(auto_error=False, description="a token from `vpp token create`")


def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


async def get_principal(
    service: ServiceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> TokenInfo:
    """The caller's live token; 401 when it is missing, unknown or revoked."""
    if credentials is None:
        raise NotAuthenticatedError("missing bearer token (Authorization: Bearer <token>)")
    info = await service.store.tokens.authenticate(credentials.credentials)
    if info is None:
        raise NotAuthenticatedError("unknown or revoked token")
    return info


PrincipalDep = Annotated[TokenInfo, Depends(get_principal)]


def require(*roles: Role) -> Callable[[TokenInfo], Awaitable[TokenInfo]]:
    """A dependency admitting these roles (and admin, always); 403 for the others."""
    allowed = {Role.ADMIN, *roles}

    async def check(principal: PrincipalDep) -> TokenInfo:
        if principal.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise ForbiddenError(f"role {principal.role.value} may not do this (needs {names})")
        return principal

    return check


Operator = Annotated[TokenInfo, Depends(require(Role.OPERATOR))]
Engineer = Annotated[TokenInfo, Depends(require(Role.ENGINEER))]
Admin = Annotated[TokenInfo, Depends(require())]


def check_enterprise(principal: TokenInfo, enterprise_id: str, *, write: bool) -> None:
    """Enterprises reach only their own data; operators read every enterprise's; admins
    everything."""
    if principal.role is Role.ADMIN:
        return
    if principal.role is Role.ENTERPRISE and principal.enterprise_id == enterprise_id:
        return
    if principal.role is Role.OPERATOR and not write:
        return
    raise ForbiddenError(
        f"this token may not {'change' if write else 'read'} enterprise {enterprise_id!r}"
    )


Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="items to skip")]
