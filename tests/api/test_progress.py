"""Settling from the store: what the service's settlement lines are made of."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from api_helpers import START, STORED_EVENT, delivery_row

from postgres_database import reset
from vpp.api.progress import settle
from vpp.domain import Enterprise
from vpp.store import Store, open_store

from builders import battery, enterprise


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind (as tests/store's)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'vpp.db'}"
    url: str = request.getfixturevalue("pg_database")
    reset(url)
    return url


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    async with open_store(db_url) as opened:
        yield opened


async def test_settle_counts_stored_refusals_and_lists_the_unasked(store: Store) -> None:
    """acme is asked 100 kW in the first two quarter-hours, then dropped (asked 0), and its
    meter had 2 + 1 readings refused; idle was asked nothing but shed 40 kW. acme is settled
    on 50 of 50 kWh with 3 refused readings and 20 kWh unasked; idle is an unasked line."""
    await store.events.create(STORED_EVENT, START)
    rows = [
        delivery_row(0, "acme", asked_kw=100.0, measured_kw=400.0, refused_samples=2),
        delivery_row(1, "acme", asked_kw=100.0, measured_kw=400.0, refused_samples=1),
        delivery_row(2, "acme", asked_kw=0.0, measured_kw=420.0),
        delivery_row(3, "acme", asked_kw=0.0, measured_kw=500.0),
        *(delivery_row(q, "idle", asked_kw=0.0, measured_kw=460.0) for q in range(4)),
    ]
    await store.events.record_progress("ev-1", 0, [], [], rows, START)
    await settle(store, STORED_EVENT, 15, "default", START + timedelta(hours=2))
    lines = {e: data for _, e, data in await store.events.settlements(event_id="ev-1")}
    acme, idle = lines["acme"], lines["idle"]
    assert acme["refused_samples"] == 3
    assert (acme["asked_kwh"], acme["delivered_kwh"]) == (pytest.approx(50.0), pytest.approx(50.0))
    assert acme["unasked_kwh"] == pytest.approx(20.0)
    assert acme["payment_cny"] == pytest.approx(50.0)
    assert idle["unasked_response"] is True
    assert (idle["payment_cny"], idle["penalty_cny"]) == (0.0, 0.0)
    assert idle["unasked_kwh"] == pytest.approx(40.0)


async def test_settle_pays_a_hold_past_the_window_from_its_stored_rows(store: Store) -> None:
    """acme's load is held 100 kW below its baseline for two quarter-hours past the 60-min
    window (a staggered release): the rows past the window are settled with the window's,
    150 of 150 kWh; idle, asked nothing in them, keeps its window's line."""
    await store.events.create(STORED_EVENT, START)
    rows = [
        *(delivery_row(q, "acme", asked_kw=100.0, measured_kw=400.0) for q in range(6)),
        *(delivery_row(q, "idle", asked_kw=0.0, measured_kw=500.0) for q in range(6)),
    ]
    await store.events.record_progress("ev-1", 0, [], [], rows, START)
    await settle(store, STORED_EVENT, 15, "default", START + timedelta(hours=2))
    lines = {e: data for _, e, data in await store.events.settlements(event_id="ev-1")}
    acme = lines["acme"]
    assert (acme["asked_kwh"], acme["delivered_kwh"]) == (
        pytest.approx(150.0),
        pytest.approx(150.0),
    )
    assert acme["asked_intervals"] == 6
    assert acme["payment_cny"] == pytest.approx(150.0)
    assert lines["idle"]["unasked_response"] is True


async def test_settle_records_every_registered_enterprise_in_the_rotation_ledger(
    store: Store,
) -> None:
    """acme was asked, idle was not, absent is registered but took no part."""
    await store.enterprises.save(
        [Enterprise.model_validate(enterprise(e, [battery()])) for e in ("acme", "absent", "idle")],
        START,
    )
    await store.events.create(STORED_EVENT, START)
    rows = [
        delivery_row(0, "acme", asked_kw=100.0, measured_kw=400.0),
        delivery_row(0, "idle", asked_kw=0.0, measured_kw=450.0),
    ]
    await store.events.record_progress("ev-1", 0, [], [], rows, START)
    await settle(store, STORED_EVENT, 15, "default", START + timedelta(hours=2))
    ledger = await store.rotation.ledger()
    called = {e.enterprise_id: e.called for e in ledger.entries}
    assert called == {"acme": True, "absent": False, "idle": False}
    assert {(e.event_id, e.start) for e in ledger.entries} == {("ev-1", START)}
