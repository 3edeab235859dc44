"""``vpp serve --openadr-vtn``: the service as a VEN toward openleadr's own VTN on
loopback. Events become vpp events decided from capability, run by the controller against
simulated devices, reported back; the VTN going away never stops the service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from api_helpers import Api, open_api, settings_for

from openadr_vtn import TestVtn, until
from vpp.api import ServiceSettings
from vpp.openadr import VenSettings

#: Simulated seconds per wall second: a 30-min event 20 min ahead takes about 6 s.
TIME_SCALE = 600.0
VEN_NAME = "vpp-test"
VEN_ID = f"VEN-{VEN_NAME}"


def ven_settings(url: str, **extra: Any) -> VenSettings:
    return VenSettings(vtn_url=url, ven_name=VEN_NAME, poll_s=0.2, backoff_max_s=1.0, **extra)


def service_settings(tmp_path: Path, url: str, **extra: Any) -> ServiceSettings:
    return settings_for(
        tmp_path,
        time_scale=TIME_SCALE,
        simulated_devices=True,
        openadr=ven_settings(url, **extra),
    )


@pytest.fixture
async def vtn() -> AsyncIterator[TestVtn]:
    server = await TestVtn().start()
    yield server
    await server.stop()


@pytest.fixture
async def api(tmp_path: Path, vtn: TestVtn) -> AsyncIterator[Api]:
    async with open_api(service_settings(tmp_path, vtn.url)) as opened:
        await opened.register("acme")
        await until(lambda: opened.service.ven.registered, what="registered")  # type: ignore[union-attr]
        yield opened


def window_ahead(api: Api, lead: timedelta = timedelta(minutes=20)) -> datetime:
    service = api.service
    return service.next_boundary(service.clock.now() + lead, service.frame)


async def events(api: Api) -> list[dict[str, Any]]:
    body = (await api.client.get("/v1/events", headers=api.auth("operator"))).json()
    return list(body["items"])


async def event_of(api: Api, vtn_event_id: str) -> dict[str, Any] | None:
    for view in await events(api):
        if view["event"]["vtn_event_id"] == vtn_event_id:
            return view
    return None


async def settled(api: Api, vtn_event_id: str) -> dict[str, Any] | None:
    view = await event_of(api, vtn_event_id)
    return view if view is not None and view["settlement"] is not None else None


@pytest.mark.slow
async def test_vtn_event_is_opted_in_dispatched_delivered_and_reported(
    api: Api, vtn: TestVtn
) -> None:
    health = (await api.client.get("/v1/health", headers=api.auth("operator"))).json()
    assert health["status"] == "ok"
    assert health["openadr"]["state"] == "registered"
    assert health["openadr"]["ven_id"] == VEN_ID

    event_id = vtn.send(VEN_ID, window_ahead(api), [-150.0, -150.0])
    assert await until(lambda: vtn.opts(event_id), what="an answer") == ["optIn"]
    view = await until(lambda: settled(api, event_id), what="settled")

    assert view["event"]["source"] == "openadr"
    assert view["event"]["modification_number"] == 0
    assert view["event"]["target_kw"] == pytest.approx(150.0)
    assert view["openadr"]["opt"] == "optIn"
    assert view["openadr"]["capability_kw"] >= 150.0
    assert view["openadr"]["margin_kw"] == pytest.approx(
        view["openadr"]["capability_kw"] - 150.0, abs=1e-2
    )
    assert [h["state"] for h in view["history"]][-1] == "completed"
    assert view["delivered_kwh"] > 0
    # the delivered figures reach the VTN, per interval, with the portfolio's load
    await until(lambda: len(vtn.reports.get("response", [])) >= 2, what="delivered report")
    delivered = dict(vtn.reports["response"])
    measured = {i["start"]: i["delivered_kw"] for i in view["intervals"]}
    assert len(measured) == 2
    assert all(kw is not None and kw > 0 for kw in measured.values())
    for start, kw in measured.items():
        assert delivered[datetime.fromisoformat(start)] == pytest.approx(kw, abs=1e-2)
    assert vtn.reports.get("portfolio")
