"""The controller's ContractAdapter on MqttLink, against a fake gateway on a real Mosquitto."""

import asyncio
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from mosquitto_broker import unique_site_id, wait_until
from vpp.device_adapters import AckReceived, ContractAdapter, TelemetryReceived, decode
from vpp.device_adapters.mqtt import Channel, MqttLink, Topic, mqtt_adapter
from vpp.domain import Setpoint, SetpointMode, SetpointPayload

pytestmark = pytest.mark.broker

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 7, 15, 11, 0, tzinfo=TZ)


class FakeGateway:
    """Answers every setpoint of its site with an ``accepted`` ack, and remembers it."""

    def __init__(self, url: str, site_id: str, **link_options):
        self.site_id = site_id
        self.link = MqttLink(url, f"{site_id}-gw", **link_options)
        self.link.on_message(self._on_message)
        self.received: list[SetpointPayload] = []
        self._tasks: set[asyncio.Task[bool]] = set()

    async def start(self):
        await self.link.start((f"vpp/v1/{self.site_id}/+/setpoint",))

    async def close(self):
        await self.link.close()

    def command_ids(self) -> list[str]:
        return [s.command_id for s in self.received]

    def _on_message(self, topic: str, payload: bytes) -> None:
        parsed, setpoint = decode(topic, payload)
        assert isinstance(setpoint, SetpointPayload)
        self.received.append(setpoint)
        ack = Topic(parsed.site_id, parsed.resource_id, Channel.ACK)
        body = json.dumps({"command_id": setpoint.command_id, "status": "accepted"}).encode()
        task = asyncio.create_task(self.link.publish(str(ack), body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


@pytest.fixture
def site(request):
    return unique_site_id(request.node.name)


def setpoint(site_id: str, command_id: str, interval: int = 0) -> Setpoint:
    """A 15-minute limit for the site's chiller, ``interval`` quarter-hours after T0."""
    valid_from = T0 + timedelta(minutes=15 * interval)
    return Setpoint(
        command_id=command_id,
        site_id=site_id,
        resource_id="chiller",
        issued_at=T0 - timedelta(minutes=30),
        mode=SetpointMode.LIMIT,
        power_kw=300.0,
        valid_from=valid_from,
        valid_until=valid_from + timedelta(minutes=15),
    )


async def test_setpoint_acked_by_gateway_arrives_as_ack_received(mosquitto, site):
    """A setpoint reaches the gateway; its ack comes back matched to the setpoint."""
    inbound = []
    adapter = ContractAdapter(MqttLink(mosquitto.url, f"{site}-ctl"), lambda: T0)
    gateway = FakeGateway(mosquitto.url, site)
    await gateway.start()
    await adapter.start(inbound.append)
    try:
        sent = setpoint(site, "c-1")
        assert await adapter.send([sent]) == 1
        await wait_until(lambda: inbound, "the ack")
    finally:
        await adapter.close()
        await gateway.close()
    assert gateway.command_ids() == ["c-1"]
    (ack,) = inbound
    assert isinstance(ack, AckReceived)
    assert (ack.site_id, ack.resource_id, ack.setpoint) == (site, "chiller", sent)
    assert adapter.awaiting_ack() == []
    assert adapter.stats.sent == 1
    assert adapter.stats.received == {"ack": 1}


async def test_broker_restart_resends_setpoints_in_force(mosquitto, site):
    """After a broker restart the adapter re-sends what is in force; the gateway gets it again."""
    inbound = []
    now = T0 + timedelta(minutes=5)
    # the gateway reconnects well before the controller, so it is subscribed for the re-send
    gateway = FakeGateway(mosquitto.url, site, backoff_initial_s=0.01, backoff_max_s=0.02)
    controller = MqttLink(mosquitto.url, f"{site}-ctl", backoff_initial_s=0.2, backoff_max_s=0.3)
    adapter = ContractAdapter(controller, lambda: now)
    await gateway.start()
    await adapter.start(inbound.append)
    try:
        assert await adapter.send([setpoint(site, "lapsed", -1), setpoint(site, "in-force")]) == 2
        await wait_until(lambda: len(inbound) == 2, "both acks")

        mosquitto.restart()
        await wait_until(lambda: adapter.stats.reconnects == 1, "the reconnection")
        await wait_until(lambda: adapter.stats.duplicate_acks == 1, "the re-send's ack")
        # a round trip after the re-send: whatever was re-sent has reached the gateway by
        # the time this one's ack is back (one connection, sent in order)
        assert await adapter.send([setpoint(site, "probe")]) == 1
        await wait_until(lambda: len(inbound) == 3, "the probe's ack")
    finally:
        await adapter.close()
        await gateway.close()
    assert gateway.command_ids() == ["lapsed", "in-force", "in-force", "probe"]
    assert adapter.stats.resent == 1
    assert adapter.stats.duplicate_acks == 1  # the gateway answered the re-send again


BAD = [
    ("{site}/r/telemetry", b"\xff\xfe not utf-8", "not_json"),
    ("{site}/r/telemetry", b"[1, 2", "not_json"),
    ("{site}/r/ack", b'{"command_id": "' + b"x" * 5000 + b'"}', "oversized"),
    ("{site}/r/ack", b'{"command_id": 7, "status": "accepted"}', "invalid"),
    ("{site}/r/telemetry", b'{"ts": "2026-07-15T11:00:00+08:00", "power_kw": "lots"}', "invalid"),
    ("{site}/status", b'{"state": "asleep", "ts": "2026-07-15T11:00:00+08:00"}', "invalid"),
    ("{site}/status", b'{"state": "online"}', "invalid"),
    ("Not-A-Slug/r/telemetry", b"{}", "topic"),
    ("{site}/r/setpoint", b"garbage", None),  # not a topic the controller subscribes to
]


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    BAD,
    ids=[
        "telemetry-not-utf8",
        "telemetry-truncated",
        "ack-oversized",
        "ack-wrong-type",
        "telemetry-wrong-type",
        "status-unknown-state",
        "status-missing-field",
        "bad-site-slug",
        "setpoint-garbage",
    ],
)
async def test_malformed_payload_is_counted_and_adapter_keeps_working(
    mosquitto, site, topic, payload, reason
):
    """Garbage on any topic is counted by reason; the telemetry after it still arrives."""
    inbound = []
    adapter = ContractAdapter(MqttLink(mosquitto.url, f"{site}-ctl"), lambda: T0)
    rogue = MqttLink(mosquitto.url, f"{site}-rogue")
    await adapter.start(inbound.append)
    await rogue.start()
    good = json.dumps({"ts": T0.isoformat(), "power_kw": 250.0}).encode()
    try:
        assert await rogue.publish(f"vpp/v1/{topic.format(site=site)}", payload)
        assert await rogue.publish(f"vpp/v1/{site}/r/telemetry", good)
        await wait_until(lambda: inbound, "telemetry after the malformed message")
    finally:
        await rogue.close()
        await adapter.close()
    assert adapter.stats.malformed == ({} if reason is None else {reason: 1})
    (telemetry,) = inbound
    assert isinstance(telemetry, TelemetryReceived)
    assert telemetry.telemetry.power_kw == 250.0
    assert adapter.link.stats.errors == {}


async def test_mqtt_adapter_builds_contract_adapter_on_mqtt_link(mosquitto, site):
    """mqtt_adapter(url, now) is a ContractAdapter over an MqttLink with the given client id."""
    adapter = mqtt_adapter(mosquitto.url, lambda: T0, client_id=f"{site}-ctl")
    assert isinstance(adapter.link, MqttLink)
    assert adapter.link.client_id == f"{site}-ctl"
    await adapter.start(lambda message: None)
    try:
        assert adapter.link.connected
    finally:
        await adapter.close()
