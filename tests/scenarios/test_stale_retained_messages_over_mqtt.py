"""A broker that holds retained messages from earlier runs does not hurry the simulation.

Every subscription brings them again, and they match no publish of this run: counted as
arrivals, they would hide as many messages still on their way, the clock would outrun the
acks and the controller would drop healthy devices for "no ack".
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from mosquitto_broker import MosquittoBroker
from scenarios.harness import SCENE_START, Scene, short_event
from vpp.controller import EventState
from vpp.device_adapters.mqtt import MqttLink

pytestmark = pytest.mark.broker

#: Statuses an earlier run left retained: more than a small scene ever has in flight.
STALE_SITES = 60


async def _leave_retained_statuses(url: str) -> None:
    link = MqttLink(url, "earlier-run")
    await link.start(())
    try:
        for n in range(STALE_SITES):
            payload = {"state": "offline", "ts": SCENE_START.isoformat()}
            topic = f"vpp/v1/earlier-site-{n}/status"
            assert await link.publish(topic, json.dumps(payload).encode(), retain=True)
    finally:
        await link.close()


async def test_retained_messages_of_an_earlier_run_hide_no_ack(mosquitto: MosquittoBroker) -> None:
    await _leave_retained_statuses(mosquitto.url)
    event = short_event(target_kw=600.0)
    async with Scene(mqtt_url=mosquitto.url) as scene:
        run = scene.submit(event)
        await scene.run_until(event.end + timedelta(minutes=15))
        await scene.controller.wait(event.event_id)

    assert run.lifecycle.state is EventState.COMPLETED
    assert not scene.controller.faults, scene.controller.faults
    assert not run.replans
    assert scene.traffic.unmatched >= STALE_SITES
