"""What went over the device fabric: setpoints with their acks, and telemetry per interval."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vpp.domain import Ack, Setpoint
from vpp.store.tables import SetpointRow, TelemetryIntervalRow


class Records:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add_setpoints(
        self, sent: Sequence[tuple[Setpoint, str | None, str | None]], acks: Sequence[Ack]
    ) -> None:
        """Setpoints as sent (with their event and enterprise), then the acks that came back."""
        if not sent and not acks:
            return
        async with self._sessions.begin() as session:
            for setpoint, event_id, enterprise_id in sent:
                await session.merge(
                    SetpointRow(
                        command_id=setpoint.command_id,
                        event_id=event_id,
                        enterprise_id=enterprise_id,
                        site_id=setpoint.site_id,
                        resource_id=setpoint.resource_id,
                        mode=setpoint.mode.value,
                        power_kw=setpoint.power_kw,
                        issued_at=setpoint.issued_at,
                        valid_from=setpoint.valid_from,
                        valid_until=setpoint.valid_until,
                    )
                )
            await session.flush()
            for ack in acks:
                row = await session.get(SetpointRow, ack.command_id)
                if row is not None and row.ack_status is None:
                    row.ack_status = ack.status.value
                    row.ack_reason = ack.reason

    async def setpoints(
        self, enterprise_id: str, offset: int, limit: int, event_id: str | None = None
    ) -> tuple[list[SetpointRow], int]:
        query = select(SetpointRow).where(SetpointRow.enterprise_id == enterprise_id)
        if event_id is not None:
            query = query.where(SetpointRow.event_id == event_id)
        async with self._sessions() as session:
            total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = await session.scalars(
                query.order_by(SetpointRow.issued_at, SetpointRow.command_id)
                .offset(offset)
                .limit(limit)
            )
            return list(rows), total

    async def add_telemetry(self, rows: Sequence[tuple[str, str, datetime, float]]) -> None:
        """Interval means (site, resource, interval start, mean power [kW])."""
        if not rows:
            return
        async with self._sessions.begin() as session:
            for site_id, resource_id, start, mean_kw in rows:
                await session.merge(
                    TelemetryIntervalRow(
                        site_id=site_id,
                        resource_id=resource_id,
                        interval_start=start,
                        mean_kw=mean_kw,
                    )
                )

    async def telemetry(self, site_id: str, resource_id: str) -> list[tuple[datetime, float]]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(TelemetryIntervalRow)
                .where(
                    TelemetryIntervalRow.site_id == site_id,
                    TelemetryIntervalRow.resource_id == resource_id,
                )
                .order_by(TelemetryIntervalRow.interval_start)
            )
            return [(r.interval_start, r.mean_kw) for r in rows]
