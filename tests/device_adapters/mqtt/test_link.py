"""MqttLink against a real Mosquitto: delivery, wills, and riding out a broker restart."""

import asyncio
import contextlib
import json
import logging

import pytest

from mosquitto_broker import unique_site_id, wait_until
from vpp.device_adapters import Traffic, Will
from vpp.device_adapters.mqtt import Channel, MqttLink, MqttUrlError, Topic, parse_url

#: Small back-off so restart tests stay fast [s].
FAST = {"backoff_initial_s": 0.02, "backoff_max_s": 0.1}


class Inbox:
    """Collects what a link delivers."""

    def __init__(self):
        self.messages: list[tuple[str, bytes]] = []

    def __call__(self, topic: str, payload: bytes) -> None:
        self.messages.append((topic, payload))

    def on(self, topic: str) -> list[bytes]:
        return [p for t, p in self.messages if t == topic]


@pytest.fixture
def site(request):
    return unique_site_id(request.node.name)


@contextlib.asynccontextmanager
async def started(link: MqttLink, subscriptions=(), inbox: Inbox | None = None):
    if inbox is not None:
        link.on_message(inbox)
    await link.start(tuple(subscriptions))
    try:
        yield link
    finally:
        await link.close()


def status_payload(state: str) -> bytes:
    return json.dumps({"state": state, "ts": "2026-07-15T11:00:00+08:00"}).encode()


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("mqtt://127.0.0.1:18830", "127.0.0.1", 18830),
        ("mqtt://broker.example", "broker.example", 1883),
        ("mqtt://broker:1884/", "broker", 1884),
    ],
    ids=["host-port", "default-port", "trailing-slash"],
)
def test_parse_url_reads_host_and_port(url, host, port):
    """mqtt://host[:port] gives the host and the port, 1883 when none is named."""
    assert parse_url(url) == (host, port)


@pytest.mark.parametrize(
    "url",
    [
        "tcp://127.0.0.1:1883",
        "127.0.0.1:1883",
        "mqtt://:1883",
        "mqtt://host:port",
        "mqtt://host:70000",
        "mqtt://host:0",
        "mqtt://host:1883/vpp",
        "mqtt://user:secret@host:1883",
        "",
    ],
    ids=[
        "scheme",
        "no-scheme",
        "no-host",
        "text-port",
        "port-range",
        "port-0",
        "path",
        "userinfo",
        "empty",
    ],
)
def test_mqtt_link_refuses_bad_url(url):
    """A URL that is not mqtt://host:port raises a ValueError naming `url` and the value."""
    with pytest.raises(MqttUrlError) as exc_info:
        MqttLink(url, "c")
    assert isinstance(exc_info.value, ValueError)
    assert str(exc_info.value).startswith(f"url {url!r}: ")


async def test_publish_not_started_returns_false():
    """Before start there is no connection: publish drops the message and counts it."""
    traffic = Traffic()
    link = MqttLink("mqtt://127.0.0.1:1", "idle", traffic=traffic)
    assert not await link.publish("a/b", b"x")
    assert (link.stats.dropped, traffic.dropped, link.stats.published) == (1, 1, 0)


@pytest.mark.broker
async def test_publish_subscribe_round_trip(mosquitto, site):
    """A message published by one link reaches a subscriber byte for byte, counted on both."""
    traffic = Traffic()
    topic = str(Topic(site, "chiller", Channel.TELEMETRY))
    inbox = Inbox()
    async with (
        started(
            MqttLink(mosquitto.url, f"{site}-sub", traffic=traffic),
            [f"vpp/v1/{site}/+/telemetry"],
            inbox,
        ) as sub,
        started(MqttLink(mosquitto.url, f"{site}-pub", traffic=traffic)) as pub,
    ):
        assert sub.connected
        assert pub.connected
        assert await pub.publish(topic, b'{"power_kw": 1}')
        assert await pub.publish(f"vpp/v1/{site}/other/ack", b"not for sub")
        await wait_until(lambda: inbox.messages, "the telemetry message")
        await asyncio.sleep(0.05)  # the ack, were it wrongly delivered, would be here by now
    assert inbox.messages == [(topic, b'{"power_kw": 1}')]
    assert (pub.stats.published, sub.stats.received, sub.stats.connects) == (2, 1, 1)
    assert (traffic.published, traffic.received) == (2, 1)


@pytest.mark.broker
async def test_start_awaits_connect_handler_after_subscribing(mosquitto, site):
    """on_connect runs once the subscriptions are in place: what it publishes comes back."""
    topic = f"vpp/v1/{site}/status"
    inbox = Inbox()
    link = MqttLink(mosquitto.url, f"{site}-gw")

    async def announce():
        assert await link.publish(topic, status_payload("online"), retain=True)

    link.on_connect(announce)
    async with started(link, [topic], inbox):
        await wait_until(lambda: inbox.on(topic), "the gateway's own status")
    assert inbox.on(topic) == [status_payload("online")]


@pytest.mark.broker
async def test_kill_makes_broker_publish_retained_will(mosquitto, site, caplog):
    """A killed link sends no DISCONNECT: the broker publishes its will, retained."""
    caplog.set_level(logging.WARNING)
    status = f"vpp/v1/{site}/status"
    gateway = MqttLink(mosquitto.url, f"{site}-gw", will=Will(status, status_payload("offline")))
    watcher_inbox = Inbox()
    async with started(MqttLink(mosquitto.url, f"{site}-watch"), [status], watcher_inbox):
        await gateway.start()
        assert await gateway.publish(status, status_payload("online"), retain=True)
        await wait_until(lambda: watcher_inbox.on(status), "online status")
        gateway.kill()
        assert not gateway.connected
        await wait_until(lambda: len(watcher_inbox.on(status)) == 2, "the will", timeout_s=3)
        await gateway.close()  # after kill: only waits for the task to end
    assert watcher_inbox.on(status) == [status_payload("online"), status_payload("offline")]
    late_inbox = Inbox()  # a subscriber arriving later sees the will retained
    async with started(MqttLink(mosquitto.url, f"{site}-late"), [status], late_inbox):
        await wait_until(lambda: late_inbox.messages, "retained will")
    assert late_inbox.on(status) == [status_payload("offline")]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.mark.broker
async def test_close_does_not_publish_will(mosquitto, site):
    """A clean close sends DISCONNECT: the broker discards the will."""
    status = f"vpp/v1/{site}/status"
    inbox = Inbox()
    async with started(MqttLink(mosquitto.url, f"{site}-watch"), [status], inbox):
        gateway = MqttLink(
            mosquitto.url, f"{site}-gw", will=Will(status, status_payload("offline"))
        )
        await gateway.start()
        await gateway.close()
        assert not gateway.connected
        await asyncio.sleep(0.3)
    assert inbox.messages == []


@pytest.mark.broker
async def test_handler_failure_is_counted_and_link_keeps_reading(mosquitto, site):
    """An exception in on_message is logged and counted; the next message still arrives."""
    topic = f"vpp/v1/{site}/r/telemetry"
    seen: list[bytes] = []

    def fragile(topic: str, payload: bytes) -> None:
        if payload == b"boom":
            raise RuntimeError("handler bug")
        seen.append(payload)

    async with (
        started(MqttLink(mosquitto.url, f"{site}-sub"), [topic]) as sub,
        started(MqttLink(mosquitto.url, f"{site}-pub")) as pub,
    ):
        sub.on_message(fragile)
        assert await pub.publish(topic, b"boom")
        assert await pub.publish(topic, b"fine")
        await wait_until(lambda: seen, "the message after the failing one")
        assert sub.connected
    assert seen == [b"fine"]
    assert sub.stats.errors == {"handler": 1}
    assert sub.stats.received == 2


@pytest.mark.broker
async def test_broker_restart_reconnects_and_resubscribes(mosquitto, site):
    """Broker gone: links notice, publish returns False; back: they reconnect and resubscribe."""
    topic = f"vpp/v1/{site}/r/setpoint"
    traffic = Traffic()
    inbox = Inbox()
    connects: list[str] = []
    sub = MqttLink(mosquitto.url, f"{site}-sub", **FAST)
    pub = MqttLink(mosquitto.url, f"{site}-pub", traffic=traffic, **FAST)

    async def on_connect():
        connects.append("sub")

    sub.on_connect(on_connect)
    async with started(sub, [topic], inbox), started(pub):
        assert await pub.publish(topic, b"before")
        await wait_until(lambda: inbox.messages, "message before the outage")

        mosquitto.stop()
        await wait_until(lambda: not sub.connected and not pub.connected, "links to notice")
        assert not await pub.publish(topic, b"during")
        assert (pub.stats.dropped, traffic.dropped) == (1, 1)
        await asyncio.sleep(0.3)  # several failed attempts, backing off
        assert sub.stats.errors["connection"] >= 2

        mosquitto.start()
        await wait_until(lambda: sub.connected and pub.connected, "reconnection", timeout_s=3)
        assert await pub.publish(topic, b"after")
        await wait_until(lambda: len(inbox.messages) == 2, "message after the restart")
    assert inbox.on(topic) == [b"before", b"after"]
    assert (sub.stats.connects, pub.stats.connects) == (2, 2)
    assert connects == ["sub", "sub"]


@pytest.mark.broker
async def test_start_returns_when_broker_is_down_and_connects_later(mosquitto, site):
    """start never blocks on a missing broker; the link connects once the broker is up."""
    mosquitto.stop()
    link = MqttLink(mosquitto.url, f"{site}-early", **FAST)
    async with asyncio.timeout(1):
        await link.start()
    assert not link.connected
    assert link.stats.errors == {"connection": 1}
    try:
        mosquitto.start()
        await wait_until(lambda: link.connected, "the first connection", timeout_s=3)
        assert link.stats.connects == 1
    finally:
        await link.close()
    assert not link.connected


@pytest.mark.broker
async def test_publish_in_flight_when_connection_drops_returns_false(mosquitto, site):
    """A publish waiting for its PUBACK when the connection dies returns False at once."""
    link = MqttLink(mosquitto.url, f"{site}-pub", **FAST)
    async with started(link):
        mosquitto.stop()  # the link has not noticed yet: publish is handed to aiomqtt
        async with asyncio.timeout(2):  # not aiomqtt's 10 s PUBACK timeout
            ok = await link.publish(f"vpp/v1/{site}/r/ack", b"x")
        assert not ok
        assert link.stats.dropped == 1


async def test_link_delivers_a_burst_of_every_size_and_qos_in_order_byte_for_byte(mosquitto, site):
    """Many packets a read, taken from one read-ahead buffer: QoS 0 and 1, retained, tiny,
    ~100 KiB (across buffer ends) and non-ASCII topics all arrive whole and in order."""
    received: list[tuple[str, bytes]] = []
    subscriber = MqttLink(mosquitto.url, f"{site}-sub")
    subscriber.on_message(lambda topic, payload: received.append((topic, payload)))
    publisher = MqttLink(mosquitto.url, f"{site}-pub")
    await subscriber.start((f"{site}/#",))
    await publisher.start()
    sent: list[tuple[str, bytes]] = []
    try:
        for i in range(1_200):
            topic = f"{site}/{'zähler' if i % 7 == 0 else 'meter'}/{i % 13}"
            size = 100_000 + i if i % 400 == 200 else (i * 37) % 300
            payload = (bytes(range(256)) * (size // 256 + 1))[i % 256 :][:size]
            qos = 1 if i % 11 == 0 else 0
            assert await publisher.publish(topic, payload, qos=qos, retain=i % 97 == 5)
            sent.append((topic, payload))
        await wait_until(lambda: len(received) >= len(sent), "every message", timeout_s=30)
    finally:
        await publisher.close()
        await subscriber.close()
    assert received == sent
