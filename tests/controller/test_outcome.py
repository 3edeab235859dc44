"""The measured outcome of an event: a participant counts from its first ask on."""

from __future__ import annotations

import pytest
from controller_fakes import (
    BESS,
    FIRST,
    LINE,
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
