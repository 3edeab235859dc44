"""Tests for vpp.settlement.totals: an enterprise's lines summed across events."""

from __future__ import annotations

import pytest
from tests.settlement.test_compute import delivery

from vpp.settlement import enterprise_totals, settle_event, stored_line


def test_enterprise_totals_sum_asked_events_and_keep_unasked_apart():
    """Event 1: 100 of 100 kWh at 1.2 (120 CNY). Event 2, Sichuan: 80 of 100 kWh at 1.5
    (15 CNY owed). Event 3: asked nothing, 40 kWh of response: unasked, adds no money."""
    lines = [
        settle_event("ev1", [delivery(price=1.2)], 1.0).for_enterprise("acme"),
        settle_event(
            "ev2", [delivery(response_kw=(80.0,), price=1.5)], 1.0, "sichuan"
        ).for_enterprise("acme"),
        settle_event("ev3", [delivery(asked_kw=(0.0,), response_kw=(40.0,))], 1.0).for_enterprise(
            "acme"
        ),
    ]
    totals = enterprise_totals("acme", lines)
    assert (totals.events, totals.unasked_events, totals.effective_events) == (2, 1, 1)
    assert totals.asked_kwh == pytest.approx(200.0)
    assert totals.delivered_kwh == pytest.approx(180.0)
    assert totals.unasked_kwh == pytest.approx(40.0)
    assert totals.payment_cny == pytest.approx(120.0)
    assert totals.penalty_cny == pytest.approx(15.0)
    assert totals.net_cny == pytest.approx(105.0)
    assert totals.performance_ratio == pytest.approx(0.9)


def test_enterprise_totals_of_no_lines_are_zero_without_a_ratio():
    totals = enterprise_totals("acme", [])
    assert (totals.events, totals.net_cny, totals.performance_ratio) == (0, 0.0, None)


def test_enterprise_totals_refuse_a_line_of_another_enterprise():
    line = settle_event("ev1", [delivery(enterprise_id="beta")], 1.0).for_enterprise("beta")
    with pytest.raises(ValueError, match="enterprise_id: a line of 'beta'"):
        enterprise_totals("acme", [line])


def test_stored_line_reads_back_a_dumped_line_with_its_computed_fields():
    line = settle_event("ev1", [delivery()], 1.0).for_enterprise("acme")
    assert stored_line(line.model_dump(mode="json")) == line
