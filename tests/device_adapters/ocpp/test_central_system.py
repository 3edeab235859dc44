"""vpp's OCPP central system against charge points of the ``ocpp`` library (v16) over real
websockets: boot, authentication, transactions, meter values, dispatch and faults."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from ocpp_peer import charge_point
from tls_certs import find_openssl, make_certificates
from vpp.device_adapters import AckReceived, Inbound, StatusReceived, TelemetryReceived
from vpp.device_adapters.mqtt.passwords import hash_password
from vpp.device_adapters.ocpp import OcppAdapter, OcppServerSettings, issue_password
from vpp.device_adapters.registry import (
    AdapterContext,
    ProtocolNotConfiguredError,
    connection_errors,
    protocol,
)
from vpp.domain import AckStatus, GatewayState, Setpoint, SetpointMode

from builders import at, district, enterprise

PASSWORD = "s3cret-pass"


def ev_pool(**connection: Any) -> dict[str, Any]:
    return {
        "kind": "ev_charger_pool",
        "resource_id": "ev",
        "protocol": "ocpp",
        "chargers": [{"charger_id": "c1", "max_kw": 22.0}, {"charger_id": "c2", "max_kw": 22.0}],
        "connection": connection
        or {
            "charge_points": [
                {
                    "charge_point_id": "CP1",
                    "connectors": [
                        {"connector_id": 1, "max_a": 32, "min_a": 6, "charger_id": "c1"},
                        {"connector_id": 2, "max_kw": 22.0, "charger_id": "c2"},
                    ],
                },
                {
                    "charge_point_id": "CP2",
                    "max_kw": 11.0,
                    "connectors": [{"connector_id": 1, "max_kw": 22.0}],
                },
            ]
        },
    }


class Clock:
    def __init__(self, now: datetime) -> None:
        self.t = now

    def __call__(self) -> datetime:
        return self.t


@pytest.fixture
async def system() -> AsyncIterator[tuple[OcppAdapter, asyncio.Queue[Inbound], Clock, str]]:
    d = district(enterprise("acme", [ev_pool()]))
    clock = Clock(at(10))
    hashed = hash_password(PASSWORD)
    settings = OcppServerSettings(
        host="127.0.0.1",
        port=0,
        passwords={"CP1": hashed, "CP2": hashed, "CP9": hashed},
        round_wait_s=60,
    )

    async def sleep_until(_: datetime) -> None:
        return None

    context = AdapterContext(d, clock, sleep_until, {"ocpp": settings})
    adapter = protocol("ocpp").factory(context, list(d.resources()))
    assert isinstance(adapter, OcppAdapter)
    inbound: asyncio.Queue[Inbound] = asyncio.Queue()
    await adapter.start(inbound.put_nowait)
    try:
        yield adapter, inbound, clock, f"ws://127.0.0.1:{adapter.system.port}"
    finally:
        await adapter.close()


async def next_of(queue: asyncio.Queue[Any], kind: type) -> Any:
    async with asyncio.timeout(5):
        while True:
            item = await queue.get()
            if isinstance(item, kind):
                return item


def limit(
    kw: float, start: datetime, minutes: int = 15, mode: SetpointMode = SetpointMode.LIMIT
) -> Setpoint:
    return Setpoint(
        command_id=f"cmd-{kw}-{start.isoformat()}-{mode}",
        site_id="acme-site",
        resource_id="ev",
        issued_at=start,
        mode=mode,
        power_kw=kw,
        valid_from=start,
        valid_until=start + timedelta(minutes=minutes),
    )


async def test_boot_transaction_and_meter_values_make_the_pool_reading(system: Any) -> None:
    adapter, inbound, clock, url = system
    async with charge_point(url, "CP1", PASSWORD) as cp1, charge_point(url, "CP2", PASSWORD) as cp2:
        status = await next_of(inbound, StatusReceived)
        assert status.status.state is GatewayState.ONLINE
        boot = await cp1.boot()
        assert boot.status == "Accepted"
        tx = await cp1.start_tx(1, clock.t)
        assert tx > 0
        await cp1.meter(1, 7000.0, clock.t, tx)
        await cp1.meter(2, 0.0, clock.t)
        assert inbound.empty()  # CP2's connector has not reported yet
        await cp2.meter(1, 3000.0, clock.t)
        reading = await next_of(inbound, TelemetryReceived)
    assert (reading.site_id, reading.resource_id) == ("acme-site", "ev")
    assert reading.telemetry.power_kw == pytest.approx(10.0)
    assert reading.telemetry.ts == clock.t
    assert adapter.ocpp_stats.calls_in["MeterValues"] == 3


async def test_a_wrong_password_or_an_unregistered_charge_point_is_refused(system: Any) -> None:
    adapter, _, _, url = system
    with pytest.raises(InvalidStatus) as wrong:
        async with charge_point(url, "CP1", "guess"):
            pass
    assert wrong.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as missing:
        async with charge_point(url, "CP1", None):
            pass
    assert missing.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as unknown:
        async with charge_point(url, "OTHER", PASSWORD):
            pass
    assert unknown.value.response.status_code == 404
    assert adapter.ocpp_stats.refused == {"bad_credentials": 2, "unknown_charge_point": 1}
    assert adapter.ocpp_stats.connects == 0


async def test_a_dispatch_sends_tx_profiles_within_limits_until_the_lease_ends(
    system: Any,
) -> None:
    adapter, inbound, clock, url = system
    async with charge_point(url, "CP1", PASSWORD) as cp1, charge_point(url, "CP2", PASSWORD) as cp2:
        await cp1.boot()
        await cp2.boot()
        cap_connector, cap = await cp2.profiles.get()  # the station cap, at boot
        assert cap_connector == 0
        assert cap["charging_profile_purpose"] == "ChargePointMaxProfile"
        assert float(cap["charging_schedule"]["charging_schedule_period"][0]["limit"]) == 11000
        tx1 = await cp1.start_tx(1, clock.t)
        tx2 = await cp1.start_tx(2, clock.t)
        tx3 = await cp2.start_tx(1, clock.t)
        setpoint = limit(30.0, clock.t)
        assert await adapter.send([setpoint]) == 1
        ack = await next_of(inbound, AckReceived)
        got = [await cp1.profiles.get(), await cp1.profiles.get(), await cp2.profiles.get()]
    assert ack.ack.status is AckStatus.ACCEPTED
    assert ack.setpoint == setpoint
    by_tx = {p["transaction_id"]: (c, p) for c, p in got}
    assert set(by_tx) == {tx1, tx2, tx3}
    total_kw = 0.0
    for tx, (_connector_id, profile) in by_tx.items():
        schedule = profile["charging_schedule"]
        assert profile["charging_profile_purpose"] == "TxProfile"
        assert datetime.fromisoformat(profile["valid_to"]) == setpoint.valid_until
        assert schedule["duration"] == 15 * 60
        (period,) = schedule["charging_schedule_period"]
        kw = float(period["limit"]) / 1000.0
        assert kw <= {tx1: 32 * 0.69, tx2: 22.0, tx3: 11.0}[tx] + 1e-9
        if tx == tx1:
            assert float(schedule["min_charging_rate"]) == pytest.approx(6 * 690.0)
        total_kw += kw
    assert total_kw <= 30.0 + 1e-9
    assert total_kw == pytest.approx(30.0, abs=0.01)


async def test_a_rejected_profile_gives_a_rejected_ack_and_release_clears(system: Any) -> None:
    adapter, inbound, clock, url = system
    async with charge_point(url, "CP1", PASSWORD) as cp1:
        await cp1.start_tx(1, clock.t)
        cp1.answer = "Rejected"
        await adapter.send([limit(5.0, clock.t)])
        ack = await next_of(inbound, AckReceived)
        assert ack.ack.status is AckStatus.REJECTED
        assert "CP1: SetChargingProfile Rejected" in (ack.ack.reason or "")
        clock.t += timedelta(minutes=1)
        await adapter.send([limit(0.0, clock.t, mode=SetpointMode.RELEASE)])
        released = await next_of(inbound, AckReceived)
        cleared = await cp1.clears.get()
    assert released.ack.status is AckStatus.ACCEPTED
    assert cleared["charging_profile_purpose"] == "TxProfile"
    assert adapter.awaiting_ack() == []


async def test_a_charge_point_that_disconnects_mid_event_is_a_fault(system: Any) -> None:
    adapter, inbound, clock, url = system
    async with charge_point(url, "CP1", PASSWORD) as cp1:
        await next_of(inbound, StatusReceived)
        await cp1.start_tx(1, clock.t)
        await adapter.send([limit(5.0, clock.t)])
        assert (await next_of(inbound, AckReceived)).ack.status is AckStatus.ACCEPTED
    offline = await next_of(inbound, StatusReceived)
    assert offline.status.state is GatewayState.OFFLINE
    clock.t += timedelta(minutes=15)
    assert await adapter.send([limit(4.0, clock.t)]) == 0
    ack = await next_of(inbound, AckReceived)
    assert ack.ack.status is AckStatus.REJECTED
    assert "CP1 is offline with transaction" in (ack.ack.reason or "")
    assert len(adapter.in_force(clock.t)) == 1  # re-applied when it boots again


async def test_a_charge_point_that_comes_back_gets_the_leases_in_force(system: Any) -> None:
    adapter, inbound, clock, url = system
    async with charge_point(url, "CP1", PASSWORD) as cp1:
        await cp1.start_tx(1, clock.t)
    setpoint = limit(5.0, clock.t)
    await adapter.send([setpoint])
    await next_of(inbound, AckReceived)
    async with charge_point(url, "CP1", PASSWORD) as cp1:
        await cp1.boot()
        connector_id, profile = await cp1.profiles.get()
    assert connector_id == 1
    assert datetime.fromisoformat(profile["valid_to"]) == setpoint.valid_until
    assert adapter.stats.reconnects == 1


@pytest.mark.parametrize(
    ("connector_id", "power_w", "transaction", "skew_h", "reason"),
    [
        (1, -1e11, None, 0, "implausible_power"),
        (1, 1e8, None, 0, "implausible_power"),
        (9, 1000.0, None, 0, "unknown_connector"),
        (1, 1000.0, "CP2's", 0, "foreign_transaction"),
        (1, 1000.0, None, 24 * 365 * 900, "future_timestamp"),
    ],
)
async def test_lies_are_refused_at_the_boundary_and_counted(
    system: Any,
    connector_id: int,
    power_w: float,
    transaction: str | None,
    skew_h: float,
    reason: str,
) -> None:
    adapter, inbound, clock, url = system
    async with charge_point(url, "CP1", PASSWORD) as cp1, charge_point(url, "CP2", PASSWORD) as cp2:
        tx = await cp2.start_tx(1, clock.t) if transaction else None
        await cp1.meter(connector_id, power_w, clock.t + timedelta(hours=skew_h), tx)
        await cp1.meter(connector_id, power_w, clock.t + timedelta(hours=skew_h), tx)
    assert adapter.stats.malformed[reason] == 2
    assert adapter.stats.received["meter_values"] == 0
    while not inbound.empty():
        assert not isinstance(inbound.get_nowait(), TelemetryReceived)


def test_an_invalid_connection_block_refuses_the_registration_whole() -> None:
    bad = ev_pool(charge_points=[{"charge_point_id": "CP 1", "connectors": [{"connector_id": 1}]}])
    errors = connection_errors(district(enterprise("acme", [bad])))
    assert any("charge_point_id" in e for e in errors)
    assert any("exactly one of max_kw and max_a" in e for e in errors)
    assert connection_errors(district(enterprise("acme", [ev_pool()]))) == []


async def test_security_profile_2_tls_with_a_password_issued_to_the_file(tmp_path: Path) -> None:
    if find_openssl() is None:
        pytest.fail("openssl is not installed")
    certs = make_certificates(tmp_path / "certs")
    password_file = tmp_path / "ocpp.passwd"
    password = issue_password(password_file, "CP1")
    assert password not in password_file.read_text()
    settings = OcppServerSettings(
        host="127.0.0.1",
        port=0,
        password_file=password_file,
        tls_cert=certs.broker_cert,
        tls_key=certs.broker_key,
    )
    d = district(enterprise("acme", [ev_pool()]))
    adapter = OcppAdapter(settings, list(d.resources()), Clock(at(10)))
    await adapter.start(lambda message: None)
    url = f"wss://127.0.0.1:{adapter.system.port}"
    trust = ssl.create_default_context(cafile=str(certs.ca_file))
    try:
        async with charge_point(url, "CP1", password, ssl=trust) as cp1:
            assert (await cp1.boot()).status == "Accepted"
        other = issue_password(password_file, "CP2")  # while the service runs
        async with charge_point(url, "CP2", other, ssl=trust) as cp2:
            assert (await cp2.boot()).status == "Accepted"
        with pytest.raises(InvalidStatus):
            async with charge_point(url, "CP1", other, ssl=trust):
                pass
    finally:
        await adapter.close()


async def test_a_pool_registered_later_is_reached_once_followed(system: Any) -> None:
    adapter, inbound, clock, url = system
    later = ev_pool(
        charge_points=[{"charge_point_id": "CP9", "connectors": [{"connector_id": 1, "max_kw": 7}]}]
    )
    later["resource_id"] = "ev2"
    d = district(enterprise("acme", [ev_pool(), later]))
    adapter.follow(list(d.resources()))
    async with charge_point(url, "CP9", PASSWORD) as cp9:
        tx = await cp9.start_tx(1, clock.t)
        await cp9.meter(1, 5000.0, clock.t, tx)
        reading = await next_of(inbound, TelemetryReceived)
    assert (reading.resource_id, reading.telemetry.power_kw) == ("ev2", pytest.approx(5.0))


def test_a_charge_point_id_in_two_pools_is_refused_at_start_and_left_out_later() -> None:
    twin = ev_pool()
    twin["resource_id"] = "ev2"
    refs = list(district(enterprise("acme", [ev_pool(), twin])).resources())
    settings = OcppServerSettings(port=0)
    with pytest.raises(ProtocolNotConfiguredError, match="'CP1' is already in acme-site/ev"):
        OcppAdapter(settings, refs, Clock(at(10)))
    adapter = OcppAdapter(settings, refs[:1], Clock(at(10)))
    adapter.follow(refs, strict=False)
    assert set(adapter.system.known) == {"CP1", "CP2"}


async def test_a_power_setpoint_to_a_pool_is_rejected_and_never_applied(system: Any) -> None:
    adapter, inbound, clock, url = system
    async with charge_point(url, "CP1", PASSWORD) as cp1:
        await cp1.start_tx(1, clock.t)
        await adapter.send([limit(-5.0, clock.t, mode=SetpointMode.POWER)])
        ack = await next_of(inbound, AckReceived)
    assert ack.ack.status is AckStatus.REJECTED
    assert adapter.in_force(clock.t) == []
    assert cp1.profiles.empty()
