"""Well-formed but impossible messages on real sites' topics mid-event cannot forge delivery
or silence a meter: the plausibility gate refuses them, counts them and settlement says so.

These are the three messages of issue 10 that turned a demo day into missed events and a
1.56 GWh settlement line: a reading stamped 2999-12-31 (it locked the battery's meter), a
reading of -99,999,999 kW (it "delivered" millions of kW) and a stray ``offline``.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from mosquitto_broker import MosquittoBroker
from scenarios.harness import PAPER_SITE, STEEL_SITE, Scene, short_event
from vpp.controller import EventState, event_outcome
from vpp.device_adapters.mqtt import Channel, Topic
from vpp.settlement import resolve_rule

pytestmark = pytest.mark.broker

FAR_FUTURE = "2999-12-31T23:59:59+00:00"


async def test_hostile_readings_are_refused_and_the_event_settles_honestly(
    mosquitto: MosquittoBroker,
) -> None:
    """Mid-event, an intruder publishes on the steelworks' topics a battery reading stamped
    in 2999, a mill reading of -1e8 kW, a status ``offline`` stamped now and one stamped in
    2999. Both readings are refused (counted by reason, noted on the steel line of the
    settlement), the meters keep reporting, the stray ``offline`` is overruled by the next
    telemetry, no resource is dropped, every interval meets the target and the settlement
    stays within the effective band."""
    event = short_event(target_kw=600.0)
    async with Scene(mqtt_url=mosquitto.url) as scene:
        run = scene.submit(event)
        await scene.run_until(event.start + timedelta(minutes=5))
        assert run.lifecycle.state is EventState.ACTIVE
        now = scene.now.isoformat()
        hostile = [
            (
                Topic(STEEL_SITE, "bess", Channel.TELEMETRY),
                {"ts": FAR_FUTURE, "power_kw": -400.0, "soc": 0.6, "available": True},
            ),
            (
                Topic(STEEL_SITE, "mill", Channel.TELEMETRY),
                {"ts": now, "power_kw": -99999999, "available": True},
            ),
            (Topic(STEEL_SITE, None, Channel.STATUS), {"state": "offline", "ts": now}),
            (Topic(STEEL_SITE, None, Channel.STATUS), {"state": "offline", "ts": FAR_FUTURE}),
        ]
        intruder = scene.link("intruder")  # counted, so the pacing waits for every copy
        await intruder.start()
        for topic, payload in hostile:
            assert await intruder.publish(str(topic), json.dumps(payload).encode(), qos=1)
        await scene.settle()
        await intruder.close()
        stray_offline_seen = scene.controller.site_online.get(STEEL_SITE) is False
        bess_seen_at = scene.controller.monitor.last_seen(f"{STEEL_SITE}/bess")

        await scene.run_until(event.end + timedelta(minutes=15))
        await scene.controller.wait(event.event_id)
        outcome = event_outcome(run, scene.controller.monitor, scene.district, "default")

    gate = scene.controller.gate
    assert dict(gate.refused) == {
        "ahead_of_clock": 1,
        "power_outside_envelope": 1,
        "status_ahead_of_clock": 1,
    }
    assert stray_offline_seen, "the stray offline (stamped now) is a plausible status"
    assert scene.controller.site_online == {STEEL_SITE: True, PAPER_SITE: True}
    monitor = scene.controller.monitor
    assert bess_seen_at is not None
    assert bess_seen_at.year == 2026
    assert monitor.last_seen(f"{STEEL_SITE}/bess") == scene.now  # the meter was not locked
    telemetry_sent = sum(g.stats.telemetry_sent for g in scene.gateways.values())
    assert monitor.samples == telemetry_sent == gate.accepted

    assert run.lifecycle.state is EventState.COMPLETED
    assert not run.dropped
    assert not scene.controller.faults
    assert outcome.met, outcome.intervals
    assert max(i.delivered_kw for i in outcome.intervals) < 2 * event.target_kw

    settlement = outcome.settlement
    assert outcome.refused_samples == {f"{STEEL_SITE}/bess": 1, f"{STEEL_SITE}/mill": 1}
    steel = settlement.for_enterprise("steel")
    assert steel.refused_samples == 2
    assert all(line.refused_samples == 0 for line in settlement.enterprises if line is not steel)
    rule = resolve_rule("default")
    for line in settlement.enterprises:
        assert line.effective, line
        assert line.performance_ratio is not None
        assert rule.floor_ratio <= line.performance_ratio <= rule.cap_ratio, line
    assert scene.settle_timeouts == 0
