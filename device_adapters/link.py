"""A publish/subscribe connection, the one thing MQTT and the in-memory fabric share.

The contract logic (payloads, acks, leases) lives above this, in the adapter and the
simulated gateways, so the embedded and the MQTT runs differ in nothing but the link.

A link delivers each message by calling its ``on_message`` handler from its own receive
task; handlers must be quick and must not block (they queue work, they do not await it).
After every (re)connection, once its subscriptions are in place again, the link awaits
``on_connect``, so the owner can re-send what the other side may have missed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

MessageHandler = Callable[[str, bytes], None]
ConnectHandler = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Will:
    """The message the broker publishes for a client that vanishes without saying goodbye."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


@dataclass
class Traffic:
    """The messages of one process that are on their way, matched publish to arrival.

    The simulator waits until nothing is in flight before it advances its clock, so a
    faster-than-real-time run never outruns its own messages. Arrivals are matched to
    publishes by topic and payload, not merely counted: a broker also delivers messages no
    publish of ours accounts for (retained statuses on every subscription, wills, QoS 1
    duplicates, what an earlier run left retained), and a count would let each of those
    hide a message still on its way. Every message of the contract has one subscriber in a
    simulation, so one arrival settles one publish.
    """

    published: int = 0
    received: int = 0
    unmatched: int = 0  # arrivals no publish in flight accounts for
    dropped: int = 0  # publish attempts while disconnected
    lost: int = 0  # sent, but the receiver was gone (given up by the simulator)
    receiver: Callable[[str], bool] | None = None
    """Whether a message on a topic has a receiver connected now (None: always); a message
    sent with none is lost at once instead of waited for (over a network, clean sessions)."""
    # copies in flight per (topic, payload); a plain dict, not a Counter: its missing-key
    # and delete hooks are Python code, run twice for every message of a simulated city
    _pending: dict[tuple[str, bytes], int] = field(default_factory=dict, repr=False)
    _in_flight: int = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def sent(self, topic: str, payload: bytes) -> None:
        """A message is on its way from now (before the broker has even seen it)."""
        self.published += 1
        if self.receiver is not None and not self.receiver(topic):
            self.lost += 1
            return
        key = topic, payload
        self._pending[key] = self._pending.get(key, 0) + 1
        self._in_flight += 1

    def unsent(self, topic: str, payload: bytes) -> None:
        """A message counted as sent will never arrive (its connection broke first)."""
        if self._take(topic, payload):
            self._in_flight -= 1

    def arrived(self, topic: str, payload: bytes) -> None:
        self.received += 1
        if self._take(topic, payload):
            self._in_flight -= 1
        else:
            self.unmatched += 1

    def _take(self, topic: str, payload: bytes) -> bool:
        """Settle one pending copy of a message; whether there was one. Settled keys go,
        so a long run keeps only what is in flight."""
        key = topic, payload
        count = self._pending.get(key, 0)
        if count == 0:
            return False
        if count == 1:
            del self._pending[key]
        else:
            self._pending[key] = count - 1
        return True

    def give_up(self, absent: Callable[[str], bool] | None = None) -> int:
        """Count what is still in flight to a receiver that is gone as lost (every message
        when ``absent`` is None, else those on topics it names); how many."""
        if absent is None:
            gone = sum(self._pending.values())
            self._pending.clear()
        else:
            keys = [key for key in self._pending if absent(key[0])]
            gone = sum(self._pending.pop(key) for key in keys)
        self.lost += gone
        self._in_flight -= gone
        return gone


@dataclass
class LinkStats:
    published: int = 0
    received: int = 0
    dropped: int = 0
    connects: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # per reason


class Link(Protocol):
    """A pub/sub client: an aiomqtt connection or an in-memory stand-in."""

    client_id: str
    stats: LinkStats

    @property
    def connected(self) -> bool: ...

    @property
    def wanted(self) -> bool:
        """Started and neither closed nor killed: meant to be connected (reconnecting if not)."""
        ...

    def on_message(self, handler: MessageHandler) -> None: ...

    def on_connect(self, handler: ConnectHandler) -> None: ...

    async def start(self, subscriptions: tuple[str, ...] = ()) -> None:
        """Connect (retrying in the background if the broker is not there yet) and subscribe."""
        ...

    async def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> bool:
        """Hand a message to the broker; False when disconnected (the message is dropped)."""
        ...

    async def close(self) -> None:
        """Disconnect cleanly: the broker does not publish the will."""
        ...
