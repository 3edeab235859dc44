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
