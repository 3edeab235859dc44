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
    """Message counts shared by the links of one process.

    The simulator waits for ``received >= published`` before it advances its clock, so a
    faster-than-real-time run never outruns its own messages. The in-memory broker counts
    each copy it delivers; an MQTT link counts one per publish, which is exact in a
    simulation, where every message of the contract has one subscriber (the controller or
    one gateway).
    """

    published: int = 0
    received: int = 0
    dropped: int = 0  # publish attempts while disconnected
    lost: int = 0  # sent, but the receiver was gone (counted by the simulator)

    @property
    def in_flight(self) -> int:
        return max(0, self.published - self.received)


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
