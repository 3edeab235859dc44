"""Events as issued, their lifecycle history, dispatch decisions, per-interval deliveries
and settlements: what the service needs to answer questions and to resume after a restart."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vpp.domain import DemandResponseEvent, VppError
from vpp.store.tables import (
    DecisionRow,
    DeliveryRow,
    EventRow,
    EventStateRow,
    SetpointRow,
    SettlementRow,
)


class DuplicateEventError(VppError):
    def __init__(self, event_id: str) -> None:
        self.event_id = event_id
        super().__init__(f"event_id: {event_id!r} already exists")


@dataclass(frozen=True)
class StateRecord:
    at: datetime
    state: str
    note: str
    incarnation: int


@dataclass(frozen=True)
class EventRecord:
    event: DemandResponseEvent
    state: str
    incarnation: int
    plan: dict[str, Any] | None
    finalized: bool
    idempotency_key: str | None
    request_digest: str | None
    created_at: datetime
    openadr: dict[str, Any] | None = None


def _record(row: EventRow) -> EventRecord:
    return EventRecord(
        DemandResponseEvent.model_validate(row.data),
        row.state,
        row.incarnation,
        row.plan,
        row.finalized,
        row.idempotency_key,
        row.request_digest,
        row.created_at,
        row.openadr,
    )


class Events:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(
        self,
        event: DemandResponseEvent,
        now: datetime,
        idempotency_key: str | None = None,
        request_digest: str | None = None,
        openadr: dict[str, Any] | None = None,
    ) -> EventRecord:
        """Store a new event; ``openadr`` is the VEN's decision on a VTN's event."""
        row = EventRow(
            event_id=event.event_id,
            data=event.model_dump(mode="json"),
            state="received",
            idempotency_key=idempotency_key,
            request_digest=request_digest,
            incarnation=0,
            plan=None,
            finalized=False,
            created_at=now,
            updated_at=now,
            source=event.source.value,
            vtn_event_id=event.vtn_event_id,
            modification_number=event.modification_number,
            openadr=openadr,
        )
        try:
            async with self._sessions.begin() as session:
                if await session.get(EventRow, event.event_id) is not None:
                    raise DuplicateEventError(event.event_id)
                session.add(row)
                session.add(
                    EventStateRow(
                        event_id=event.event_id, incarnation=0, seq=0, at=now, state="received"
                    )
                )
        except IntegrityError:
            raise DuplicateEventError(event.event_id) from None
        return _record(row)

    async def get(self, event_id: str) -> EventRecord | None:
        async with self._sessions() as session:
            row = await session.get(EventRow, event_id)
            return None if row is None else _record(row)

    async def by_idempotency_key(self, key: str) -> EventRecord | None:
        async with self._sessions() as session:
            row = await session.scalar(select(EventRow).where(EventRow.idempotency_key == key))
            return None if row is None else _record(row)

    async def by_vtn_event(self, vtn_event_id: str) -> EventRecord | None:
        """The latest event made from a VTN's event, whatever its modification."""
        async with self._sessions() as session:
            row = await session.scalar(
                select(EventRow)
                .where(EventRow.vtn_event_id == vtn_event_id)
                .order_by(EventRow.created_at.desc(), EventRow.event_id.desc())
                .limit(1)
            )
            return None if row is None else _record(row)

    async def page(
        self, offset: int, limit: int, enterprise_id: str | None = None
    ) -> tuple[list[EventRecord], int]:
        """Events newest first; for an enterprise, only those it was asked to take part in."""
        query = select(EventRow)
        if enterprise_id is not None:
            sent = select(SetpointRow.event_id).where(SetpointRow.enterprise_id == enterprise_id)
            delivered = select(DeliveryRow.event_id).where(
                DeliveryRow.enterprise_id == enterprise_id
            )
            query = query.where(or_(EventRow.event_id.in_(sent), EventRow.event_id.in_(delivered)))
        async with self._sessions() as session:
            total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = await session.scalars(
                query.order_by(EventRow.created_at.desc(), EventRow.event_id)
                .offset(offset)
                .limit(limit)
            )
            return [_record(row) for row in rows], total

    async def unfinished(self) -> list[EventRecord]:
        """Events a restarted service must resume (or finish settling)."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(EventRow).where(EventRow.finalized.is_(False)).order_by(EventRow.created_at)
            )
            return [_record(row) for row in rows]

    async def history(self, event_id: str) -> list[StateRecord]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(EventStateRow)
                .where(EventStateRow.event_id == event_id)
                .order_by(EventStateRow.incarnation, EventStateRow.seq)
            )
            return [StateRecord(r.at, r.state, r.note, r.incarnation) for r in rows]

    async def update(
        self,
        event_id: str,
        now: datetime,
        *,
        event: DemandResponseEvent | None = None,
        incarnation: int | None = None,
        plan: dict[str, Any] | None = None,
        finalized: bool | None = None,
        openadr: dict[str, Any] | None = None,
    ) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(EventRow, event_id)
            if row is None:
                raise KeyError(event_id)
            if event is not None:
                row.data = event.model_dump(mode="json")
                row.modification_number = event.modification_number
            if openadr is not None:
                row.openadr = openadr
            if incarnation is not None:
                row.incarnation = incarnation
            if plan is not None:
                row.plan = plan
            if finalized is not None:
                row.finalized = finalized
            row.updated_at = now

    async def record_progress(
        self,
        event_id: str,
        incarnation: int,
        states: Sequence[tuple[int, datetime, str, str]],
        decisions: Sequence[tuple[int, datetime, str, dict[str, Any]]],
        deliveries: Sequence[DeliveryRow],
        now: datetime,
        plan: dict[str, Any] | None = None,
    ) -> None:
        """New lifecycle changes (seq, at, state, note), decisions, deliveries and the
        first plan's summary, in one transaction."""
        if not (states or decisions or deliveries or plan):
            return
        async with self._sessions.begin() as session:
            row = await session.get(EventRow, event_id)
            if row is None:
                raise KeyError(event_id)
            for seq, at, state, note in states:
                session.add(
                    EventStateRow(
                        event_id=event_id,
                        incarnation=incarnation,
                        seq=seq,
                        at=at,
                        state=state,
                        note=note,
                    )
                )
            if states:
                row.state = states[-1][2]
            for seq, at, kind, data in decisions:
                session.add(
                    DecisionRow(
                        event_id=event_id,
                        incarnation=incarnation,
                        seq=seq,
                        at=at,
                        kind=kind,
                        data=data,
                    )
                )
            for delivery in deliveries:
                await session.merge(delivery)
            if plan is not None:
                row.plan = plan
            row.updated_at = now

    async def decisions(self, event_id: str) -> list[dict[str, Any]]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(DecisionRow)
                .where(DecisionRow.event_id == event_id)
                .order_by(DecisionRow.incarnation, DecisionRow.seq)
            )
            return [
                {"at": r.at, "kind": r.kind, "incarnation": r.incarnation, **r.data} for r in rows
            ]

    async def deliveries(self, event_id: str) -> list[DeliveryRow]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(DeliveryRow)
                .where(DeliveryRow.event_id == event_id)
                .order_by(DeliveryRow.interval_start, DeliveryRow.site_id, DeliveryRow.resource_id)
            )
            return list(rows)

    async def save_settlement(
        self, event_id: str, lines: dict[str, dict[str, Any]], now: datetime
    ) -> None:
        """Each enterprise's settlement line, and the event marked final, in one go."""
        async with self._sessions.begin() as session:
            for enterprise_id, data in lines.items():
                await session.merge(
                    SettlementRow(event_id=event_id, enterprise_id=enterprise_id, data=data)
                )
            row = await session.get(EventRow, event_id)
            if row is not None:
                row.finalized = True
                row.updated_at = now

    async def settlements(
        self, *, event_id: str | None = None, enterprise_id: str | None = None
    ) -> list[tuple[str, str, dict[str, Any]]]:
        query = select(SettlementRow)
        if event_id is not None:
            query = query.where(SettlementRow.event_id == event_id)
        if enterprise_id is not None:
            query = query.where(SettlementRow.enterprise_id == enterprise_id)
        async with self._sessions() as session:
            rows = await session.scalars(
                query.order_by(SettlementRow.event_id, SettlementRow.enterprise_id)
            )
            return [(r.event_id, r.enterprise_id, r.data) for r in rows]
