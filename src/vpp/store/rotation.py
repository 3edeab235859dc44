"""The rotation ledger in the database: the service records every settled event's entries."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vpp.domain import RotationEntry, RotationLedger
from vpp.store.tables import RotationEntryRow


class Rotation:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def record(self, entries: Iterable[RotationEntry]) -> None:
        """Store entries; one already recorded (same event, start, enterprise) is replaced."""
        async with self._sessions.begin() as session:
            for e in entries:
                await session.merge(RotationEntryRow(**e.model_dump()))

    async def ledger(self) -> RotationLedger:
        """Every recorded entry, oldest event first."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(RotationEntryRow).order_by(
                    RotationEntryRow.start,
                    RotationEntryRow.event_id,
                    RotationEntryRow.enterprise_id,
                )
            )
            return RotationLedger(
                entries=tuple(
                    RotationEntry(
                        event_id=r.event_id,
                        start=r.start,
                        enterprise_id=r.enterprise_id,
                        called=r.called,
                        asked_kwh=r.asked_kwh,
                        delivered_kwh=r.delivered_kwh,
                        net_cny=r.net_cny,
                    )
                    for r in rows
                )
            )
