"""An event runs end to end over a real Mosquitto and meets its target in every interval."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mosquitto_broker import MosquittoBroker
from scenarios.harness import Scene, short_event
from vpp.controller import EventState, event_outcome

pytestmark = pytest.mark.broker


async def test_event_over_mqtt_meets_target_in_every_interval(mosquitto: MosquittoBroker) -> None:
    """Setpoints, acks and telemetry all cross the broker; measured delivery meets the target."""
    event = short_event(target_kw=600.0)
    async with Scene(mqtt_url=mosquitto.url) as scene:
        run = scene.submit(event)
        await scene.run_until(event.end + timedelta(minutes=15))
        await scene.controller.wait(event.event_id)
        outcome = event_outcome(run, scene.controller.monitor, scene.district, "default")

    assert run.lifecycle.state is EventState.COMPLETED
    assert [c.state for c in run.lifecycle.history] == [
        EventState.RECEIVED,
        EventState.SCHEDULED,
        EventState.NOTIFIED,
        EventState.ACTIVE,
        EventState.COMPLETED,
    ]
    assert len(outcome.intervals) == 3
    for interval in outcome.intervals:
        assert interval.delivered_kw >= interval.target_kw, interval
        assert interval.missing_meters == 0
    assert len(run.kept()) >= 2, "the target takes more than one resource"
    assert not run.dropped
    assert not run.replans
    assert not scene.controller.faults
    acks = [g.stats.acks for g in scene.gateways.values()]
    assert all(set(a) <= {"accepted"} for a in acks), acks
    assert scene.adapter.stats.malformed == {}
    assert scene.settle_timeouts == 0
