"""API tokens: random secrets shown once; the store keeps only their SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vpp.domain import UnknownReferenceError, VppError
from vpp.store.tables import TokenRow

#: Every secret starts with this, so a leaked one is easy to recognise (secret scanners).
TOKEN_PREFIX = "vpp_"


class Role(StrEnum):
    ADMIN = "admin"  # tokens, and everything else
    OPERATOR = "operator"  # events, capability, every enterprise (read)
    ENGINEER = "engineer"  # simulations
    ENTERPRISE = "enterprise"  # one enterprise's registrations, events and settlement


@dataclass(frozen=True)
class TokenInfo:
    token_id: str
    role: Role
    enterprise_id: str | None
    name: str | None
    created_at: datetime
    revoked_at: datetime | None


class TokenScopeError(VppError, ValueError):
    pass


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _info(row: TokenRow) -> TokenInfo:
    return TokenInfo(
        row.token_id, Role(row.role), row.enterprise_id, row.name, row.created_at, row.revoked_at
    )


class Tokens:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(
        self, role: Role, now: datetime, enterprise_id: str | None = None, name: str | None = None
    ) -> tuple[TokenInfo, str]:
        """A new token and its secret (the only time the secret exists outside the caller)."""
        if (role is Role.ENTERPRISE) != (enterprise_id is not None):
            raise TokenScopeError(
                "enterprise: required for role enterprise and only for it"
                if enterprise_id is None
                else f"enterprise: role {role} is not scoped to an enterprise"
            )
        token_id = secrets.token_hex(6)
        secret = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        row = TokenRow(
            token_id=token_id,
            secret_sha256=digest(secret),
            role=role.value,
            enterprise_id=enterprise_id,
            name=name,
            created_at=now,
            revoked_at=None,
        )
        async with self._sessions.begin() as session:
            session.add(row)
        return _info(row), secret

    async def authenticate(self, secret: str) -> TokenInfo | None:
        """The live token with this secret, or None (unknown or revoked)."""
        async with self._sessions() as session:
            row = await session.scalar(
                select(TokenRow).where(TokenRow.secret_sha256 == digest(secret))
            )
            if row is None or row.revoked_at is not None:
                return None
            return _info(row)

    async def revoke(self, token_id: str, now: datetime) -> TokenInfo:
        async with self._sessions.begin() as session:
            row = await session.get(TokenRow, token_id)
            if row is None:
                raise UnknownReferenceError("token_id", token_id)
            if row.revoked_at is None:
                row.revoked_at = now
            return _info(row)

    async def all(self) -> list[TokenInfo]:
        async with self._sessions() as session:
            rows = await session.scalars(select(TokenRow).order_by(TokenRow.created_at))
            return [_info(row) for row in rows]
