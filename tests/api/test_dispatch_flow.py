"""An event from request to settlement on a sped-up clock, against simulated gateways."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import EVENT, Api, open_api, settings_for

from mosquitto_broker import MosquittoBroker
from postgres_database import reset

#: Simulated seconds per wall second at most: a 30-min event 20 min ahead takes 5 s or more
#: (the clock is paced: it waits for the work, so a busy machine only makes it slower).
TIME_SCALE = 600.0

#: How long to wait for settlement before giving up: a guard against a hang [s, wall].
GIVE_UP_S = 180.0


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """The session's PostgreSQL database, emptied."""
    reset(pg_database)
    return pg_database


@pytest.fixture
async def fast_api(tmp_path: Path, pg_url: str) -> AsyncIterator[Api]:
    """On PostgreSQL (the README walkthrough and the recovery test run on SQLite)."""
    settings = settings_for(tmp_path, time_scale=TIME_SCALE, simulated_devices=True)
    settings = settings.model_copy(update={"db_url": pg_url})
    async with open_api(settings) as opened:
        yield opened


async def until_settled(api: Api, event_id: str, timeout_s: float = GIVE_UP_S) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        view = (await api.client.get(f"/v1/events/{event_id}", headers=api.auth("operator"))).json()
        if view["settlement"] is not None:
            return view
        await asyncio.sleep(0.2)
    raise AssertionError(f"{event_id} not settled in {timeout_s} s: {view['state']}")


@pytest.mark.slow
async def test_event_is_dispatched_measured_and_settled_on_postgresql(fast_api: Api) -> None:
    await check_event_dispatched_measured_and_settled(fast_api)


@pytest.mark.slow
@pytest.mark.broker
async def test_event_is_dispatched_over_mqtt(tmp_path: Path, mosquitto: MosquittoBroker) -> None:
    """With --mqtt the controller and the simulated gateways are clients of a real broker."""
    settings = settings_for(
        tmp_path, time_scale=TIME_SCALE, simulated_devices=True, mqtt_url=mosquitto.url
    )
    async with open_api(settings) as api:
        assert api.service.fabric is not None
        assert api.service.fabric.name == mosquitto.url
        await check_event_dispatched_measured_and_settled(api)
        assert api.service.fabric.adapter.stats.received["telemetry"] > 0


async def check_event_dispatched_measured_and_settled(api: Api) -> None:
    await api.register("acme")
    created = await api.client.post(
        "/v1/events", json=EVENT | {"event_id": "ev-1"}, headers=api.auth("operator")
    )
    assert created.status_code == 201
    view = await until_settled(api, "ev-1")

    assert [h["state"] for h in view["history"]] == [
        "received",
        "scheduled",
        "notified",
        "active",
        "completed",
    ]
    for interval in view["intervals"]:
        assert interval["missing_meters"] == 0
        assert interval["met"], interval
        assert interval["delivered_kw"] == pytest.approx(interval["planned_kw"], rel=0.05)
    assert view["delivered_kwh"] == pytest.approx(view["settlement"]["delivered_kwh"], abs=1e-3)
    line = view["settlement"]["enterprises"][0]
    assert line["enterprise_id"] == "acme"
    assert line["effective"] is True
    assert line["payment_cny"] > 0

    own = await api.client.get("/v1/enterprises/acme/settlements", headers=api.auth("acme"))
    assert own.json()["items"][0]["line"] == line
    assert own.json()["totals"]["events"] == 1
    assert own.json()["totals"]["net_cny"] == pytest.approx(line["net_cny"])
    events = (await api.client.get("/v1/enterprises/acme/events", headers=api.auth("acme"))).json()
    assert events["items"][0]["resources"] == ["acme-site/bess", "acme-site/furnace"]
    assert events["items"][0]["settlement"] == line
    setpoints = await api.client.get(
        "/v1/enterprises/acme/setpoints?event_id=ev-1&limit=500", headers=api.auth("acme")
    )
    items = setpoints.json()["items"]
    assert {s["mode"] for s in items} >= {"limit", "power", "release"}
    assert all(s["ack_status"] == "accepted" for s in items)
    other = await api.client.get("/v1/enterprises/other/events", headers=api.auth("other"))
    assert other.json()["total"] == 0
