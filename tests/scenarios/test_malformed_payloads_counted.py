"""Malformed messages on every channel mid-event: counted and dropped, never fatal."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from mosquitto_broker import MosquittoBroker
from scenarios.harness import STEEL_SITE, Scene, short_event
from vpp.controller import EventState, event_outcome
from vpp.device_adapters.mqtt import Channel, Topic
from vpp.domain import MAX_PAYLOAD_BYTES

pytestmark = pytest.mark.broker

TS = "2026-07-15T11:05:00+08:00"

#: A well-formed payload of each channel, which the bad ones below are made from.
VALID: dict[Channel, dict[str, Any]] = {
    Channel.TELEMETRY: {"ts": TS, "power_kw": 1000.0, "available": True},
    Channel.ACK: {"command_id": "c-1", "status": "accepted"},
    Channel.STATUS: {"state": "online", "ts": TS},
    Channel.SETPOINT: {
        "command_id": "c-1",
        "issued_at": TS,
        "mode": "power",
        "power_kw": -500.0,
        "valid_from": TS,
        "valid_until": "2026-07-15T11:45:00+08:00",
    },
}

#: Each channel's payload with a field of the wrong type.
WRONG_TYPES: dict[Channel, dict[str, Any]] = {
    Channel.TELEMETRY: {**VALID[Channel.TELEMETRY], "power_kw": "a lot"},
    Channel.ACK: {**VALID[Channel.ACK], "command_id": ["c-1"]},
    Channel.STATUS: {**VALID[Channel.STATUS], "state": 1},
    Channel.SETPOINT: {**VALID[Channel.SETPOINT], "valid_until": "tomorrow"},
}


def bad_payloads(channel: Channel) -> dict[str, tuple[bytes, str]]:
    """Malformed payloads for a channel by name, each with the reason it is counted under."""
    valid = VALID[channel]
    oversized = json.dumps({**valid, "padding": "x" * MAX_PAYLOAD_BYTES}).encode()
    return {
        "garbage": (b"{power_kw: 12", "not_json"),
        "oversized": (oversized, "oversized"),
        "non_utf8": (b'{"power_kw": "\xff\xfe"}', "not_json"),
        "wrong_types": (json.dumps(WRONG_TYPES[channel]).encode(), "invalid"),
        "unknown_field": (json.dumps({**valid, "voltage_v": 400}).encode(), "invalid"),
    }


TOPICS = {
    Channel.TELEMETRY: Topic(STEEL_SITE, "bess", Channel.TELEMETRY),
    Channel.ACK: Topic(STEEL_SITE, "bess", Channel.ACK),
    Channel.STATUS: Topic(STEEL_SITE, None, Channel.STATUS),
    Channel.SETPOINT: Topic(STEEL_SITE, "bess", Channel.SETPOINT),
}


async def test_malformed_payloads_on_every_channel_are_counted_not_fatal(
    mosquitto: MosquittoBroker,
) -> None:
    """Garbage, oversized, non-UTF-8, wrongly typed and unknown-field payloads on telemetry,
    ack, status and setpoint topics: the controller and the gateway count each by its reason,
    none reaches the controller's monitor, and the event completes on target."""
    event = short_event(target_kw=600.0)
    expected_controller: Counter[str] = Counter()
    expected_gateway: Counter[str] = Counter()
    async with Scene(mqtt_url=mosquitto.url) as scene:
        run = scene.submit(event)
        await scene.run_until(event.start + timedelta(minutes=5))
        state_when_attacked = run.lifecycle.state

        intruder = scene.link("intruder")  # counted, so the pacing waits for every copy
        await intruder.start()
        for channel, topic in TOPICS.items():
            for payload, reason in bad_payloads(channel).values():
                assert await intruder.publish(str(topic), payload, qos=1)
                expected = expected_gateway if channel is Channel.SETPOINT else expected_controller
                expected[reason] += 1
        await scene.settle()
        await intruder.close()

        await scene.run_until(event.end + timedelta(minutes=15))
        await scene.controller.wait(event.event_id)
        outcome = event_outcome(run, scene.controller.monitor, scene.district, "default")

    assert state_when_attacked is EventState.ACTIVE
    assert scene.adapter.stats.malformed == dict(expected_controller)
    assert scene.adapter.stats.malformed == {"not_json": 6, "oversized": 3, "invalid": 6}
    assert scene.gateways[STEEL_SITE].stats.malformed == dict(expected_gateway)
    assert all(not g.stats.malformed for s, g in scene.gateways.items() if s != STEEL_SITE)
    telemetry_sent = sum(g.stats.telemetry_sent for g in scene.gateways.values())
    assert scene.adapter.stats.received["telemetry"] == telemetry_sent
    assert scene.controller.monitor.samples == telemetry_sent
    assert scene.adapter.stats.unknown_acks == 0
    assert scene.controller.site_online == {s: True for s in scene.gateways}
    assert run.lifecycle.state is EventState.COMPLETED
    assert not run.dropped
    assert not scene.controller.faults
    assert outcome.met, outcome.intervals
    assert scene.settle_timeouts == 0
