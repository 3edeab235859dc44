"""A registration that adds a site answers with its gateway's broker credentials once;
only their hash is stored, and the broker files in --broker-files follow the registry."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from api_helpers import Api, acme, open_api, settings_for

from mosquitto_broker import MosquittoBroker
from provisioned_broker import find_mosquitto_pub, mosquitto_pub
from vpp.device_adapters.mqtt.broker_files import IssuedCredentials, read_password_file
from vpp.device_adapters.mqtt.passwords import verify_password


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    settings = settings_for(tmp_path, broker_files_dir=tmp_path / "broker")
    async with open_api(settings) as opened:
        yield opened


async def stored_hashes(api: Api) -> dict[str, str]:
    return await api.service.store.gateway_credentials.hashes()


async def test_new_site_gets_credentials_once_and_only_a_hash_is_stored(
    api: Api, tmp_path: Path
) -> None:
    first = await api.register("acme")
    assert first.status_code == 201
    assert first.headers["cache-control"] == "no-store"
    [issued] = first.json()["gateway_credentials"]
    assert issued["site_id"] == "acme-site"
    assert issued["username"] == issued["client_id"] == "gw-acme-site"
    hashes = await stored_hashes(api)
    assert verify_password(issued["password"], hashes["gw-acme-site"])
    rows = await api.service.store.gateway_credentials.all()
    assert all(issued["password"] not in str(vars(row)) for row in rows)
    assert read_password_file(tmp_path / "broker" / "passwd") == hashes
    assert "user gw-acme-site" in (tmp_path / "broker" / "acl").read_text()

    again = await api.register("acme")
    assert again.json()["gateway_credentials"] == []
    assert await stored_hashes(api) == hashes


async def test_site_added_later_gets_its_own_credentials_only(api: Api) -> None:
    await api.register("acme")
    site = copy.deepcopy(acme("acme")["sites"][0])
    site["site_id"] = "acme-east"
    response = await api.client.put(
        "/v1/enterprises/acme/sites/acme-east", json=site, headers=api.auth("acme")
    )
    assert response.status_code == 201
    assert [c["site_id"] for c in response.json()["gateway_credentials"]] == ["acme-east"]


async def test_site_removed_from_a_registration_loses_its_account(api: Api, tmp_path: Path) -> None:
    body = acme("acme")
    east = copy.deepcopy(body["sites"][0])
    east["site_id"] = "acme-east"
    body["sites"].append(east)
    await api.client.put("/v1/enterprises/acme", json=body, headers=api.auth("acme"))
    assert "gw-acme-east" in await stored_hashes(api)
    await api.register("acme")  # the registration without acme-east
    assert "gw-acme-east" not in await stored_hashes(api)
    assert "acme-east" not in (tmp_path / "broker" / "acl").read_text()


@pytest.mark.broker
@pytest.mark.skipif(find_mosquitto_pub() is None, reason="needs mosquitto-clients")
async def test_issued_credentials_work_on_a_broker_using_the_regenerated_files(
    api: Api, tmp_path: Path
) -> None:
    acme_site = (await api.register("acme")).json()["gateway_credentials"][0]
    other_site = (await api.register("other")).json()["gateway_credentials"][0]
    folder = tmp_path / "broker"
    (tmp_path / "mosquitto").mkdir()
    broker = MosquittoBroker(
        tmp_path / "mosquitto", password_file=folder / "passwd", acl_file=folder / "acl"
    ).start()
    try:
        account = IssuedCredentials(acme_site["username"], acme_site["password"], "acme-site")
        own = mosquitto_pub(broker.port, "vpp/v1/acme-site/bess/telemetry", "{}", account)
        assert own.returncode == 0, own
        assert "Not authorized" not in own.stdout + own.stderr
        theirs = f"vpp/v1/{other_site['site_id']}/bess/telemetry"
        refused = mosquitto_pub(broker.port, theirs, "{}", account)
        assert "Not authorized" in refused.stdout + refused.stderr, refused
    finally:
        broker.stop()
