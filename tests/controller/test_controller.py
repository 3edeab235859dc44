"""The controller as a whole over an in-memory adapter on a simulated clock: each event's
lifecycle runs as a named task of :meth:`Controller.run`, a failing event ends alone, and
what arrives from the field is routed (refused when it cannot be true)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
from controller_fakes import BESS, LINE, FakeAdapter, reading, small_district, the_event

from vpp.controller import Controller, ControllerSettings, EventState, SimulatedClock
from vpp.device_adapters import AckReceived, StatusReceived
from vpp.domain import (
    Ack,
    AckStatus,
    DemandResponseEvent,
    GatewayState,
    GatewayStatus,
    SetpointMode,
    VppError,
)
from vpp.optimizer import DispatchSettings

from builders import at

SETTINGS = ControllerSettings(dispatch=DispatchSettings().deterministic())
BASELINE_KW = {LINE: 1000.0, BESS: 0.0, "other-site/press": 1000.0}


class FailingExecutor(ThreadPoolExecutor):
    """Runs the controller's blocking work; its first job fails (a broken solver)."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.failures_left = 1

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if self.failures_left:
            self.failures_left -= 1
            raise RuntimeError("solver broke")
        return super().submit(fn, *args, **kwargs)


class Field:
    """The district's devices as the controller sees them: each follows its lease in force,
    reports every minute and accepts every setpoint."""

    def __init__(self, adapter: FakeAdapter, clock: SimulatedClock) -> None:
        self.adapter = adapter
        self.clock = clock
        self.ticks = 0

    def report(self) -> None:
        now = self.clock.now()
        self.adapter.acked |= {s.command_id for s in self.adapter.sent}
        leases = {f"{s.site_id}/{s.resource_id}": s for s in self.adapter.in_force(now)}
        self.ticks += 1
        for key, baseline_kw in BASELINE_KW.items():
            lease = leases.get(key)
            power_kw = baseline_kw
            if lease and lease.mode is not SetpointMode.RELEASE and lease.valid_from <= now:
                power_kw = lease.power_kw
            jitter = 0.5 * (-1) ** self.ticks  # a live meter never repeats itself
            soc = 0.9 if key == BESS else None
            self.adapter.deliver(reading(key, now, power_kw + jitter, soc=soc))


async def settled(controller: Controller) -> None:
    """Until no solve runs and no event's task has work in hand."""
    while controller.busy or controller.awake:
        await asyncio.sleep(0.001)


async def run_until(controller: Controller, field: Field, end: datetime) -> None:
    """Minute by minute: the field reports, the controller acts, then the clock moves."""
    clock = field.clock
    while clock.now() < end:
        field.report()
        await settled(controller)
        clock.advance_to(clock.now() + timedelta(minutes=1))
    await settled(controller)


def controller(executor: ThreadPoolExecutor | None = None) -> tuple[Controller, Field]:
    clock = SimulatedClock(at(10))
    adapter = FakeAdapter()
    ctl = Controller(small_district(), adapter, clock, SETTINGS, executor=executor)
    return ctl, Field(adapter, clock)


async def test_an_event_runs_its_lifecycle_as_a_named_task_and_releases_at_the_end() -> None:
    ctl, field = controller()
    await ctl.start()
    try:
        run = ctl.submit(the_event(300.0))
        assert ctl._tasks["ev"].get_name() == "vpp.controller.event.ev"
        await run_until(ctl, field, at(12.1))
        assert (await ctl.wait("ev")) is run
    finally:
        await ctl.stop()
    states = [change.state for change in run.lifecycle.history]
    assert states == [
        EventState.RECEIVED,
        EventState.SCHEDULED,
        EventState.NOTIFIED,
        EventState.ACTIVE,
        EventState.COMPLETED,
    ]
    assert ctl.faults == []
    assert run.replans == []
    for key in run.participants():
        assert field.adapter.commands(key)[-1].mode is SetpointMode.RELEASE
    assert field.adapter.closed


async def test_a_rejected_setpoint_drops_the_resource_and_replans() -> None:
    ctl, field = controller()
    await ctl.start()
    try:
        run = ctl.submit(the_event(300.0))
        await run_until(ctl, field, at(10.99))
        first = field.adapter.sent[0]
        key = f"{first.site_id}/{first.resource_id}"
        ack = Ack(command_id=first.command_id, status=AckStatus.REJECTED, reason="local override")
        field.adapter.deliver(AckReceived(first.site_id, first.resource_id, ack, first))
        await run_until(ctl, field, at(11.1))
    finally:
        await ctl.stop()
    [fault] = ctl.faults
    assert (fault.key, fault.reason) == (key, "setpoint rejected: local override")
    assert run.replans
    assert run.replans[0].dropped == (key,)


async def test_a_failing_event_ends_alone_and_wait_raises_its_error() -> None:
    ctl, field = controller(FailingExecutor())
    await ctl.start()
    try:
        broken = ctl.submit(the_event(300.0))
        await settled(ctl)
        healthy = ctl.submit(the_event(200.0).model_copy(update={"event_id": "ev2"}))
        with pytest.raises(RuntimeError, match="solver broke"):
            await ctl.wait("ev")
        await run_until(ctl, field, at(12.1))
        assert (await ctl.wait("ev2")).lifecycle.state is EventState.COMPLETED
    finally:
        await ctl.stop()
    assert broken.lifecycle.history[-1].note.startswith("controller error")
    assert healthy.lifecycle.state is EventState.COMPLETED


async def test_an_event_submitted_before_start_runs_once_started_and_cancels() -> None:
    ctl, field = controller()
    run = ctl.submit(the_event(300.0))
    assert ctl.awake  # waiting for run() to begin
    await ctl.start()
    try:
        await run_until(ctl, field, at(10.1))
        assert run.lifecycle.state is EventState.SCHEDULED
        ctl.cancel("ev", "called off")
        assert (await ctl.wait("ev")).lifecycle.state is EventState.CANCELLED
    finally:
        await ctl.stop(release=False)
    assert run.lifecycle.history[-1].note.startswith("called off")
    with pytest.raises(VppError):
        ctl.modify("ev", target_kw=100.0)


async def test_stop_ends_run_and_cancels_the_events_in_flight() -> None:
    ctl, field = controller()
    await ctl.start()
    ctl.submit(the_event(300.0))
    await run_until(ctl, field, at(10.1))
    await ctl.stop()
    with pytest.raises(asyncio.CancelledError):
        await ctl.wait("ev")
    assert ctl._runner is not None
    assert ctl._runner.done()


async def test_readings_that_cannot_be_true_are_refused_and_counted_never_ingested() -> None:
    ctl, field = controller()
    await ctl.start()
    try:
        now = field.clock.now()
        field.adapter.deliver(reading(LINE, now.replace(year=2999), 800.0))
        field.adapter.deliver(reading(LINE, now, -1e8))
        field.adapter.deliver(reading("elsewhere/line", now, 800.0))
        field.adapter.deliver(reading(LINE, now, 990.0))
    finally:
        await ctl.stop()
    assert ctl.gate.refused_total == 3
    assert ctl.monitor.samples == 1
    assert ctl.monitor.last_seen(LINE) == now


async def test_a_gateway_status_reaches_the_health_watch() -> None:
    ctl, field = controller()
    await ctl.start()
    try:
        now = field.clock.now()
        status = GatewayStatus(state=GatewayState.OFFLINE, ts=now)
        field.adapter.deliver(StatusReceived("acme-site", status))
    finally:
        await ctl.stop()
    assert ctl.site_online == {"acme-site": False}


async def test_an_event_is_submitted_once() -> None:
    ctl, _ = controller()
    event: DemandResponseEvent = the_event()
    ctl.submit(event)
    with pytest.raises(VppError, match="already submitted"):
        ctl.submit(event)
