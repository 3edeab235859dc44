"""The evaluator: each completed interval is judged once, after its telemetry is in; an
under-delivering resource is dropped, a short portfolio asks for the gap or a refill."""

from __future__ import annotations

from datetime import timedelta

from controller_fakes import BESS, FIRST, LINE, metered, planned_run, schedule
from hypothesis import given, settings
from hypothesis import strategies as st

from vpp.controller import ControllerSettings, EventRun
from vpp.controller.evaluator import Evaluator, commanded_before
from vpp.controller.monitor import Monitor

from builders import at

SECOND = at(11.25)  # the second event interval (45), the first a resource is judged in
JUDGED = at(11.5) + timedelta(seconds=60)  # both first intervals over, telemetry in


def judged(line_kw: float, battery_kw: float = -100.0) -> tuple[Evaluator, EventRun]:
    """The first two event intervals metered: the line at 800 kW then ``line_kw``, the
    battery at ``battery_kw`` throughout."""
    monitor = Monitor(15)
    metered(monitor, LINE, at(11), 800.0)
    metered(monitor, LINE, SECOND, line_kw)
    metered(monitor, BESS, at(11), battery_kw)
    metered(monitor, BESS, SECOND, battery_kw)
    return Evaluator(ControllerSettings(), monitor), planned_run()


def test_delivery_as_planned_asks_for_nothing() -> None:
    evaluator, run = judged(line_kw=800.0)
    verdict = evaluator.evaluate(run, JUDGED)
    assert (verdict.reasons, verdict.faults, verdict.bias_kw) == ([], [], None)
    assert run.evaluated == {FIRST, FIRST + 1}
    assert evaluator.delivered_kw(run, FIRST + 1) == 300.0


def test_an_interval_is_judged_only_once_its_last_telemetry_is_in() -> None:
    evaluator, run = judged(line_kw=1000.0)
    evaluator.evaluate(run, at(11.25) + timedelta(seconds=59))
    assert run.evaluated == set()
    evaluator.evaluate(run, at(11.25) + timedelta(seconds=60))
    assert run.evaluated == {FIRST}


def test_an_interval_is_judged_once() -> None:
    evaluator, run = judged(line_kw=950.0)
    assert evaluator.evaluate(run, JUDGED).faults
    assert evaluator.evaluate(run, JUDGED + timedelta(minutes=1)).faults == []


def test_a_resource_under_half_its_plan_is_dropped_and_the_rest_refilled() -> None:
    evaluator, run = judged(line_kw=950.0)
    verdict = evaluator.evaluate(run, JUDGED)
    assert verdict.reasons == [f"{LINE}: delivered 50 of 200 kW"]
    [fault] = verdict.faults
    assert (fault.key, fault.at, fault.event_id) == (LINE, JUDGED, "ev")
    assert run.dropped == {LINE: fault}
    assert verdict.bias_kw == 0.0  # the battery alone is short of 300 kW: refill


def test_a_short_portfolio_with_nobody_under_half_asks_for_the_gap() -> None:
    evaluator, run = judged(line_kw=850.0)  # 150 of 200 kW: short, not dropped
    verdict = evaluator.evaluate(run, JUDGED)
    assert verdict.faults == []
    assert run.dropped == {}
    assert verdict.bias_kw == 50.0


def test_a_resource_is_not_judged_in_the_interval_it_ramps_in() -> None:
    monitor = Monitor(15)
    metered(monitor, LINE, at(11), 1000.0)  # nothing shed yet in the first interval
    metered(monitor, BESS, at(11), -100.0)
    run = planned_run()
    verdict = Evaluator(ControllerSettings(), monitor).evaluate(
        run, at(11.25) + timedelta(seconds=60)
    )
    assert run.evaluated == {FIRST}
    assert run.dropped == {}
    assert verdict.faults == []
    assert not commanded_before(run, LINE, FIRST)
    assert commanded_before(run, LINE, FIRST + 1)


def test_a_stuck_meter_or_none_delivers_nothing() -> None:
    monitor = Monitor(15)
    metered(monitor, LINE, at(11), 800.0, jitter_kw=0.0)  # 15 identical readings: stuck
    evaluator, run = Evaluator(ControllerSettings(), monitor), planned_run()
    assert evaluator.measured_response(run, LINE, FIRST) is None
    assert evaluator.measured_response(run, BESS, FIRST) is None  # no telemetry at all
    assert evaluator.delivered_kw(run, FIRST) == 0.0


@settings(max_examples=40, deadline=None)
@given(
    line_kw=st.floats(min_value=0.0, max_value=800.0),
    battery_kw=st.floats(min_value=-500.0, max_value=-100.0),
)
def test_a_portfolio_meeting_its_plan_is_never_cut_or_topped_up(
    line_kw: float, battery_kw: float
) -> None:
    evaluator, run = judged(line_kw=line_kw, battery_kw=battery_kw)
    verdict = evaluator.evaluate(run, JUDGED)
    assert verdict.faults == []
    assert verdict.bias_kw is None


def test_a_battery_commanded_every_other_interval_is_still_judged() -> None:
    """A battery ramps in seconds: a plan that commands it in alternate intervals must not
    let one whose meter shows nothing escape (a frozen meter at 0 kW was kept to 13:00 on
    the demo day, its plan alternating 250 kW and nothing)."""
    monitor = Monitor(15)
    for start in (at(11), SECOND):
        metered(monitor, LINE, start, 800.0)
        metered(monitor, BESS, start, 0.0, jitter_kw=0.0)  # an idle reading, never stuck
    run = planned_run(
        schedules=[
            schedule(LINE, {t: 800.0 for t in range(FIRST, FIRST + 4)}, 1000.0),
            schedule(BESS, {FIRST: -250.0, FIRST + 2: -250.0}, 0.0),
        ]
    )
    assert commanded_before(run, BESS, FIRST)
    assert not commanded_before(run, BESS, FIRST + 1)  # nothing asked there
    verdict = Evaluator(ControllerSettings(), monitor).evaluate(run, JUDGED)
    assert BESS in run.dropped
    assert any(BESS in reason for reason in verdict.reasons)
