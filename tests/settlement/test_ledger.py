"""Tests for vpp.settlement.ledger: an event's statement as rotation-ledger entries."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from tests.settlement.test_compute import delivery

from vpp.settlement import rotation_entries, settle_event

START = datetime(2026, 7, 15, 11, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_rotation_entries_call_the_asked_and_no_one_else():
    """acme asked and paid; idle asked nothing (unasked line); absent not in the event."""
    records = [delivery(price=1.2), delivery("pv", "idle", asked_kw=(0.0,), response_kw=(40.0,))]
    settlement = settle_event("ev1", records, 1.0)
    entries = {
        e.enterprise_id: e for e in rotation_entries(settlement, START, ["acme", "idle", "absent"])
    }
    assert entries["acme"].called
    assert (entries["acme"].asked_kwh, entries["acme"].net_cny) == (
        pytest.approx(100.0),
        pytest.approx(120.0),
    )
    assert not entries["idle"].called
    assert not entries["absent"].called
    assert {e.start for e in entries.values()} == {START}
    assert {e.event_id for e in entries.values()} == {"ev1"}


def test_rotation_entries_do_not_call_one_asked_only_past_the_window():
    """store's battery was asked only in the hour after the 1-hour window (absorbing the
    others' rebound): paid for it, not called; acme, held into that hour, was called."""
    records = [
        delivery(asked_kw=(100.0, 100.0)),
        delivery("bess", "store", asked_kw=(0.0, 50.0), price=0.5),
    ]
    settlement = settle_event("ev1", records, 1.0, window_intervals=1)
    entries = {e.enterprise_id: e for e in rotation_entries(settlement, START, ["acme", "store"])}
    assert entries["acme"].called
    assert not entries["store"].called
    assert entries["store"].net_cny == pytest.approx(25.0)
    assert settlement.for_enterprise("store").asked_after_window_intervals == 1
