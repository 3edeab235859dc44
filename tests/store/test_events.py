"""Events, their history and deliveries, as a restarted service reads them back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vpp.domain import DemandResponseEvent, Enterprise
from vpp.store import DeliveryRow, DuplicateEventError, Store

from builders import battery, enterprise

START = datetime(2026, 7, 15, 3, tzinfo=UTC)
EVENT = DemandResponseEvent(
    event_id="ev-1",
    start=START,
    end=START + timedelta(minutes=30),
    target_kw=100.0,
    issued_at=START - timedelta(hours=1),
)


def delivery(
    minute: int, enterprise_id: str = "acme", measured_kw: float | None = 350.0
) -> DeliveryRow:
    return DeliveryRow(
        event_id="ev-1",
        site_id=f"{enterprise_id}-site",
        resource_id="bess",
        interval_start=START + timedelta(minutes=minute),
        enterprise_id=enterprise_id,
        kind="battery",
        asked_kw=100.0,
        baseline_kw=450.0,
        measured_kw=measured_kw,
        price_cny_per_kwh=0.5,
    )


async def test_create_keeps_event_and_idempotency_key(store: Store) -> None:
    await store.events.create(EVENT, START, "key-1", "digest")
    record = await store.events.by_idempotency_key("key-1")
    assert record is not None
    assert record.event == EVENT
    assert (record.state, record.request_digest, record.incarnation) == ("received", "digest", 0)
    with pytest.raises(DuplicateEventError, match="ev-1"):
        await store.events.create(EVENT, START, "key-2", "digest")


async def test_progress_keeps_history_across_incarnations_and_timezones(store: Store) -> None:
    await store.events.create(EVENT, START)
    at = START + timedelta(minutes=5)
    await store.events.record_progress("ev-1", 0, [(1, at, "scheduled", "plan")], [], [], at)
    await store.events.record_progress("ev-1", 1, [(0, at, "received", "resumed")], [], [], at)
    history = await store.events.history("ev-1")
    assert [(h.incarnation, h.state) for h in history] == [
        (0, "received"),
        (0, "scheduled"),
        (1, "received"),
    ]
    assert history[1].at == at
    assert history[1].at.tzinfo is not None
    record = await store.events.get("ev-1")
    assert record is not None
    assert record.state == "received"
    assert [r.event.event_id for r in await store.events.unfinished()] == ["ev-1"]


async def test_deliveries_are_upserted_and_settlement_marks_final(store: Store) -> None:
    await store.events.create(EVENT, START)
    now = START + timedelta(hours=1)
    rows = [delivery(0), delivery(15, measured_kw=None)]
    await store.events.record_progress("ev-1", 0, [], [], rows, now)
    await store.events.record_progress("ev-1", 0, [], [], [delivery(15, measured_kw=340.0)], now)
    stored = await store.events.deliveries("ev-1")
    assert [(r.interval_start, r.measured_kw) for r in stored] == [
        (START, 350.0),
        (START + timedelta(minutes=15), 340.0),
    ]
    await store.events.save_settlement("ev-1", {"acme": {"payment_cny": 12.5}}, now)
    assert await store.events.settlements(enterprise_id="acme") == [
        ("ev-1", "acme", {"payment_cny": 12.5})
    ]
    assert await store.events.unfinished() == []


async def test_enterprise_page_lists_only_events_it_took_part_in(store: Store) -> None:
    await store.enterprises.save(
        [Enterprise.model_validate(enterprise(e, [battery()])) for e in ("acme", "other")], START
    )
    await store.events.create(EVENT, START)
    await store.events.create(EVENT.model_copy(update={"event_id": "ev-2"}), START)
    await store.events.record_progress("ev-1", 0, [], [], [delivery(0)], START)
    mine, total = await store.events.page(0, 10, enterprise_id="acme")
    assert (total, [r.event.event_id for r in mine]) == (1, ["ev-1"])
    assert (await store.events.page(0, 10, enterprise_id="other"))[1] == 0
    assert (await store.events.page(0, 10))[1] == 2
