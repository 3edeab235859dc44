"""The service's settlement counts readings the plausibility gate refused (stored per interval)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from api_helpers import EVENT, open_api, settings_for

from vpp.device_adapters.mqtt.topics import Channel, Topic


@pytest.mark.slow
async def test_hostile_reading_mid_event_is_counted_on_the_settlement_line(tmp_path: Path) -> None:
    """An intruder publishes an impossible battery reading (-1e8 kW, stamped now) for acme's
    battery while the event runs: the settled line of acme says 1 reading was refused."""
    settings = settings_for(tmp_path, time_scale=600.0, simulated_devices=True)
    async with open_api(settings) as api:
        await api.register("acme")
        created = await api.client.post(
            "/v1/events", json=EVENT | {"event_id": "ev-1"}, headers=api.auth("operator")
        )
        assert created.status_code == 201, created.text
        for _ in range(300):
            view = (await api.client.get("/v1/events/ev-1", headers=api.auth("operator"))).json()
            if view["state"] == "active":
                break
            await asyncio.sleep(0.1)
        assert view["state"] == "active", view["state"]
        assert api.service.fabric is not None
        intruder = api.service.fabric.links.link("intruder")
        await intruder.start()
        reading = {"ts": api.service.clock.now().isoformat(), "power_kw": -1e8, "available": True}
        topic = Topic("acme-site", "bess", Channel.TELEMETRY)
        assert await intruder.publish(str(topic), json.dumps(reading).encode(), qos=1)
        await intruder.close()
        for _ in range(300):
            view = (await api.client.get("/v1/events/ev-1", headers=api.auth("operator"))).json()
            if view["settlement"] is not None:
                break
            await asyncio.sleep(0.1)
        assert view["settlement"] is not None, view["state"]
        (line,) = [x for x in view["settlement"]["enterprises"] if x["enterprise_id"] == "acme"]
        assert line["refused_samples"] == 1
        assert line["effective"] is True
