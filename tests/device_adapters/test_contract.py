"""ContractAdapter over the in-memory broker: acks, leases, re-sends and garbage."""

import asyncio
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from mosquitto_broker import wait_until
from vpp.device_adapters import (
    AckReceived,
    ContractAdapter,
    InMemoryBroker,
    InMemoryLink,
    StatusReceived,
    TelemetryReceived,
    decode,
)
from vpp.device_adapters.mqtt import Channel, Topic
from vpp.domain import GatewayState, Setpoint, SetpointMode, SetpointPayload

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 7, 15, 11, 0, tzinfo=TZ)
SITE = "mall"


class Clock:
    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def setpoint(
    command_id: str,
    resource_id: str = "chiller",
    interval: int = 0,
    mode: SetpointMode = SetpointMode.LIMIT,
    issued_min: int = -30,
) -> Setpoint:
    """A 15-minute command ``interval`` quarter-hours after T0, issued ``issued_min`` from T0."""
    valid_from = T0 + timedelta(minutes=15 * interval)
    return Setpoint(
        command_id=command_id,
        site_id=SITE,
        resource_id=resource_id,
        issued_at=T0 + timedelta(minutes=issued_min),
        mode=mode,
        power_kw=0.0 if mode is SetpointMode.RELEASE else 300.0,
        valid_from=valid_from,
        valid_until=valid_from + timedelta(minutes=15),
    )


class Gateway:
    """The site's gateway: records setpoints, answers only when told to."""

    def __init__(self, broker: InMemoryBroker):
        self.link = broker.link("gw")
        self.link.on_message(self._on_message)
        self.received: list[SetpointPayload] = []

    async def start(self):
        await self.link.start((f"vpp/v1/{SITE}/+/setpoint",))

    def command_ids(self) -> list[str]:
        return [s.command_id for s in self.received]

    async def ack(self, command_id: str, resource_id: str = "chiller", status="accepted"):
        topic = Topic(SITE, resource_id, Channel.ACK)
        payload = json.dumps({"command_id": command_id, "status": status}).encode()
        assert await self.link.publish(str(topic), payload)

    def _on_message(self, topic: str, payload: bytes) -> None:
        _, value = decode(topic, payload)
        assert isinstance(value, SetpointPayload)
        self.received.append(value)


class Rig:
    """A broker, a controller adapter and one gateway, all started."""

    def __init__(self):
        self.broker = InMemoryBroker()
        self.clock = Clock()
        self.adapter = ContractAdapter(self.broker.link("ctl"), self.clock)
        self.gateway = Gateway(self.broker)
        self.inbound: list[object] = []

    async def start(self):
        await self.gateway.start()
        await self.adapter.start(self.inbound.append)

    async def close(self):
        await self.adapter.close()
        await self.gateway.link.close()

    def acks(self) -> list[AckReceived]:
        return [m for m in self.inbound if isinstance(m, AckReceived)]


@pytest.fixture
async def rig():
    rig = Rig()
    await rig.start()
    yield rig
    await rig.close()


async def settle():
    for _ in range(5):
        await asyncio.sleep(0)


async def test_send_delivers_setpoints_and_counts_them(rig):
    """send publishes each setpoint on its resource's topic and returns how many went out."""
    assert await rig.adapter.send([setpoint("c-1"), setpoint("c-2", "pump")]) == 2
    await settle()
    assert rig.gateway.command_ids() == ["c-1", "c-2"]
    assert rig.adapter.stats.sent == 2
    assert [s.command_id for s in rig.adapter.awaiting_ack()] == ["c-1", "c-2"]


async def test_acks_matched_by_command_id(rig):
    """Acks answer their own setpoint, whatever order they come in."""
    first, second = setpoint("c-1"), setpoint("c-2", "pump")
    await rig.adapter.send([first, second])
    await rig.gateway.ack("c-2", "pump")
    await rig.gateway.ack("c-1", status="rejected")
    await settle()
    assert [(a.ack.command_id, a.setpoint) for a in rig.acks()] == [("c-2", second), ("c-1", first)]
    assert rig.acks()[1].ack.status.value == "rejected"
    assert rig.adapter.awaiting_ack() == []


async def test_duplicate_ack_ignored_and_counted(rig):
    """QoS 1 may deliver an ack twice: the second is counted, not reported."""
    await rig.adapter.send([setpoint("c-1")])
    await rig.gateway.ack("c-1")
    await rig.gateway.ack("c-1")
    await settle()
    assert len(rig.acks()) == 1
    assert rig.adapter.stats.duplicate_acks == 1
    assert rig.adapter.stats.unknown_acks == 0


async def test_unknown_ack_counted(rig):
    """An ack for a command never sent is counted and not reported."""
    await rig.gateway.ack("never-sent")
    await settle()
    assert rig.inbound == []
    assert rig.adapter.stats.unknown_acks == 1


async def test_ack_from_wrong_resource_not_matched(rig):
    """An ack on another resource's topic does not answer the setpoint; the right one does."""
    await rig.adapter.send([setpoint("c-1", "chiller")])
    await rig.gateway.ack("c-1", "pump")
    await settle()
    assert rig.acks() == []
    assert rig.adapter.stats.malformed == {"ack_wrong_resource": 1}
    assert [s.command_id for s in rig.adapter.awaiting_ack()] == ["c-1"]
    await rig.gateway.ack("c-1", "chiller")
    await settle()
    assert [a.resource_id for a in rig.acks()] == ["chiller"]


async def test_release_cancels_earlier_commands(rig):
    """A release retires every earlier command to the resource; their late acks are no news."""
    await rig.adapter.send([setpoint("c-1", interval=0), setpoint("c-2", interval=1)])
    await rig.adapter.send([setpoint("other", "pump", interval=1)])
    release = setpoint("rel", interval=0, mode=SetpointMode.RELEASE, issued_min=-10)
    await rig.adapter.send([release])
    in_force = {s.command_id for s in rig.adapter.in_force(T0)}
    assert in_force == {"rel", "other"}
    assert {s.command_id for s in rig.adapter.awaiting_ack()} == {"rel", "other"}
    await rig.gateway.ack("c-2")
    await settle()
    assert rig.acks() == []
    assert (rig.adapter.stats.duplicate_acks, rig.adapter.stats.unknown_acks) == (1, 0)


async def test_release_keeps_later_commands(rig):
    """A command issued after the release is not cancelled by it."""
    release = setpoint("rel", interval=0, mode=SetpointMode.RELEASE, issued_min=-20)
    await rig.adapter.send([release, setpoint("later", interval=1, issued_min=-10)])
    assert {s.command_id for s in rig.adapter.in_force(T0)} == {"rel", "later"}


async def test_newer_command_for_same_interval_replaces_older(rig):
    """Re-planning an interval replaces its command; only the newest stays in force."""
    await rig.adapter.send([setpoint("old", issued_min=-30), setpoint("new", issued_min=-5)])
    assert [s.command_id for s in rig.adapter.in_force(T0)] == ["new"]
    assert [s.command_id for s in rig.adapter.awaiting_ack()] == ["new"]


async def test_in_force_drops_lapsed_leases(rig):
    """A lease whose valid_until has passed is no longer in force."""
    await rig.adapter.send([setpoint("a", interval=0), setpoint("b", interval=1)])
    assert {s.command_id for s in rig.adapter.in_force(T0)} == {"a", "b"}
    assert [s.command_id for s in rig.adapter.in_force(T0 + timedelta(minutes=15))] == ["b"]
    assert rig.adapter.in_force(T0 + timedelta(minutes=30)) == []


async def test_outage_and_restart_resend_setpoints_in_force(rig):
    """After the broker comes back, the setpoints still in force go out again; lapsed ones not."""
    await rig.adapter.send([setpoint("lapsed", interval=0), setpoint("current", interval=1)])
    await settle()
    rig.broker.stop()
    assert await rig.adapter.send([setpoint("while-down", interval=2)]) == 0
    assert rig.adapter.stats.send_failed == 1
    rig.clock.now = T0 + timedelta(minutes=20)
    rig.broker.restart()
    await wait_until(lambda: rig.adapter.stats.reconnects == 1, "reconnection", timeout_s=1)
    await settle()
    assert rig.gateway.command_ids() == ["lapsed", "current", "current", "while-down"]
    assert rig.adapter.stats.resent == 2


async def test_setpoints_sent_before_first_connection_go_out_on_connect():
    """The broker is down when the adapter starts: what it sends meanwhile goes out later."""
    rig = Rig()
    await rig.gateway.start()
    rig.broker.stop()
    await rig.adapter.start(rig.inbound.append)
    assert not rig.adapter.link.connected
    assert await rig.adapter.send([setpoint("early")]) == 0
    rig.broker.restart()
    await wait_until(lambda: rig.gateway.received, "the early setpoint", timeout_s=1)
    assert rig.gateway.command_ids() == ["early"]
    assert rig.adapter.stats.resent == 1
    assert rig.adapter.stats.reconnects == 0  # the first connection is no reconnection
    await rig.close()


async def test_telemetry_and_status_reported(rig):
    """Telemetry and gateway status arrive decoded, with their site and resource."""
    telemetry = {"ts": "2026-07-15T11:00:05+08:00", "power_kw": 640.0, "soc": 0.5}
    status = {"state": "online", "ts": "2026-07-15T11:00:00+08:00"}
    await rig.gateway.link.publish(
        str(Topic(SITE, "bess", Channel.TELEMETRY)), json.dumps(telemetry).encode()
    )
    await rig.gateway.link.publish(
        str(Topic(SITE, None, Channel.STATUS)), json.dumps(status).encode()
    )
    await settle()
    first, second = rig.inbound
    assert isinstance(first, TelemetryReceived)
    assert (first.key, first.telemetry.soc) == ("mall/bess", 0.5)
    assert isinstance(second, StatusReceived)
    assert second.status.state is GatewayState.ONLINE
    assert rig.adapter.stats.received == {"telemetry": 1, "status": 1}


GARBAGE = [
    ("vpp/v1/mall/chiller/telemetry", b"\x00\xff", "not_json"),
    ("vpp/v1/mall/chiller/telemetry", b'{"ts": "yesterday", "power_kw": 1}', "invalid"),
    ("vpp/v1/mall/chiller/ack", b"x" * 5000, "oversized"),
    ("vpp/v1/mall/chiller/ack", b'{"command_id": "c", "status": "accepted", "x": 1}', "invalid"),
    ("vpp/v1/mall/status", b"{}", "invalid"),
    ("vpp/v1/mall/status", b"null", "invalid"),
    ("vpp/v1/mall/chiller/setpoint", b"{}", "invalid"),
    (
        "vpp/v1/mall/chiller/setpoint",
        SetpointPayload.model_validate(
            setpoint("echo").model_dump(exclude={"site_id", "resource_id"})
        )
        .model_dump_json()
        .encode(),
        "unexpected_channel",
    ),
    ("vpp/v1/mall/chiller/status", b"{}", "topic"),
    ("elsewhere/entirely", b"{}", "topic"),
]


async def test_garbage_on_every_topic_counted_and_adapter_keeps_running():
    """Every kind of garbage is counted by reason; a good ack after it is still matched."""
    broker = InMemoryBroker()
    link = broker.link("ctl")
    adapter = ContractAdapter(link, Clock())
    inbound: list[object] = []
    await adapter.start(inbound.append)
    # the controller subscribes to neither setpoints nor foreign topics; make it hear them all
    link.subscriptions = ("#",)
    rogue: InMemoryLink = broker.link("rogue")
    await rogue.start()
    for topic, payload, _ in GARBAGE:
        assert await rogue.publish(topic, payload)
    await adapter.send([setpoint("good")])
    await rogue.publish("vpp/v1/mall/chiller/ack", b'{"command_id": "good", "status": "accepted"}')
    await settle()
    expected = {"unexpected_channel": 1}  # its own setpoint "good", heard through "#"
    for _, _, reason in GARBAGE:
        expected[reason] = expected.get(reason, 0) + 1
    assert adapter.stats.malformed == expected
    assert [type(m) for m in inbound] == [AckReceived]
    assert adapter.link.stats.errors == {}
    await adapter.close()
    await rogue.close()


async def test_adapter_without_telemetry_leaves_it_to_the_workers():
    """telemetry=False: acks and statuses still arrive, telemetry is not subscribed at all."""
    broker = InMemoryBroker()
    link = InMemoryLink(broker, "vpp-controller")
    adapter = ContractAdapter(link, lambda: T0, telemetry=False)
    await adapter.start(lambda message: None)
    try:
        assert "vpp/v1/+/+/telemetry" not in link.subscriptions
        assert {"vpp/v1/+/+/ack", "vpp/v1/+/status"} <= set(link.subscriptions)
    finally:
        await adapter.close()
