"""``vpp serve`` settings for a production broker: mqtts:// with the controller's password
file and the CA, against a Mosquitto that enforces the provisioned ACL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from api_helpers import Api, acme, open_api, settings_for
from test_dispatch_flow import TIME_SCALE, check_event_dispatched_measured_and_settled
from typer.testing import CliRunner

from mosquitto_broker import BrokerTls, MosquittoBroker
from tls_certs import find_openssl, make_certificates
from vpp.cli import app
from vpp.domain import Enterprise
from vpp.store import open_store

pytestmark = [
    pytest.mark.slow,
    pytest.mark.broker,
    pytest.mark.skipif(find_openssl() is None, reason="needs the openssl CLI"),
]


async def test_event_is_dispatched_over_mqtts_with_the_acl_enforced(tmp_path: Path) -> None:
    """acme is registered, then provisioned (`vpp gateways provision --db`); the service's
    controller and simulated gateway log in with those accounts over TLS."""
    db = f"sqlite+aiosqlite:///{tmp_path / 'vpp.db'}"
    async with open_store(db) as store:
        await store.enterprises.save([Enterprise.model_validate(acme())], datetime.now(UTC))
    folder = tmp_path / "broker"
    result = await asyncio.to_thread(  # the command runs its own event loop
        CliRunner().invoke, app, ["gateways", "provision", "--db", db, "--out", str(folder)]
    )
    assert result.exit_code == 0, result.output
    certs = make_certificates(tmp_path / "certs")
    (tmp_path / "mosquitto").mkdir()
    broker = MosquittoBroker(
        tmp_path / "mosquitto",
        password_file=folder / "passwd",
        acl_file=folder / "acl",
        tls=BrokerTls(certs.ca_file, certs.broker_cert, certs.broker_key),
    ).start()
    url = f"mqtts://vpp-controller@127.0.0.1:{broker.tls_port}"
    settings = settings_for(
        tmp_path,
        time_scale=TIME_SCALE,
        simulated_devices=True,
        mqtt_url=url,
        mqtt_password_file=folder / "controller.password",
        mqtt_ca_file=certs.ca_file,
        broker_files_dir=folder,
    )
    try:
        async with open_api(settings) as api:
            await check_event_dispatched_measured_and_settled(api)
            assert_logged_in_over_tls(api, broker)
    finally:
        broker.stop()


def assert_logged_in_over_tls(api: Api, broker: MosquittoBroker) -> None:
    assert api.service.fabric is not None
    assert api.service.fabric.adapter.stats.received["telemetry"] > 0
    log = broker.log_text()
    assert f"on port {broker.tls_port}" in log
    assert "u'vpp-controller'" in log
    assert "u'gw-acme-site'" in log
    assert "not authorised" not in log.lower()
