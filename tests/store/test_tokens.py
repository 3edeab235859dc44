"""Tokens: secrets shown once, stored hashed, scoped, revocable."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from vpp.domain import UnknownReferenceError
from vpp.store import TOKEN_PREFIX, Role, Store, TokenScopeError
from vpp.store.tables import TokenRow

NOW = datetime(2026, 7, 15, 8, tzinfo=UTC)


async def test_create_stores_only_the_hash_and_authenticates_the_secret(store: Store) -> None:
    info, secret = await store.tokens.create(Role.ENTERPRISE, NOW, "acme", "plant manager")
    assert secret.startswith(TOKEN_PREFIX)
    async with store.engine.connect() as connection:
        stored = (await connection.execute(select(TokenRow.secret_sha256))).scalars().all()
    assert stored == [hashlib.sha256(secret.encode()).hexdigest()]
    found = await store.tokens.authenticate(secret)
    assert found is not None
    assert (found.token_id, found.role, found.enterprise_id) == (
        info.token_id,
        Role.ENTERPRISE,
        "acme",
    )
    assert found.created_at == NOW
    assert await store.tokens.authenticate(secret + "x") is None


async def test_revoked_token_no_longer_authenticates(store: Store) -> None:
    info, secret = await store.tokens.create(Role.OPERATOR, NOW)
    revoked = await store.tokens.revoke(info.token_id, NOW + timedelta(hours=1))
    assert revoked.revoked_at == NOW + timedelta(hours=1)
    assert await store.tokens.authenticate(secret) is None
    with pytest.raises(UnknownReferenceError, match="token_id"):
        await store.tokens.revoke("000000000000", NOW)


@pytest.mark.parametrize(
    ("role", "enterprise_id"),
    [(Role.ENTERPRISE, None), (Role.OPERATOR, "acme")],
    ids=["enterprise-without-scope", "operator-with-scope"],
)
async def test_create_refuses_wrong_scope(
    store: Store, role: Role, enterprise_id: str | None
) -> None:
    with pytest.raises(TokenScopeError, match="enterprise"):
        await store.tokens.create(role, NOW, enterprise_id)
    assert await store.tokens.all() == []
