"""A gateway drops off mid-event: its resources are dropped and another site's dispatched."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mosquitto_broker import MosquittoBroker
from scenarios.harness import PAPER_SITE, STEEL_SITE, Scene, short_event
from vpp.controller import EventState, event_outcome

pytestmark = pytest.mark.broker

STEEL = {f"{STEEL_SITE}/bess", f"{STEEL_SITE}/mill"}
PRESS = f"{PAPER_SITE}/press"


async def test_gateway_offline_mid_event_drops_its_resources_and_redispatches(
    mosquitto: MosquittoBroker,
) -> None:
    """The steelworks' gateway vanishes at 11:10 and the broker publishes its will; the
    controller drops the battery and the mill as ``gateway offline``, dispatches the paper
    mill's press in their place and meets the target in every interval after the re-plan."""
    event = short_event(target_kw=600.0)
    async with Scene(mqtt_url=mosquitto.url) as scene:
        run = scene.submit(event)
        await scene.run_until(event.start + timedelta(minutes=10))
        assert set(run.kept()) == STEEL, "the steelworks alone should make up the first plan"
        killed_at = scene.now
        await scene.kill_gateway(STEEL_SITE)

        await scene.run_until(event.end + timedelta(minutes=15))
        await scene.controller.wait(event.event_id)
        outcome = event_outcome(run, scene.controller.monitor, scene.district, "default")

    assert scene.controller.site_online == {STEEL_SITE: False, PAPER_SITE: True}
    assert {k: f.reason for k, f in run.dropped.items()} == dict.fromkeys(STEEL, "gateway offline")
    assert all(f.at >= killed_at for f in run.dropped.values())
    replan = next(r for r in run.replans if r.dropped)  # later ones may top up a shortfall
    assert set(replan.dropped) == STEEL
    assert replan.added == (PRESS,)
    assert run.kept() == [PRESS]

    assert run.lifecycle.state is EventState.COMPLETED
    after = [i for i in outcome.intervals if i.start >= replan.at]
    assert after, "the re-plan should come before the event's last interval"
    for interval in after:
        assert interval.met, interval
    assert scene.settle_timeouts == 0
