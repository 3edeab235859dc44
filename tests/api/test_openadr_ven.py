"""``vpp serve --openadr-vtn``: the service as a VEN toward openleadr's own VTN on
loopback. Events become vpp events decided from capability, run by the controller against
simulated devices, reported back; the VTN going away never stops the service."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from api_helpers import Api, open_api, settings_for
from hypothesis import given
from hypothesis import strategies as st

from openadr_vtn import TestVtn, until
from tls_certs import CertificateFiles, find_openssl, make_certificates
from vpp.api import ServiceSettings
from vpp.api.openadr import internal_event_id
from vpp.domain._base import SLUG_PATTERN
from vpp.openadr import VenSettings
from vpp.openadr.library import utils

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


async def test_impossible_target_is_opted_out_with_the_capability_and_reason_stored(
    api: Api, vtn: TestVtn
) -> None:
    event_id = vtn.send(VEN_ID, window_ahead(api), [-50_000.0])
    assert await until(lambda: vtn.opts(event_id), what="an answer") == ["optOut"]
    view = await until(lambda: event_of(api, event_id), what="the record")

    assert view["state"] == "declined"
    assert view["openadr"]["opt"] == "optOut"
    assert view["openadr"]["target_kw"] == pytest.approx(50_000.0)
    assert 0 < view["openadr"]["capability_kw"] < 50_000.0
    assert view["openadr"]["margin_kw"] < 0
    assert "short of" in view["openadr"]["reason"]
    assert view["intervals"]
    assert all(i["planned_kw"] == 0 for i in view["intervals"])
    setpoints = await api.client.get(
        "/v1/enterprises/acme/setpoints",
        params={"event_id": view["event"]["event_id"]},
        headers=api.auth("acme"),
    )
    assert setpoints.json()["total"] == 0


@pytest.mark.slow
async def test_modification_replans_the_running_event_with_the_new_target(
    api: Api, vtn: TestVtn
) -> None:
    event_id = vtn.send(VEN_ID, window_ahead(api, timedelta(minutes=45)), [-100.0, -100.0])
    assert await until(lambda: vtn.opts(event_id), what="first answer") == ["optIn"]
    first = await until(lambda: event_of(api, event_id), what="the record")

    assert vtn.modify(VEN_ID, event_id, [-250.0, -250.0]) == 1
    assert await until(lambda: len(vtn.opts(event_id)) == 2 and vtn.opts(event_id))
    assert vtn.opts(event_id) == ["optIn", "optIn"]

    async def modified() -> dict[str, Any] | None:
        view = await event_of(api, event_id)
        return view if view and view["event"]["modification_number"] == 1 else None

    view = await until(modified, what="modification 1 on the record")
    assert view["event"]["event_id"] == first["event"]["event_id"]  # the same run, re-planned
    assert view["event"]["target_kw"] == pytest.approx(250.0)
    assert view["openadr"]["modification_number"] == 1
    run = api.service.live_run(view["event"]["event_id"])
    assert run is not None
    assert run.event.target_kw == pytest.approx(250.0)
    assert len(await events(api)) == 1


@pytest.mark.slow
async def test_cancellation_mid_event_cancels_and_releases_every_setpoint(
    api: Api, vtn: TestVtn
) -> None:
    event_id = vtn.send(VEN_ID, window_ahead(api), [-150.0] * 4)
    assert await until(lambda: vtn.opts(event_id), what="an answer") == ["optIn"]

    async def active() -> dict[str, Any] | None:
        view = await event_of(api, event_id)
        return view if view and view["state"] == "active" else None

    view = await until(active, what="active")
    vtn.cancel(VEN_ID, event_id)

    async def cancelled() -> dict[str, Any] | None:
        current = await event_of(api, event_id)
        stored = current and [h["state"] for h in current["history"]]
        return current if stored and stored[-1] == "cancelled" else None

    view = await until(cancelled, what="cancelled")
    assert any("cancelled by the VTN" in h["note"] for h in view["history"])
    await until(lambda: len(vtn.opts(event_id)) == 2, what="the cancellation acknowledged")
    rows = (
        await api.client.get(
            "/v1/enterprises/acme/setpoints",
            params={"event_id": view["event"]["event_id"], "limit": 200},
            headers=api.auth("acme"),
        )
    ).json()["items"]
    last: dict[str, str] = {}
    for row in sorted(rows, key=lambda r: r["issued_at"]):
        last[f"{row['site_id']}/{row['resource_id']}"] = row["mode"]
    assert last
    assert set(last.values()) == {"release"}


async def test_test_event_is_acknowledged_and_not_dispatched(api: Api, vtn: TestVtn) -> None:
    event_id = vtn.send(VEN_ID, window_ahead(api), [-150.0], test_event=True)
    assert await until(lambda: vtn.opts(event_id), what="an answer") == ["optIn"]
    assert await events(api) == []


async def test_event_for_a_past_window_is_refused(api: Api, vtn: TestVtn) -> None:
    """Past on the service's clock (sped up), still ahead on the VTN's wall clock, so that
    the VTN (which drops windows past on its own clock) still takes the answer."""
    clock = api.service.clock
    await until(lambda: clock.now() - datetime.now(UTC) > timedelta(hours=1), what="clock ahead")
    past = api.service.next_boundary(clock.now() - timedelta(minutes=45), api.service.frame)
    event_id = vtn.send(VEN_ID, past, [-150.0, -150.0])
    assert await until(lambda: vtn.opts(event_id), what="an answer") == ["optOut"]
    assert await events(api) == []


async def test_lowercase_vtn_id_is_answered_200_not_452(tmp_path: Path) -> None:
    vtn = await TestVtn(vtn_id="lowercase-vtn").start()
    try:
        async with open_api(service_settings(tmp_path, vtn.url)) as api:
            await api.register("acme")
            await until(lambda: api.service.ven.registered, what="registered")  # type: ignore[union-attr]
            event_id = vtn.send(VEN_ID, window_ahead(api), [-150.0])
            assert await until(lambda: vtn.opts(event_id), what="an answer") == ["optIn"]
            assert await until(lambda: vtn.created_event_codes) == [200]
    finally:
        await vtn.stop()


@pytest.mark.slow
async def test_registration_and_answers_survive_a_restart_and_no_event_runs_twice(
    tmp_path: Path, vtn: TestVtn
) -> None:
    settings = service_settings(tmp_path, vtn.url)
    async with open_api(settings) as api:
        await api.register("acme")
        await until(lambda: api.service.ven.registered, what="registered")  # type: ignore[union-attr]
        event_id = vtn.send(VEN_ID, window_ahead(api, timedelta(hours=2)), [-150.0])
        assert await until(lambda: vtn.opts(event_id), what="an answer") == ["optIn"]
        await until(lambda: event_of(api, event_id), what="the record")
    first_registration = vtn.registrations[-1]
    assert first_registration.get("registration_id") is None

    async with open_api(settings) as api:
        await until(lambda: len(vtn.registrations) == 2, what="registered again")
        # the stored registration is offered back to the VTN, which keeps it
        assert vtn.registrations[1]["registration_id"] == "REG-1"
        assert vtn.registrations[1]["ven_id"] == VEN_ID
        assert api.service.ven is not None
        assert api.service.ven.health.registration_id == "REG-1"
        vtn.resend(VEN_ID)  # the same event and modification once more
        await until(lambda: len(vtn.opts(event_id)) == 2, what="answered again")
        assert vtn.opts(event_id) == ["optIn", "optIn"]
        assert len(await events(api)) == 1


@pytest.mark.slow
async def test_vtn_down_is_retried_shown_in_health_and_events_flow_once_it_is_back(
    tmp_path: Path,
) -> None:
    vtn = TestVtn()  # not started: nothing listens on its port yet
    async with open_api(service_settings(tmp_path, vtn.url)) as api:
        await api.register("acme")

        async def degraded() -> dict[str, Any] | None:
            body = (await api.client.get("/v1/health", headers=api.auth("operator"))).json()
            failing = body["openadr"]["consecutive_failures"] >= 2
            return body if body["status"] == "degraded" and failing else None

        body = await until(degraded, what="degraded health")
        assert body["openadr"]["state"] == "unreachable"
        assert body["openadr"]["last_error"]
        assert body["openadr"]["next_try_in_s"] <= 1.0  # capped back-off
        await vtn.start()
        try:
            await until(lambda: api.service.ven.registered, what="registered")  # type: ignore[union-attr]
            event_id = vtn.send(VEN_ID, window_ahead(api), [-150.0])
            assert await until(lambda: vtn.opts(event_id), what="an answer") == ["optIn"]
            body = (await api.client.get("/v1/health", headers=api.auth("operator"))).json()
            assert body["status"] == "ok"
            assert body["openadr"]["consecutive_failures"] == 0
        finally:
            await vtn.stop()


@pytest.fixture
def certificates(tmp_path: Path) -> CertificateFiles:
    if find_openssl() is None:
        pytest.skip("needs the openssl command")
    return make_certificates(tmp_path / "tls")


async def test_mutual_tls_registers_signs_and_takes_an_event(
    tmp_path: Path, certificates: CertificateFiles
) -> None:
    c = certificates
    vtn = TestVtn(
        tls=(c.broker_cert, c.broker_key, c.ca_file),
        ven_fingerprint=utils.certificate_fingerprint(c.client_cert.read_bytes()),
    )
    await vtn.start()
    try:
        settings = service_settings(
            tmp_path, vtn.url, cert_file=c.client_cert, key_file=c.client_key, ca_file=c.ca_file
        )
        async with open_api(settings) as api:
            await api.register("acme")
            await until(lambda: api.service.ven.registered, what="registered")  # type: ignore[union-attr]
            event_id = vtn.send(VEN_ID, window_ahead(api), [-150.0])
            assert await until(lambda: vtn.opts(event_id), what="an answer") == ["optIn"]
    finally:
        await vtn.stop()


@pytest.mark.parametrize(
    "client",
    ["no-certificate", "wrong-ca"],
)
async def test_mutual_tls_refuses_a_ven_without_a_certificate_or_trusting_another_ca(
    tmp_path: Path, certificates: CertificateFiles, client: str
) -> None:
    c = certificates
    vtn = await TestVtn(tls=(c.broker_cert, c.broker_key, c.ca_file)).start()
    extra: dict[str, Any] = {
        "ca_file": c.ca_file if client == "no-certificate" else c.other_ca_file
    }
    if client == "wrong-ca":
        extra |= {"cert_file": c.client_cert, "key_file": c.client_key}
    try:
        async with open_api(service_settings(tmp_path, vtn.url, **extra)) as api:
            ven = api.service.ven
            assert ven is not None
            await until(lambda: ven.health.consecutive_failures >= 2, what="failures")
            assert ven.health.state == "unreachable"
            assert not vtn.registrations
    finally:
        await vtn.stop()


@given(vtn_event_id=st.text(min_size=1, max_size=200), modification=st.integers(0, 10_000))
def test_internal_event_id_is_a_slug_for_any_vtn_id(vtn_event_id: str, modification: int) -> None:
    assert re.match(SLUG_PATTERN, internal_event_id(vtn_event_id, modification))


@pytest.mark.slow
async def test_modification_to_an_impossible_target_opts_out_and_cancels_the_run(
    api: Api, vtn: TestVtn
) -> None:
    event_id = vtn.send(VEN_ID, window_ahead(api, timedelta(minutes=45)), [-100.0, -100.0])
    assert await until(lambda: vtn.opts(event_id), what="first answer") == ["optIn"]
    first = await until(lambda: event_of(api, event_id), what="the record")

    vtn.modify(VEN_ID, event_id, [-50_000.0, -50_000.0])
    await until(lambda: len(vtn.opts(event_id)) == 2, what="second answer")
    assert vtn.opts(event_id) == ["optIn", "optOut"]

    async def both() -> list[dict[str, Any]] | None:
        views = await events(api)
        states = sorted(v["state"] for v in views)
        return views if states == ["cancelled", "declined"] else None

    views = {v["state"]: v for v in await until(both, what="cancelled and declined")}
    assert views["cancelled"]["event"]["event_id"] == first["event"]["event_id"]
    declined = views["declined"]
    assert declined["event"]["modification_number"] == 1
    assert declined["event"]["event_id"].endswith("-m1")
    assert declined["openadr"]["margin_kw"] < 0


@pytest.mark.slow
async def test_modification_moving_the_window_cancels_the_run_and_runs_the_new_window(
    api: Api, vtn: TestVtn
) -> None:
    start = window_ahead(api, timedelta(minutes=45))
    event_id = vtn.send(VEN_ID, start, [-100.0, -100.0])
    assert await until(lambda: vtn.opts(event_id), what="first answer") == ["optIn"]
    first = await until(lambda: event_of(api, event_id), what="the record")

    vtn.modify(VEN_ID, event_id, [-120.0, -120.0], shift=timedelta(minutes=30))
    await until(lambda: len(vtn.opts(event_id)) == 2, what="second answer")
    assert vtn.opts(event_id) == ["optIn", "optIn"]

    async def moved() -> dict[str, Any] | None:
        views = await events(api)
        return views if len(views) == 2 else None

    views = {v["event"]["event_id"]: v for v in await until(moved, what="the new version")}
    old = views.pop(first["event"]["event_id"])
    (new,) = views.values()
    assert new["event"]["event_id"] == first["event"]["event_id"] + "-m1"
    assert datetime.fromisoformat(new["event"]["start"]) == start + timedelta(minutes=30)
    assert new["event"]["target_kw"] == pytest.approx(120.0)
    assert new["openadr"]["modification_number"] == 1
    old_states = [h["state"] for h in (await event_of_id(api, old["event"]["event_id"]))["history"]]
    assert old_states[-1] == "cancelled"


async def event_of_id(api: Api, event_id: str) -> dict[str, Any]:
    reply = await api.client.get(f"/v1/events/{event_id}", headers=api.auth("operator"))
    return dict(reply.json())
