"""Registrations round-trip as domain models, replace whole, and index their resources."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from vpp.domain import Enterprise
from vpp.store import Store
from vpp.store.tables import ResourceRow

from builders import battery, curtailable, enterprise

NOW = datetime(2026, 7, 15, 8, tzinfo=UTC)
FURNACE = curtailable("furnace", [(100.0, 1.0)])


def acme(*resources: dict[str, Any]) -> Enterprise:
    return Enterprise.model_validate(enterprise("acme", list(resources)))


async def test_save_then_get_returns_the_same_enterprise(store: Store) -> None:
    enterprise = acme(FURNACE, battery())
    assert await store.enterprises.save([enterprise], NOW) == [True]
    assert await store.enterprises.get("acme") == enterprise
    assert await store.enterprises.get("nobody") is None


async def test_save_again_replaces_registration_and_resource_index(store: Store) -> None:
    await store.enterprises.save([acme(FURNACE, battery())], NOW)
    assert await store.enterprises.save([acme(battery())], NOW) == [False]
    async with store.engine.connect() as connection:
        rows = (await connection.execute(select(ResourceRow.resource_id))).scalars().all()
    assert rows == ["bess"]
    stored = await store.enterprises.get("acme")
    assert stored is not None
    assert [r.resource_id for r in stored.sites[0].resources] == ["bess"]


async def test_page_is_ordered_by_id_with_total(store: Store) -> None:
    enterprises = [Enterprise.model_validate(enterprise(f"e{i}", [battery()])) for i in (3, 1, 2)]
    await store.enterprises.save(enterprises, NOW)
    first, total = await store.enterprises.page(0, 2)
    rest, _ = await store.enterprises.page(2, 2)
    assert total == 3
    assert [e.enterprise_id for e in first + rest] == ["e1", "e2", "e3"]
