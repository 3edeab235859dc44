"""The health watch: offline gateways, stuck meters, unanswered setpoints and stale
telemetry fail a resource, but silence counts only while our own link has been up."""

from __future__ import annotations

from datetime import datetime, timedelta

from controller_fakes import (
    BESS,
    LINE,
    OTHER,
    SITE,
    FakeAdapter,
    metered,
    parts,
    planned_run,
    reading,
)

from vpp.controller import ControllerSettings, EventRun
from vpp.controller.health import HealthWatch
from vpp.controller.monitor import STUCK_SAMPLES, Monitor
from vpp.device_adapters import TelemetryReceived
from vpp.domain import Setpoint, SetpointMode, Telemetry

from builders import at


class SpedUpClock:
    """A clock that runs by itself, ``scale`` times faster than the wall."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def now(self) -> datetime:
        raise NotImplementedError

    async def sleep_until(self, when: datetime) -> None:
        raise NotImplementedError

    def wall_seconds_between(self, start: datetime, end: datetime) -> float:
        return (end - start).total_seconds() / self.scale


def watch(
    settings: ControllerSettings | None = None,
) -> tuple[HealthWatch, FakeAdapter, Monitor, EventRun]:
    clock, adapter, roster, monitor = parts()
    health = HealthWatch(adapter, clock, settings or ControllerSettings(), monitor, roster)
    return health, adapter, monitor, sent_run()


def sent_run() -> EventRun:
    run = planned_run()
    run.sent = {(LINE, 44): 800.0, (BESS, 44): -100.0}
    return run


def fresh(monitor: Monitor, now: datetime) -> None:
    for key in (LINE, BESS):
        monitor.ingest(reading(key, now, 10.0 if key == LINE else -1.0, soc=0.5))


def test_silence_is_not_judged_until_the_link_has_been_up_the_staleness_window() -> None:
    health, _, _, run = watch()
    assert health.failures(run, at(11)) == {}  # the link just came up: everybody is silent
    assert health.failures(run, at(11) + timedelta(seconds=179)) == {}
    later = at(11) + timedelta(seconds=180)
    assert health.failures(run, later) == {LINE: "telemetry stale", BESS: "telemetry stale"}


def test_silence_is_not_judged_while_the_link_is_down() -> None:
    health, adapter, _, run = watch()
    health.failures(run, at(10))
    adapter.link_up = False
    assert health.failures(run, at(11)) == {}
    adapter.link_up = True
    assert health.failures(run, at(11.01)) == {}  # up again: the window starts over


def test_a_resource_not_yet_sent_anything_is_not_judged() -> None:
    health, _, _, run = watch()
    run.sent = {}
    health.failures(run, at(10))
    assert health.failures(run, at(11)) == {}


def test_a_gateway_offline_past_its_grace_fails_its_resources() -> None:
    health, _, monitor, run = watch()
    health.failures(run, at(10))
    health.note_status(SITE, online=False, now=at(11))
    fresh(monitor, at(11))
    assert health.failures(run, at(11) + timedelta(seconds=60)) == {}
    failures = health.failures(run, at(11) + timedelta(seconds=61))
    assert failures == {LINE: "gateway offline", BESS: "gateway offline"}
    assert health.site_online == {SITE: False}


def test_a_reading_stamped_after_an_offline_status_overrules_it() -> None:
    health, _, monitor, run = watch()
    health.note_status(SITE, online=False, now=at(11))
    health.heard_from(SITE, at(11) - timedelta(seconds=1))  # older: no word on it
    assert health.site_online == {SITE: False}
    health.heard_from(SITE, at(11) + timedelta(seconds=1))
    fresh(monitor, at(11.1))
    assert health.site_online == {SITE: True}
    assert health.failures(run, at(11.1)) == {}


def test_a_stuck_meter_fails_its_resource_at_once() -> None:
    health, _, monitor, run = watch()
    for i in range(STUCK_SAMPLES):
        monitor.ingest(reading(LINE, at(11) + timedelta(minutes=i), 812.5))
    assert health.failures(run, at(11.1)) == {LINE: "meter stuck"}


def test_a_setpoint_unanswered_past_the_ack_timeout_fails_its_resource() -> None:
    health, adapter, monitor, run = watch()
    lease = Setpoint(
        command_id="c1",
        site_id=SITE,
        resource_id="line",
        issued_at=at(11),
        mode=SetpointMode.LIMIT,
        power_kw=800.0,
        valid_from=at(11),
        valid_until=at(11.25),
    )
    adapter.sent.append(lease)
    run.command_ids.add("c1")
    health.failures(run, at(10))
    fresh(monitor, at(11) + timedelta(seconds=90))
    assert health.failures(run, at(11) + timedelta(seconds=89)) == {}
    assert health.failures(run, at(11) + timedelta(seconds=90)) == {LINE: "no ack within 90 s"}
    adapter.acked.add("c1")
    assert health.failures(run, at(11) + timedelta(seconds=91)) == {}


def test_on_a_sped_up_clock_silence_counts_only_after_the_wall_floor() -> None:
    _, adapter, roster, monitor = parts()
    clock = SpedUpClock(scale=600.0)  # 180 s of clock time is 0.3 s of wall time
    health = HealthWatch(adapter, clock, ControllerSettings(), monitor, roster)
    run = sent_run()
    health.failures(run, at(10))
    assert health.failures(run, at(11)) == {}  # 6 s of wall time: under the 10 s floor
    assert health.failures(run, at(12)) == {LINE: "telemetry stale", BESS: "telemetry stale"}


def test_refused_setpoints_the_acks_reported_come_first_and_once() -> None:
    health, _, monitor, run = watch()
    run.pending_faults[LINE] = "setpoint rejected: over limit"
    fresh(monitor, at(11))
    assert health.failures(run, at(11)) == {LINE: "setpoint rejected: over limit"}
    assert health.failures(run, at(11)) == {}


def test_a_candidate_must_be_online_fresh_and_available() -> None:
    health, _, monitor, _ = watch()
    assert not health.reachable(OTHER, at(11))  # never heard from
    metered(monitor, OTHER, at(10.75), 900.0)
    assert health.reachable(OTHER, at(11))
    assert not health.reachable(OTHER, at(11) + timedelta(seconds=181))  # stale by then
    health.note_status("other-site", online=False, now=at(11))
    assert not health.reachable(OTHER, at(11))  # offline, not even briefly


def test_an_unavailable_resource_is_no_candidate() -> None:
    health, _, monitor, _ = watch()
    site_id, resource_id = OTHER.split("/")
    sample = Telemetry(ts=at(11), power_kw=900.0, available=False)
    monitor.ingest(TelemetryReceived(site_id, resource_id, sample))
    assert not health.reachable(OTHER, at(11))
