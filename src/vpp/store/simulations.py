"""Simulations engineers started: status and progress; the report files live on disk."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vpp.store.tables import SimulationRow


class Simulations:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(self, simulation_id: str, scenario: str, now: datetime) -> SimulationRow:
        row = SimulationRow(
            simulation_id=simulation_id,
            scenario=scenario,
            status="running",
            progress=0.0,
            created_at=now,
            finished_at=None,
            error=None,
            summary=None,
        )
        async with self._sessions.begin() as session:
            session.add(row)
        return row

    async def get(self, simulation_id: str) -> SimulationRow | None:
        async with self._sessions() as session:
            return await session.get(SimulationRow, simulation_id)

    async def page(self, offset: int, limit: int) -> tuple[list[SimulationRow], int]:
        async with self._sessions() as session:
            total = await session.scalar(select(func.count()).select_from(SimulationRow)) or 0
            rows = await session.scalars(
                select(SimulationRow)
                .order_by(SimulationRow.created_at.desc(), SimulationRow.simulation_id)
                .offset(offset)
                .limit(limit)
            )
            return list(rows), total

    async def finish(
        self,
        simulation_id: str,
        now: datetime,
        *,
        status: str,
        error: str | None = None,
        summary: dict[str, Any] | None = None,
    ) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(SimulationRow, simulation_id)
            if row is not None:
                row.status, row.error, row.summary, row.finished_at = status, error, summary, now
                row.progress = 1.0 if status == "succeeded" else row.progress

    async def interrupt_running(self, now: datetime) -> int:
        """Simulations a previous service left running died with it: say so."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(SimulationRow)
                .where(SimulationRow.status == "running")
                .values(
                    status="failed", error="the service stopped during the run", finished_at=now
                )
            )
            return int(getattr(result, "rowcount", 0) or 0)
