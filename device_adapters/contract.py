"""The controller's side of the MQTT contract v1 over any link (MQTT or in-memory).

It keeps what a safe controller must keep: every setpoint still in force, so a reconnection
re-sends them (gateways ignore a ``command_id`` they already have), and every setpoint not
yet acknowledged, so the controller can notice a gateway that does not answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from vpp.device_adapters.base import (
    AckReceived,
    AdapterStats,
    InboundHandler,
    StatusReceived,
    TelemetryReceived,
)
from vpp.device_adapters.codec import MalformedMessageError, decode, setpoint_message
from vpp.device_adapters.leases import LeaseBook
from vpp.device_adapters.link import Link
from vpp.device_adapters.mqtt.topics import Channel, Topic
from vpp.device_adapters.registry import AdapterContext, ProtocolSpec, register_protocol
from vpp.domain import (
    Ack,
    GatewayState,
    GatewayStatus,
    ResourceRef,
    Setpoint,
    Telemetry,
)

logger = logging.getLogger(__name__)

SUBSCRIPTIONS = (
    Topic.subscription(Channel.TELEMETRY),
    Topic.subscription(Channel.ACK),
    Topic.subscription(Channel.STATUS),
)


class ContractAdapter:
    """Implements :class:`vpp.device_adapters.base.DeviceAdapter` on a :class:`Link`."""

    def __init__(self, link: Link, now: Callable[[], datetime], *, telemetry: bool = True) -> None:
        """``telemetry=False``: leave telemetry to workers on a shared subscription
        (:mod:`vpp.telemetry_worker`); acks and statuses still come here."""
        self.link = link
        everything = Topic.subscription(Channel.TELEMETRY)
        self._subscriptions = tuple(s for s in SUBSCRIPTIONS if telemetry or s != everything)
        self.stats = AdapterStats()
        self._now = now
        self._on_inbound: InboundHandler = lambda message: None
        self._book = LeaseBook()
        self._connected_once = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, on_inbound: InboundHandler) -> None:
        self._on_inbound = on_inbound
        self.link.on_message(self._on_message)
        self.link.on_connect(self._on_connect)
        await self.link.start(self._subscriptions)

    async def close(self) -> None:
        await self.link.close()

    @property
    def connected(self) -> bool:
        """Whether the link to the broker is up; silence is no evidence while it is down."""
        return self.link.connected

    async def send(self, setpoints: Sequence[Setpoint]) -> int:
        sent = 0
        for setpoint in setpoints:
            self._book.record(setpoint)
            if await self._publish(setpoint):
                sent += 1
                self.stats.sent += 1
            else:
                self.stats.send_failed += 1
        return sent

    def awaiting_ack(self) -> list[Setpoint]:
        return list(self._book.awaiting.values())

    def in_force(self, now: datetime) -> list[Setpoint]:
        return self._book.in_force(now)

    async def _publish(self, setpoint: Setpoint) -> bool:
        topic, payload = setpoint_message(setpoint)
        return await self.link.publish(topic, payload, qos=1)

    async def _on_connect(self) -> None:
        # also on the first connection: setpoints sent while the broker was not there yet
        if self._connected_once:
            self.stats.reconnects += 1
        self._connected_once = True
        await self._resend(self.in_force(self._now()), "connected")

    async def _resend(self, pending: list[Setpoint], why: str) -> None:
        if not pending:
            return
        logger.info("%s; re-sending %d setpoints in force", why, len(pending))
        for setpoint in pending:
            if await self._publish(setpoint):
                self.stats.resent += 1

    def _on_message(self, topic: str, payload: bytes) -> None:
        try:
            parsed, value = decode(topic, payload)
        except MalformedMessageError as exc:
            self.stats.malformed[exc.reason] += 1
            logger.warning("dropped malformed message: %s", exc)
            return
        self.stats.received[parsed.channel.value] += 1
        if isinstance(value, Telemetry) and parsed.resource_id is not None:
            self._on_inbound(TelemetryReceived(parsed.site_id, parsed.resource_id, value))
        elif isinstance(value, GatewayStatus):
            if value.state is GatewayState.ONLINE:
                # A gateway that (re)connected after us has missed what we re-sent then.
                site = parsed.site_id
                pending = [s for s in self.in_force(self._now()) if s.site_id == site]
                if pending:
                    task = asyncio.create_task(self._resend(pending, f"{site} online"))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            self._on_inbound(StatusReceived(parsed.site_id, value))
        elif isinstance(value, Ack) and parsed.resource_id is not None:
            self._on_ack(parsed, value)
        else:  # a setpoint echoed to us, or a channel we never asked for
            self.stats.malformed["unexpected_channel"] += 1
            logger.warning("dropped message on %s: not a channel the controller reads", topic)

    def _on_ack(self, topic: Topic, ack: Ack) -> None:
        assert topic.resource_id is not None
        setpoint = self._book.awaiting.get(ack.command_id)
        if setpoint is None:
            if self._book.answered(ack.command_id):
                self.stats.duplicate_acks += 1
            else:
                self.stats.unknown_acks += 1
                logger.warning("ack for unknown command %s on %s", ack.command_id, topic)
            return
        if (setpoint.site_id, setpoint.resource_id) != (topic.site_id, topic.resource_id):
            self.stats.malformed["ack_wrong_resource"] += 1
            return
        self._book.answer(ack.command_id)
        self._on_inbound(AckReceived(topic.site_id, topic.resource_id, ack, setpoint))


@dataclass(frozen=True)
class ContractOwner:
    """The owner's side of the MQTT contract (``settings["mqtt"]``, or a bare :class:`Link`
    meaning ``telemetry=True``): its link, and whether telemetry comes over it or from
    ``vpp telemetry-worker`` processes (:class:`vpp.telemetry_worker.WorkerBatches`)."""

    link: Link
    telemetry: bool = True


def _contract_adapter(context: AdapterContext, refs: Sequence[ResourceRef]) -> ContractAdapter:
    """The MQTT contract v1 over the owner's link (``settings["mqtt"]``)."""
    owner = context.setting("mqtt")
    if isinstance(owner, ContractOwner):
        return ContractAdapter(owner.link, context.now, telemetry=owner.telemetry)
    return ContractAdapter(cast(Link, owner), context.now)


register_protocol(
    ProtocolSpec(
        name="mqtt",
        factory=_contract_adapter,
        summary="vpp's MQTT contract v1 to a site gateway (ARCHITECTURE.md)",
        late_resources=True,
    )
)
