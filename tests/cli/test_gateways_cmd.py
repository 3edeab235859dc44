"""``vpp gateways provision`` run as an operator would, and its folder used by a real
Mosquitto, ``vpp simulate --mqtt-auth`` and the service's registry."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mosquitto_broker import MosquittoBroker
from vpp.cli import app
from vpp.config import load_district
from vpp.device_adapters.mqtt.broker_files import read_client_credentials, read_password_file
from vpp.device_adapters.mqtt.passwords import verify_password
from vpp.store import open_store

DATA = Path(__file__).parent.parent / "data"
TINY_DISTRICT = DATA / "tiny_district.yaml"
TINY_SCENARIO = DATA / "tiny_scenario.yaml"
runner = CliRunner()


def provision(*args: str) -> None:
    result = runner.invoke(app, ["gateways", "provision", *args])
    assert result.exit_code == 0, result.output


def tiny_sites() -> list[str]:
    return sorted(s.site_id for e in load_district(TINY_DISTRICT).enterprises for s in e.sites)


def test_provision_writes_an_account_per_site_and_the_controller(tmp_path: Path) -> None:
    out = tmp_path / "broker"
    provision(str(TINY_DISTRICT), "--out", str(out))
    accounts = read_client_credentials(out)
    assert sorted(accounts) == sorted(["vpp-controller", *(f"gw-{s}" for s in tiny_sites())])
    hashes = read_password_file(out / "passwd")
    assert all(verify_password(a.password, hashes[u]) for u, a in accounts.items())


def test_provision_again_keeps_passwords_and_rotate_replaces_them(tmp_path: Path) -> None:
    out = tmp_path / "broker"
    provision(str(TINY_DISTRICT), "--out", str(out))
    first = read_client_credentials(out)
    provision(str(TINY_DISTRICT), "--out", str(out))
    assert read_client_credentials(out) == first
    provision(str(TINY_DISTRICT), "--out", str(out), "--rotate")
    rotated = read_client_credentials(out)
    assert all(rotated[u].password != first[u].password for u in first)


@pytest.mark.parametrize(
    "args",
    [[], [str(TINY_DISTRICT), "--db", "sqlite+aiosqlite:///x.db"]],
    ids=["neither", "both"],
)
def test_provision_needs_a_district_file_or_db_not_both(args: list[str], tmp_path: Path) -> None:
    result = runner.invoke(app, ["gateways", "provision", *args, "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "either a district file or --db" in result.output


def test_provision_from_the_registry_stores_only_hashes(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'vpp.db'}"
    district = load_district(TINY_DISTRICT)

    async def register() -> None:
        from datetime import UTC, datetime

        async with open_store(db) as store:
            await store.enterprises.save(district.enterprises, datetime.now(UTC))

    asyncio.run(register())
    out = tmp_path / "broker"
    provision("--db", db, "--out", str(out))
    provision("--db", db, "--out", str(out))  # again: every account kept

    async def stored() -> dict[str, str]:
        async with open_store(db) as store:
            return await store.gateway_credentials.hashes()

    hashes = asyncio.run(stored())
    accounts = read_client_credentials(out)
    assert sorted(hashes) == sorted(accounts)
    for username, account in accounts.items():
        assert verify_password(account.password, hashes[username])
        assert account.password not in hashes[username]
    assert read_password_file(out / "passwd") == hashes


@pytest.mark.broker
def test_simulate_with_mqtt_auth_meets_target_over_a_broker_enforcing_the_acl(
    tmp_path: Path,
) -> None:
    """Each simulated gateway and the controller log in with their provisioned accounts."""
    folder = tmp_path / "broker"
    provision(str(TINY_DISTRICT), "--out", str(folder))
    broker = MosquittoBroker(
        tmp_path, password_file=folder / "passwd", acl_file=folder / "acl"
    ).start()
    try:
        result = runner.invoke(
            app,
            [
                "simulate",
                str(TINY_SCENARIO),
                "--mqtt",
                broker.url,
                "--mqtt-auth",
                str(folder),
                "--quiet",
                "--out",
                str(tmp_path / "out"),
            ],
        )
        log = broker.log_text()
    finally:
        broker.stop()
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert all(e["met"] for e in report["events"]), report["events"]
    for site_id in tiny_sites():
        assert f"u'gw-{site_id}'" in log, f"gateway of {site_id} did not log in as itself"
    assert "u'vpp-controller'" in log
    assert "not authorised" not in log.lower()


def test_simulate_mqtt_auth_without_mqtt_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["simulate", str(TINY_SCENARIO), "--mqtt-auth", str(tmp_path), "--quiet"]
    )
    assert result.exit_code == 2
    assert "need --mqtt" in result.output
