"""What the controller sees of the device fabric, whichever transport carries it.

Inbound messages arrive decoded and typed; anything that does not decode never reaches the
controller, it is logged and counted in :class:`AdapterStats`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from vpp.domain import Ack, GatewayStatus, ResourceRef, Setpoint, Telemetry


@dataclass(frozen=True)
class TelemetryReceived:
    site_id: str
    resource_id: str
    telemetry: Telemetry

    @property
    def key(self) -> str:
        return f"{self.site_id}/{self.resource_id}"


@dataclass(frozen=True)
class AckReceived:
    """A gateway's first answer to a setpoint this adapter sent."""

    site_id: str
    resource_id: str
    ack: Ack
    setpoint: Setpoint

    @property
    def key(self) -> str:
        return f"{self.site_id}/{self.resource_id}"


@dataclass(frozen=True)
class StatusReceived:
    site_id: str
    status: GatewayStatus


Inbound = TelemetryReceived | AckReceived | StatusReceived
InboundHandler = Callable[[Inbound], None]


@dataclass
class AdapterStats:
    """Counts an operator reads to see whether the fabric is healthy."""

    received: Counter[str] = field(default_factory=Counter)  # per channel
    malformed: Counter[str] = field(default_factory=Counter)  # per reason
    sent: int = 0
    send_failed: int = 0
    resent: int = 0
    duplicate_acks: int = 0
    unknown_acks: int = 0
    reconnects: int = 0

    @property
    def malformed_total(self) -> int:
        return sum(self.malformed.values())


class DeviceAdapter(Protocol):
    """Delivers setpoints to field gateways and reports what they say back."""

    @property
    def stats(self) -> AdapterStats: ...

    @property
    def connected(self) -> bool: ...

    async def start(self, on_inbound: InboundHandler) -> None: ...

    async def send(self, setpoints: Sequence[Setpoint]) -> int:
        """Send setpoints (QoS 1); returns how many reached the broker now.

        Setpoints that could not be sent stay in force and go out on reconnection.
        """
        ...

    def awaiting_ack(self) -> list[Setpoint]:
        """Setpoints sent and not yet answered."""
        ...

    def in_force(self, now: datetime) -> list[Setpoint]:
        """Setpoints whose lease has not lapsed at ``now``."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class FollowsResources(Protocol):
    """An adapter that must be told its resources (an OCPP central system knows its charge
    points); the router calls :meth:`follow` when the registry changes while it runs."""

    def follow(self, refs: Sequence[ResourceRef], *, strict: bool = True) -> None: ...
