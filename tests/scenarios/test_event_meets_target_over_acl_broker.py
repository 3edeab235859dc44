"""A whole event over a Mosquitto that enforces the provisioned ACL: every client logs in
as itself, the event meets its target, and forgeries from outside change nothing."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest

from provisioned_broker import acl_broker, client_auth, find_mosquitto_pub, mosquitto_pub
from scenarios.harness import PAPER_SITE, STEEL_SITE, Scene, short_event
from vpp.controller import EventState, event_outcome
from vpp.device_adapters.mqtt import Channel, Topic

pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(find_mosquitto_pub() is None, reason="needs mosquitto-clients"),
]


async def test_event_over_acl_broker_meets_target_despite_forgeries(tmp_path: Path) -> None:
    event = short_event(target_kw=600.0)
    broker, accounts = acl_broker(tmp_path, [STEEL_SITE, PAPER_SITE])
    paper = accounts[f"gw-{PAPER_SITE}"]
    try:
        async with Scene(mqtt_url=broker.url, auth=client_auth(accounts)) as scene:
            run = scene.submit(event)
            await scene.run_until(event.start + timedelta(minutes=20))
            forged = json.dumps(
                {"ts": scene.now.isoformat(), "power_kw": -99999999.0, "available": True}
            )
            offline = json.dumps({"state": "offline", "ts": scene.now.isoformat()})
            attempts = [  # the paper mill's gateway, then nobody, speak for the steelworks
                (str(Topic(STEEL_SITE, "bess", Channel.TELEMETRY)), forged, paper),
                (str(Topic(STEEL_SITE, None, Channel.STATUS)), offline, paper),
                (str(Topic(STEEL_SITE, "mill", Channel.TELEMETRY)), forged, None),
            ]
            for topic, payload, account in attempts:
                done = await asyncio.to_thread(mosquitto_pub, broker.port, topic, payload, account)
                assert "Not authorized" in done.stdout + done.stderr, done
            await scene.run_until(event.end + timedelta(minutes=15))
            await scene.controller.wait(event.event_id)
            outcome = event_outcome(run, scene.controller.monitor, scene.district, "default")
            assert scene.adapter.stats.malformed == {}
            assert scene.adapter.stats.reconnects == 0
    finally:
        broker.stop()

    assert run.lifecycle.state is EventState.COMPLETED
    assert len(outcome.intervals) == 3
    for interval in outcome.intervals:
        assert interval.target_kw <= interval.delivered_kw < 2 * interval.target_kw, interval
        assert interval.missing_meters == 0
    assert not run.dropped, "a forged offline status would have dropped the steelworks"
    assert not scene.controller.faults
    assert scene.settle_timeouts == 0
