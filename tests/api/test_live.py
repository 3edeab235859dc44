"""The service's view of an event's rebound: this event's plans and the meters after its
window against the rebound cap (``vpp.api.live.rebound_view``)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from vpp.api.live import rebound_view
from vpp.api.progress import ReboundCache
from vpp.controller import EventRun
from vpp.controller.lifecycle import Lifecycle
from vpp.controller.monitor import Monitor
from vpp.device_adapters import TelemetryReceived
from vpp.domain import Telemetry
from vpp.optimizer import DispatchSettings, dispatch

from builders import at, battery, curtailable, district, enterprise, event, problem

END = 13  # the event runs 11:00-13:00; its rebound is planned from 13:00


def planned() -> EventRun:
    """A plant whose curtailment rebounds after the event and a battery to absorb it."""
    d = district(
        enterprise(
            "plant",
            [curtailable("line", [(400.0, 1.0)], rebound_fraction=0.5, rebound_duration_min=60)],
        ),
        enterprise("storage", [battery("bess", soc_initial=0.9, soc_final_min=0.1)]),
    )
    p = problem(d, event(target_kw=400.0, end_h=END))
    run = EventRun(p.event, Lifecycle(p.event.event_id, p.event.issued_at))
    result = dispatch(p, DispatchSettings(target_margin_pct=0.0).deterministic())
    run.problem, run.initial = p, result
    run.schedules = {s.key: s for s in result.schedules}
    return run


def meter(monitor: Monitor, key: str, hour: float, power_kw: float) -> None:
    """A reading a minute through the 15-min interval starting at ``hour``, averaging
    ``power_kw`` (0.5 kW either side of it, as a live meter reads: one that repeats itself
    is a stuck one)."""
    site_id, resource_id = key.split("/")
    for m in range(1, 16):
        ts = at(hour) + timedelta(minutes=m)
        reading = power_kw + (0.0 if m == 15 else 0.5 * (-1) ** m)
        monitor.ingest(TelemetryReceived(site_id, resource_id, Telemetry(ts=ts, power_kw=reading)))


def test_before_the_event_ends_the_view_has_the_plans_peak_and_no_measurement() -> None:
    run = planned()
    view = rebound_view(run, Monitor(15), at(12))
    assert view is not None
    assert view.cap_kw == pytest.approx(1000.0)  # the plant's flat 1,000 kW baseline
    assert view.planned_peak_kw <= 1000.0 + run.initial.max_rebound_excess_kw + 1e-3
    assert view.planned_peak_at >= at(END)
    assert view.measured_peak_kw is None
    assert view.measured_intervals == 0


def test_the_measured_peak_sums_the_meters_and_counts_a_silent_one_at_its_plan() -> None:
    run = planned()
    monitor = Monitor(15)
    line, bess = "plant-site/line", "storage-site/bess"
    planned_bess = run.schedules[bess].power_kw
    meter(monitor, line, END, 1400.0)  # the whole rebound at once: 400 kW above the cap
    meter(monitor, bess, END, 0.0)
    meter(monitor, line, END + 0.25, 1100.0)  # the battery silent here: counted at its plan
    view = rebound_view(run, monitor, at(END + 0.5))
    assert view is not None
    assert view.measured_intervals == 2  # 13:30 has not ended
    assert view.measured_peak_kw == pytest.approx(1400.0)
    assert view.measured_peak_at == at(END)
    assert view.intervals_above_cap == 1 + (1100.0 + planned_bess[53] > 1000.0)
    assert view.meters_from_plan_at_peak == 0
    later = rebound_view(run, monitor, at(END + 0.75))  # 13:30 ended, nobody reported
    assert later is not None
    assert later.measured_intervals == 3
    plan_1330 = sum(s.power_kw[54] for s in run.schedules.values())
    expected = max(1400.0, 1100.0 + planned_bess[53], plan_1330)
    assert later.measured_peak_kw == pytest.approx(expected)


def test_a_settled_interval_is_summed_once_and_a_recent_one_again() -> None:
    """The stream asks many times a second: an interval ended longer ago than the
    evaluation delay is kept and not summed again; a more recent one is summed each time."""
    run = planned()
    monitor = Monitor(15)
    meter(monitor, "plant-site/line", END, 1400.0)
    meter(monitor, "storage-site/bess", END, 0.0)
    cache = ReboundCache()
    known = cache.measured
    delay = timedelta(minutes=1)
    first = rebound_view(run, monitor, at(END + 0.25), delay, cache)
    assert first is not None
    assert first.measured_peak_kw == pytest.approx(1400.0)
    assert known == {}  # 13:00-13:15 ended just now: not settled yet
    rebound_view(run, monitor, at(END + 0.25) + delay, delay, cache)
    assert known == {52: (pytest.approx(1400.0), 0)}
    kept = ReboundCache(measured={52: (1234.0, 0)})  # what is kept is what is shown
    again = rebound_view(run, monitor, at(END + 0.25) + delay, delay, kept)
    assert again is not None
    assert again.measured_peak_kw == 1234.0


def test_the_planned_peak_counts_what_other_events_plans_add_after_the_window() -> None:
    """A later event charging before its own window lands in this one's span: the
    operator's planned figure is the portfolio's, not this event's plans alone."""
    run = planned()
    alone = rebound_view(run, Monitor(15), at(12))
    assert alone is not None
    later = EventRun(run.event.model_copy(update={"event_id": "later"}), run.lifecycle)
    later.problem = run.problem
    bess = run.schedules["storage-site/bess"]
    power = list(bess.baseline_kw)
    for t in range(56, 60):  # 14:00-15:00: +300 kW of charging above the baseline
        power[t] += 300.0
    later.schedules = {bess.key: bess.model_copy(update={"power_kw": tuple(power)})}
    both = rebound_view(run, Monitor(15), at(12), others=[run, later])
    assert both is not None
    own = {t: sum(s.power_kw[t] for s in run.schedules.values()) for t in range(52, 68)}
    expected = max(own[t] + (300.0 if 56 <= t < 60 else 0.0) for t in own)
    assert both.planned_peak_kw == pytest.approx(expected)
    assert both.planned_peak_kw > alone.planned_peak_kw


def test_the_plans_load_is_summed_again_only_when_a_schedule_is_replaced() -> None:
    """The stream asks many times a second: the plans' load is kept until a re-plan or a
    hand-over replaces a schedule, and then follows it."""
    run = planned()
    cache = ReboundCache()
    first = rebound_view(run, Monitor(15), at(12), cache=cache)
    assert first is not None
    kept = cache.planned_kw
    assert rebound_view(run, Monitor(15), at(12), cache=cache) == first
    assert cache.planned_kw is kept  # not summed again
    line = run.schedules["plant-site/line"]
    power = list(line.power_kw)
    power[60] += 5000.0  # a re-plan that puts 5 MW at 15:00
    run.schedules[line.key] = line.model_copy(update={"power_kw": tuple(power)})
    replanned = rebound_view(run, Monitor(15), at(12), cache=cache)
    assert replanned is not None
    assert replanned.planned_peak_kw == pytest.approx(first.planned_peak_kw + 5000.0, abs=500.0)
    assert replanned.planned_peak_at == at(15)
