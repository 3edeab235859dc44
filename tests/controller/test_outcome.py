"""The measured outcome of an event: a participant counts from its first ask on."""

from __future__ import annotations

import pytest
from controller_fakes import (
    BESS,
    FIRST,
    GRID,
    LINE,
    OTHER,
    metered,
    planned_run,
    schedule,
    small_district,
)

from vpp.controller import event_outcome
from vpp.controller.evaluator import Evaluator
from vpp.controller.monitor import Monitor
from vpp.controller.settings import ControllerSettings
from vpp.settlement import counted_from

from builders import at


def test_counted_from_is_the_first_interval_asked_something() -> None:
    assert counted_from([0.0, 0.0, 200.0, 0.0]) == 2
    assert counted_from([0.0, 1e-9, 0.0]) == 0  # asked nothing: its whole window counts
    assert counted_from([]) == 0


def test_a_participant_asked_from_the_third_interval_counts_from_there() -> None:
    """Its own load before its first ask (cars that came early, 300 kW above the baseline)
    is not under-delivery; from the ask on everything counts, its release included."""
    monitor = Monitor(15)
    line_kw = [1300.0, 1000.0, 800.0, 1100.0]  # noise, normal, asked 200 kW, released early
    for i, kw in enumerate(line_kw):
        metered(monitor, LINE, at(11 + 0.25 * i), kw)
        metered(monitor, BESS, at(11 + 0.25 * i), -100.0)
    run = planned_run(
        schedules=[
            schedule(LINE, {FIRST + 2: 800.0}, 1000.0),
            schedule(BESS, {t: -100.0 for t in range(FIRST, FIRST + 4)}, 0.0),
        ]
    )
    outcome = event_outcome(run, monitor, small_district(), "default")
    delivered = [i.delivered_kw for i in outcome.intervals]
    assert delivered == pytest.approx([100.0, 100.0, 300.0, 0.0], abs=1.0)
    evaluator = Evaluator(ControllerSettings(), monitor)
    assert [evaluator.delivered_kw(run, t) for t in range(FIRST, FIRST + 4)] == pytest.approx(
        delivered, abs=1.0
    )


def test_a_hold_past_the_window_is_settled_as_asked_but_not_counted_in_the_delivery() -> None:
    """The line is held at 800 kW for two intervals past the 11:00-12:00 window (the plan's
    staggered release) and acme's battery discharges 100 kW in those two only (under the
    others' rebound): acme is asked and paid for all of it, 200 x 6 + 100 x 2 kW-quarters =
    350 kWh, where the window alone paid 200 kWh. The event's delivery stays the window's,
    with the battery, asked nothing in it, not a participant."""
    monitor = Monitor(15)
    hold = range(FIRST, FIRST + 6)
    for t in hold:
        metered(monitor, LINE, GRID.starts[t], 800.0)
        metered(monitor, BESS, GRID.starts[t], -100.0 if t >= FIRST + 4 else 0.0)
        metered(monitor, OTHER, GRID.starts[t], 800.0 if t < FIRST + 4 else 1000.0)
    run = planned_run(
        schedules=[
            schedule(LINE, {t: 800.0 for t in hold}, 1000.0),
            schedule(BESS, {FIRST + 4: -100.0, FIRST + 5: -100.0}, 0.0),
            schedule(OTHER, {t: 800.0 for t in range(FIRST, FIRST + 4)}, 1000.0),
        ]
    )
    outcome = event_outcome(run, monitor, small_district(), "default")
    assert [i.delivered_kw for i in outcome.intervals] == pytest.approx([400.0] * 4, abs=1.0)
    assert [i.planned_kw for i in outcome.intervals] == pytest.approx([400.0] * 4)
    settlement = outcome.settlement
    assert settlement.n_intervals == 6
    acme = settlement.for_enterprise("acme")
    assert (acme.asked_kwh, acme.delivered_kwh) == (
        pytest.approx(350.0),
        pytest.approx(350.0, abs=0.5),
    )
    assert acme.asked_intervals == 6
    assert acme.payment_cny == pytest.approx(300.0 * 1.0 + 50.0 * 0.5, abs=0.5)
    other = settlement.for_enterprise("other")
    assert (other.asked_kwh, other.asked_intervals) == (pytest.approx(200.0), 4)
    assert other.unasked_kwh == pytest.approx(0.0, abs=0.5)
