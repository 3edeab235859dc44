"""An in-process broker with MQTT's semantics that matter here: topic filters, retained
messages, last wills, and outages that drop every connection.

It carries the same topics and payloads as Mosquitto does, so an embedded simulation
exercises the same contract code as a run over a real broker, only without the sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Iterable

from vpp.device_adapters.link import ConnectHandler, LinkStats, MessageHandler, Traffic, Will
from vpp.device_adapters.mqtt.topics import topic_matches

logger = logging.getLogger(__name__)


class InMemoryBroker:
    """Routes messages between :class:`InMemoryLink` clients of one event loop."""

    def __init__(self, traffic: Traffic | None = None) -> None:
        self.traffic = traffic or Traffic()
        self._clients: dict[str, InMemoryLink] = {}
        self._retained: dict[str, bytes] = {}
        # retained topics under each level prefix ("a/b/"), in retained order: a gateway
        # subscribing to its site's setpoints must not scan every site's retained status
        self._retained_under: dict[str, dict[str, None]] = {}
        # matching every filter of every client per message grows with the square of the
        # fleet (98% of a 10,000-device simulation's time); a tree of filter levels does not
        self._subscribers = _SubscriptionTree()
        self._up = True
        self._up_event = asyncio.Event()
        self._up_event.set()

    @property
    def up(self) -> bool:
        return self._up

    def link(self, client_id: str, *, will: Will | None = None) -> InMemoryLink:
        return InMemoryLink(self, client_id, will)

    def stop(self) -> None:
        """A broker outage: every connection drops; no wills (the broker itself is gone)."""
        self._up = False
        self._up_event.clear()
        for client in list(self._clients.values()):
            client._lost()
        self._clients.clear()
        self._subscribers = _SubscriptionTree()

    def restart(self) -> None:
        """The broker is back, retained messages intact (Mosquitto persists them)."""
        self._up = True
        self._up_event.set()

    async def wait_up(self) -> None:
        await self._up_event.wait()

    def _attach(self, client: InMemoryLink) -> bool:
        if not self._up:
            return False
        old = self._clients.get(client.client_id)
        if old is not None and old is not client:
            old._lost()  # MQTT: a second connection with the same id takes over
            self._subscribers.remove(old)
        self._clients[client.client_id] = client
        self._subscribers.add(client)
        return True

    def _detach(self, client: InMemoryLink, *, publish_will: bool) -> None:
        if self._clients.get(client.client_id) is client:
            del self._clients[client.client_id]
            self._subscribers.remove(client)
            if publish_will and client.will is not None:
                will = client.will
                self._route(will.topic, will.payload, will.retain)

    def _deliver_retained(self, client: InMemoryLink, topic_filter: str) -> None:
        if "+" not in topic_filter and "#" not in topic_filter:  # one topic: no scan
            payload = self._retained.get(topic_filter)
            if payload is not None:
                client._enqueue(topic_filter, payload)
            return
        levels = topic_filter.split("/")
        literal = next(i for i, level in enumerate(levels) if level in ("+", "#"))
        candidates: Iterable[str] = self._retained_under.get(_prefix(levels[:literal]), ())
        if literal > 0 and levels[literal] == "#":  # "a/#" covers "a" too, in retained order
            parent = "/".join(levels[:literal])
            if parent in self._retained:
                candidates = [t for t in self._retained if t == parent or t in candidates]
        for topic in candidates:
            if topic_matches(topic, topic_filter):
                client._enqueue(topic, self._retained[topic])

    def _route(self, topic: str, payload: bytes, retain: bool) -> None:
        if retain:
            self._retain(topic, payload)
        for client in self._subscribers.match(topic):
            client._enqueue(topic, payload)

    def _retain(self, topic: str, payload: bytes) -> None:
        """Keep (or with an empty payload, clear) a topic's retained message."""
        levels = topic.split("/")
        prefixes = [_prefix(levels[:k]) for k in range(len(levels))]
        if payload:
            if topic not in self._retained:
                for prefix in prefixes:
                    self._retained_under.setdefault(prefix, {})[topic] = None
            self._retained[topic] = payload
        elif self._retained.pop(topic, None) is not None:
            for prefix in prefixes:
                self._retained_under[prefix].pop(topic, None)


def _prefix(levels: list[str]) -> str:
    """The key of the topics under some leading levels: ``"a/b/"``; ``""`` for all."""
    return "".join(level + "/" for level in levels)


class _Level:
    __slots__ = ("children", "clients")

    def __init__(self) -> None:
        self.children: dict[str, _Level] = {}
        self.clients: dict[str, InMemoryLink] = {}


class _SubscriptionTree:
    """Subscription filters by level, as brokers keep them: a topic is matched by walking
    its levels (exact, ``+`` and ``#`` branches), whatever the number of clients."""

    def __init__(self) -> None:
        self._root = _Level()
        self._filters: dict[str, tuple[str, ...]] = {}  # client id -> filters it holds
        # the receivers of each topic seen since the subscriptions last changed: telemetry
        # repeats its topics every tick, so most messages skip the walk
        self._matched: dict[str, list[InMemoryLink]] = {}

    def add(self, client: InMemoryLink) -> None:
        self.remove(client)
        self._matched.clear()
        self._filters[client.client_id] = client.subscriptions
        for topic_filter in client.subscriptions:
            node = self._root
            for level in topic_filter.split("/"):
                node = node.children.setdefault(level, _Level())
            node.clients[client.client_id] = client

    def remove(self, client: InMemoryLink) -> None:
        self._matched.clear()
        for topic_filter in self._filters.pop(client.client_id, ()):
            node: _Level | None = self._root
            for level in topic_filter.split("/"):
                node = node.children.get(level) if node is not None else None
            if node is not None and node.clients.get(client.client_id) is client:
                del node.clients[client.client_id]

    def match(self, topic: str) -> list[InMemoryLink]:
        """Each client whose filters cover ``topic``, once (as :func:`topic_matches`)."""
        matched = self._matched.get(topic)
        if matched is None:
            matched = self._matched[topic] = self._walk(topic)
        return matched

    def _walk(self, topic: str) -> list[InMemoryLink]:
        found: dict[str, InMemoryLink] = {}
        nodes = [self._root]
        for level in topic.split("/"):
            deeper: list[_Level] = []
            for node in nodes:
                if "#" in node.children:
                    found.update(node.children["#"].clients)
                for key in (level, "+"):
                    child = node.children.get(key)
                    if child is not None:
                        deeper.append(child)
            nodes = deeper
        for node in nodes:
            found.update(node.clients)
            if "#" in node.children:  # "a/#" covers "a" too
                found.update(node.children["#"].clients)
        return list(found.values())


class InMemoryLink:
    """A client of :class:`InMemoryBroker`; implements :class:`vpp.device_adapters.link.Link`."""

    def __init__(self, broker: InMemoryBroker, client_id: str, will: Will | None = None) -> None:
        self.broker = broker
        self.client_id = client_id
        self.will = will
        self.stats = LinkStats()
        self._subscriptions: tuple[str, ...] = ()
        # a deque and an event rather than an asyncio.Queue: the same wake-ups, without the
        # queue's bookkeeping on each of a city's ~10,000 messages a tick
        self._inbox: deque[tuple[str, bytes] | None] = deque()
        self._arrived = asyncio.Event()
        self._on_message: MessageHandler = lambda topic, payload: None
        self._on_connect: ConnectHandler | None = None
        self._connected = False
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def wanted(self) -> bool:
        return self._task is not None and not self._closing

    @property
    def subscriptions(self) -> tuple[str, ...]:
        return self._subscriptions

    @subscriptions.setter
    def subscriptions(self, filters: tuple[str, ...]) -> None:
        """Subscribe anew; a connected client's routes change at once."""
        self._subscriptions = tuple(filters)
        if self._connected:
            self.broker._subscribers.add(self)

    def on_message(self, handler: MessageHandler) -> None:
        self._on_message = handler

    def on_connect(self, handler: ConnectHandler) -> None:
        self._on_connect = handler

    async def start(self, subscriptions: tuple[str, ...] = ()) -> None:
        self.subscriptions = subscriptions
        self._closing = False
        await self._connect()
        self._task = asyncio.create_task(self._run(), name=f"link-{self.client_id}")

    async def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> bool:
        if not self._connected:
            self.stats.dropped += 1
            self.broker.traffic.dropped += 1
            return False
        self.stats.published += 1
        self.broker._route(topic, payload, retain)
        return True

    async def close(self) -> None:
        self._closing = True
        if self._connected:
            self.broker._detach(self, publish_will=False)
            self._connected = False
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def kill(self) -> None:
        """Vanish without a DISCONNECT (power cut, crash): the broker publishes the will."""
        self._closing = True
        if self._connected:
            self._connected = False
            self.broker._detach(self, publish_will=True)
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _connect(self) -> None:
        if not self.broker._attach(self):
            return
        self._connected = True
        self.stats.connects += 1
        for topic_filter in self.subscriptions:
            self.broker._deliver_retained(self, topic_filter)
        if self._on_connect is not None:
            try:
                await self._on_connect()
            except Exception:  # the owner's bug must not end the link
                logger.exception("%s: connect handler failed", self.client_id)
                self.stats.errors["connect_handler"] += 1

    async def _run(self) -> None:
        while not self._closing:
            if not self._connected:
                # back as soon as the broker is, in the order the clients lost it: a wall-clock
                # retry interval would let machine speed decide who reconnects first
                await self.broker.wait_up()
                await asyncio.sleep(0)
                await self._connect()
                continue
            if not self._inbox:
                self._arrived.clear()
                await self._arrived.wait()
                continue
            item = self._inbox.popleft()
            if item is None:  # the connection dropped while we waited
                continue
            topic, payload = item
            self.stats.received += 1
            self.broker.traffic.arrived(topic, payload)
            try:
                self._on_message(topic, payload)
            except Exception:  # a handler bug must not kill the link
                logger.exception("%s: message handler failed on %s", self.client_id, topic)
                self.stats.errors["handler"] += 1

    def _enqueue(self, topic: str, payload: bytes) -> None:
        self.broker.traffic.sent(topic, payload)  # counted per copy delivered: exact in memory
        self._inbox.append((topic, payload))
        self._arrived.set()

    def _lost(self) -> None:
        """The connection dropped under us; queued messages are lost, as on a real socket."""
        self._connected = False
        for item in self._drain():
            if item is not None:  # it will never arrive: not in flight
                self.broker.traffic.unsent(*item)
        self._inbox.append(None)  # wake the receive loop so it starts reconnecting
        self._arrived.set()

    def _drain(self) -> list[tuple[str, bytes] | None]:
        items = list(self._inbox)
        self._inbox.clear()
        return items
