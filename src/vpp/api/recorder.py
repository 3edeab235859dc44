"""A device adapter that remembers what it sent and what was acknowledged, for the store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from vpp.device_adapters import (
    AckReceived,
    AdapterStats,
    DeviceAdapter,
    Inbound,
    InboundHandler,
)
from vpp.domain import Ack, Setpoint


class RecordingAdapter:
    """Wraps any :class:`DeviceAdapter`; :meth:`drain` hands over what happened since."""

    def __init__(self, inner: DeviceAdapter) -> None:
        self.inner = inner
        self._sent: list[Setpoint] = []
        self._acks: list[Ack] = []

    @property
    def stats(self) -> AdapterStats:
        """The inner adapter's counts, read now (a router adds its protocols' up on reading)."""
        return self.inner.stats

    @property
    def connected(self) -> bool:
        return self.inner.connected

    async def start(self, on_inbound: InboundHandler) -> None:
        def handler(message: Inbound) -> None:
            if isinstance(message, AckReceived):
                self._acks.append(message.ack)
            on_inbound(message)

        await self.inner.start(handler)

    async def send(self, setpoints: Sequence[Setpoint]) -> int:
        self._sent.extend(setpoints)
        return await self.inner.send(setpoints)

    def awaiting_ack(self) -> list[Setpoint]:
        return self.inner.awaiting_ack()

    def in_force(self, now: datetime) -> list[Setpoint]:
        return self.inner.in_force(now)

    async def close(self) -> None:
        await self.inner.close()

    def drain(self) -> tuple[list[Setpoint], list[Ack]]:
        sent, acks = self._sent, self._acks
        self._sent, self._acks = [], []
        return sent, acks
