"""The in-memory broker: MQTT's filters, retained messages, wills and outages, in process."""

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mosquitto_broker import wait_until
from vpp.device_adapters import InMemoryBroker, InMemoryLink, Will
from vpp.device_adapters.mqtt.topics import topic_matches

STATUS = "vpp/v1/mall/status"


class Inbox:
    """Collects what a link delivers."""

    def __init__(self):
        self.messages: list[tuple[str, bytes]] = []

    def __call__(self, topic: str, payload: bytes) -> None:
        self.messages.append((topic, payload))


async def subscriber(broker: InMemoryBroker, client_id: str, *filters: str):
    inbox = Inbox()
    link = broker.link(client_id)
    link.on_message(inbox)
    await link.start(filters)
    return link, inbox


async def settle():
    """Let every receive task run until the queues are empty."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_retained_message_delivered_on_subscribe():
    """A retained message reaches a client that subscribes after it was published."""
    broker = InMemoryBroker()
    gateway = broker.link("gw")
    await gateway.start()
    assert await gateway.publish(STATUS, b"online", retain=True)
    assert await gateway.publish("vpp/v1/mall/chiller/telemetry", b"not retained")
    link, inbox = await subscriber(broker, "ctl", "vpp/v1/#")
    await settle()
    assert inbox.messages == [(STATUS, b"online")]
    await link.close()
    await gateway.close()


async def test_empty_retained_payload_clears_retained_message():
    """Publishing an empty retained payload removes the retained message (MQTT semantics)."""
    broker = InMemoryBroker()
    gateway = broker.link("gw")
    await gateway.start()
    await gateway.publish(STATUS, b"online", retain=True)
    await gateway.publish(STATUS, b"", retain=True)
    link, inbox = await subscriber(broker, "ctl", STATUS)
    await settle()
    assert inbox.messages == []
    await link.close()
    await gateway.close()


@pytest.mark.parametrize(
    ("topic_filter", "delivered"),
    [
        ("vpp/v1/mall/chiller/telemetry", ["vpp/v1/mall/chiller/telemetry"]),
        ("vpp/v1/+/+/telemetry", ["vpp/v1/mall/chiller/telemetry", "vpp/v1/depot/ev-1/telemetry"]),
        ("vpp/v1/mall/+/+", ["vpp/v1/mall/chiller/telemetry", "vpp/v1/mall/chiller/ack"]),
        ("vpp/v1/+/status", ["vpp/v1/mall/status"]),
        (
            "vpp/v1/mall/#",
            ["vpp/v1/mall/chiller/telemetry", "vpp/v1/mall/chiller/ack", "vpp/v1/mall/status"],
        ),
        ("vpp/v1/mall", []),
    ],
    ids=["exact", "plus-plus", "site-plus", "status", "hash", "no-wildcard-prefix"],
)
async def test_topic_filter_selects_messages(topic_filter, delivered):
    """Only messages whose topic the filter covers (+ one level, # the rest) are delivered."""
    broker = InMemoryBroker()
    link, inbox = await subscriber(broker, "ctl", topic_filter)
    publisher = broker.link("pub")
    await publisher.start()
    for topic in [
        "vpp/v1/mall/chiller/telemetry",
        "vpp/v1/depot/ev-1/telemetry",
        "vpp/v1/mall/chiller/ack",
        "vpp/v1/mall/status",
    ]:
        await publisher.publish(topic, b"x")
    await settle()
    assert [topic for topic, _ in inbox.messages] == delivered
    await link.close()
    await publisher.close()


async def test_kill_publishes_will_retained():
    """A killed client's will reaches subscribers and stays retained for later ones."""
    broker = InMemoryBroker()
    link, inbox = await subscriber(broker, "ctl", STATUS)
    gateway = broker.link("gw", will=Will(STATUS, b"offline"))
    await gateway.start()
    gateway.kill()
    await settle()
    assert not gateway.connected
    assert inbox.messages == [(STATUS, b"offline")]
    late, late_inbox = await subscriber(broker, "late", STATUS)
    await settle()
    assert late_inbox.messages == [(STATUS, b"offline")]
    await link.close()
    await late.close()


async def test_close_does_not_publish_will():
    """A clean close says goodbye: no will."""
    broker = InMemoryBroker()
    link, inbox = await subscriber(broker, "ctl", STATUS)
    gateway = broker.link("gw", will=Will(STATUS, b"offline"))
    await gateway.start()
    await gateway.close()
    await settle()
    assert not gateway.connected
    assert inbox.messages == []
    await link.close()


async def test_outage_drops_connections_and_clients_reconnect_after_restart():
    """stop() drops every client (no wills); after restart they reconnect and resubscribe."""
    broker = InMemoryBroker()
    link, inbox = await subscriber(broker, "ctl", "vpp/v1/+/+/ack")
    connects = []

    async def on_connect():
        connects.append(link.stats.connects)

    link.on_connect(on_connect)
    gateway = broker.link("gw", will=Will(STATUS, b"offline"))
    await gateway.start()

    broker.stop()
    assert not broker.up
    assert not link.connected
    assert not gateway.connected
    assert not await gateway.publish("vpp/v1/mall/chiller/ack", b"lost")
    assert (gateway.stats.dropped, broker.traffic.dropped) == (1, 1)

    broker.restart()
    await wait_until(lambda: link.connected and gateway.connected, "reconnection", timeout_s=1)
    assert await gateway.publish("vpp/v1/mall/chiller/ack", b"after")
    await settle()
    assert inbox.messages == [("vpp/v1/mall/chiller/ack", b"after")]
    assert (link.stats.connects, gateway.stats.connects) == (2, 2)
    assert connects == [2]  # the handler was set after the first connection
    await link.close()
    await gateway.close()


async def test_retained_messages_survive_outage():
    """Retained messages are still there after a restart, as with a persistent Mosquitto."""
    broker = InMemoryBroker()
    gateway = broker.link("gw")
    await gateway.start()
    await gateway.publish(STATUS, b"online", retain=True)
    broker.stop()
    broker.restart()
    link, inbox = await subscriber(broker, "ctl", STATUS)
    await settle()
    assert inbox.messages == [(STATUS, b"online")]
    await link.close()
    await gateway.close()


async def test_traffic_counts_each_copy_delivered():
    """Traffic counts one per copy delivered and one per copy handled: nothing in flight after."""
    broker = InMemoryBroker()
    a, inbox_a = await subscriber(broker, "a", "vpp/v1/#")
    b, inbox_b = await subscriber(broker, "b", "vpp/v1/#")
    await a.publish(STATUS, b"x")
    assert broker.traffic.in_flight == 2
    await settle()
    assert (broker.traffic.published, broker.traffic.received) == (2, 2)
    assert broker.traffic.in_flight == 0
    assert len(inbox_a.messages) == len(inbox_b.messages) == 1
    await a.close()
    await b.close()


async def test_handler_failure_is_counted_and_link_keeps_reading():
    """An exception in on_message is counted; the next message is still handled."""
    broker = InMemoryBroker()
    seen = []

    def fragile(topic: str, payload: bytes) -> None:
        if payload == b"boom":
            raise RuntimeError("handler bug")
        seen.append(payload)

    link = broker.link("ctl")
    link.on_message(fragile)
    await link.start(("t",))
    await link.publish("t", b"boom")
    await link.publish("t", b"fine")
    await settle()
    assert seen == [b"fine"]
    assert link.stats.errors == {"handler": 1}
    await link.close()


async def test_second_connection_with_same_client_id_takes_over():
    """As in MQTT, a new connection with a client id in use drops the old one."""
    broker = InMemoryBroker()
    first: InMemoryLink = broker.link("gw")
    await first.start()
    second = broker.link("gw")
    await second.start()
    assert second.connected
    assert not first.connected
    first.kill()
    await second.close()


async def test_routes_follow_clients_that_come_and_go():
    """A topic already routed reaches a client that subscribes later, and no longer one
    that has left (the broker keeps a per-topic table of subscribers)."""
    broker = InMemoryBroker()
    publisher = broker.link("pub")
    await publisher.start()
    topic = "vpp/v1/mall/chiller/telemetry"
    _first, first_inbox = await subscriber(broker, "first", "vpp/v1/+/+/telemetry")
    await publisher.publish(topic, b"1")
    late, late_inbox = await subscriber(broker, "late", topic)
    await publisher.publish(topic, b"2")
    await settle()
    await late.close()
    await publisher.publish(topic, b"3")
    await settle()
    assert [p for _, p in first_inbox.messages] == [b"1", b"2", b"3"]
    assert [p for _, p in late_inbox.messages] == [b"2"]


async def test_retained_message_of_one_topic_reaches_only_its_own_filter():
    broker = InMemoryBroker()
    publisher = broker.link("pub")
    await publisher.start()
    await publisher.publish("vpp/v1/mall/status", b"mall", retain=True)
    await publisher.publish("vpp/v1/mallard/status", b"mallard", retain=True)
    _exact, exact_inbox = await subscriber(broker, "exact", "vpp/v1/mall/status")
    _wild, wild_inbox = await subscriber(broker, "wild", "vpp/v1/mall/+")
    await settle()
    assert exact_inbox.messages == [("vpp/v1/mall/status", b"mall")]
    assert wild_inbox.messages == [("vpp/v1/mall/status", b"mall")]


#: Valid filters only: "#" stands last, as a broker requires.
FILTERS = st.builds(
    lambda levels, multi: "/".join([*levels, "#"] if multi else levels),
    st.lists(st.sampled_from(["vpp", "v1", "a", "b", "+"]), min_size=0, max_size=4),
    st.booleans(),
).filter(bool)
TOPICS = st.lists(st.sampled_from(["vpp", "v1", "a", "b"]), min_size=1, max_size=4).map("/".join)


@settings(max_examples=300, deadline=None)
@given(filters=st.lists(FILTERS, min_size=1, max_size=6), topic=TOPICS)
def test_subscription_tree_routes_as_topic_matches_does(filters, topic):
    """The broker's tree of filter levels finds exactly the clients a filter-by-filter
    match would, each once."""
    broker = InMemoryBroker()
    clients = []
    for n, topic_filter in enumerate(filters):
        link = broker.link(f"c{n % 3}-{n}")
        link.subscriptions = (topic_filter, filters[0])
        broker._attach(link)
        clients.append(link)
    expected = {
        link.client_id
        for link in clients
        if any(topic_matches(topic, f) for f in link.subscriptions)
    }
    matched = [link.client_id for link in broker._subscribers.match(topic)]
    assert sorted(matched) == sorted(expected)


#: Retained operations: a topic and a payload (empty: clear the topic's retained message).
RETAINED_OPS = st.lists(st.tuples(TOPICS, st.sampled_from([b"", b"x", b"y"])), max_size=12)


@settings(max_examples=200, deadline=None)
@given(ops=RETAINED_OPS, topic_filter=FILTERS)
async def test_retained_delivery_on_subscribe_is_a_filter_by_filter_scan(ops, topic_filter):
    """The broker's index of retained topics by level prefix delivers exactly what scanning
    every retained message with :func:`topic_matches` would, in the same (retained) order."""
    broker = InMemoryBroker()
    expected: dict[str, bytes] = {}
    for topic, payload in ops:
        broker._route(topic, payload, retain=True)
        if payload:
            expected[topic] = payload
        else:
            expected.pop(topic, None)
    link, inbox = await subscriber(broker, "late", topic_filter)
    await settle()
    assert inbox.messages == [(t, p) for t, p in expected.items() if topic_matches(t, topic_filter)]
    await link.close()


async def test_routes_change_at_once_when_a_connected_client_resubscribes():
    """Routes are remembered per topic; new subscriptions replace them at once."""
    broker = InMemoryBroker()
    publisher = broker.link("pub")
    await publisher.start()
    link, inbox = await subscriber(broker, "sub", "vpp/v1/mall/+")
    await publisher.publish("vpp/v1/mall/status", b"1")
    link.subscriptions = ("vpp/v1/hotel/#",)
    await publisher.publish("vpp/v1/mall/status", b"2")
    await publisher.publish("vpp/v1/hotel/status", b"3")
    await settle()
    assert [p for _, p in inbox.messages] == [b"1", b"3"]
