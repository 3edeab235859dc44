"""Enterprises as registered: the validated domain model as JSON, and one row per resource."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vpp.domain import Enterprise
from vpp.store.tables import EnterpriseRow, ResourceRow


class Registrations:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def all(self) -> list[Enterprise]:
        """Every enterprise, ordered by id (the order registrations reach the district in)."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(EnterpriseRow).order_by(EnterpriseRow.enterprise_id)
            )
            return [Enterprise.model_validate(row.data) for row in rows]

    async def get(self, enterprise_id: str) -> Enterprise | None:
        async with self._sessions() as session:
            row = await session.get(EnterpriseRow, enterprise_id)
            return None if row is None else Enterprise.model_validate(row.data)

    async def page(self, offset: int, limit: int) -> tuple[list[Enterprise], int]:
        async with self._sessions() as session:
            total = await session.scalar(select(func.count()).select_from(EnterpriseRow)) or 0
            rows = await session.scalars(
                select(EnterpriseRow)
                .order_by(EnterpriseRow.enterprise_id)
                .offset(offset)
                .limit(limit)
            )
            return [Enterprise.model_validate(row.data) for row in rows], total

    async def save(self, enterprises: Sequence[Enterprise], now: datetime) -> list[bool]:
        """Create or replace enterprises in one transaction; True where one was created."""
        created = []
        async with self._sessions.begin() as session:
            for enterprise in enterprises:
                created.append(await _save(session, enterprise, now))
        return created


async def _save(session: AsyncSession, enterprise: Enterprise, now: datetime) -> bool:
    row = await session.get(EnterpriseRow, enterprise.enterprise_id)
    data = enterprise.model_dump(mode="json")
    if row is None:
        session.add(
            EnterpriseRow(
                enterprise_id=enterprise.enterprise_id,
                name=enterprise.name,
                feeder_id=enterprise.feeder_id,
                data=data,
                created_at=now,
                updated_at=now,
            )
        )
    else:
        row.name, row.feeder_id, row.data, row.updated_at = (
            enterprise.name,
            enterprise.feeder_id,
            data,
            now,
        )
        await session.execute(
            delete(ResourceRow).where(ResourceRow.enterprise_id == enterprise.enterprise_id)
        )
    await session.flush()
    for site in enterprise.sites:
        for resource in site.resources:
            session.add(
                ResourceRow(
                    site_id=site.site_id,
                    resource_id=resource.resource_id,
                    enterprise_id=enterprise.enterprise_id,
                    kind=resource.kind,
                )
            )
    return row is None
