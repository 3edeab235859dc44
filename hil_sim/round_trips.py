"""Setpoint round trips per protocol: from the controller handing a setpoint to the device
fabric to its first answer (ack, rejection or expiry) coming back.

:class:`RoundTrips` sits between the controller and the :class:`RoutingAdapter` of a
simulated run, so the same clock measures every protocol. The samples are wall-clock
seconds: they measure the machine and its load, never the simulated day, so a report keeps
them apart from the figures two runs must agree on.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime

import numpy as np

from vpp.device_adapters import AdapterStats, RoutingAdapter
from vpp.device_adapters.base import AckReceived, Inbound, InboundHandler
from vpp.domain import Setpoint


class RoundTrips:
    """A :class:`~vpp.device_adapters.base.DeviceAdapter` that times every setpoint to its
    first answer, per protocol, and otherwise is the router it wraps."""

    def __init__(self, router: RoutingAdapter) -> None:
        self.router = router
        self.samples_s: dict[str, list[float]] = {}  # per protocol [s, wall]
        self._sent: dict[str, tuple[str, float]] = {}  # command id -> protocol, when
        self._on_inbound: InboundHandler = lambda message: None

    @property
    def stats(self) -> AdapterStats:
        return self.router.stats

    @property
    def connected(self) -> bool:
        return self.router.connected

    async def start(self, on_inbound: InboundHandler) -> None:
        self._on_inbound = on_inbound
        await self.router.start(self._inbound)

    async def send(self, setpoints: Sequence[Setpoint]) -> int:
        started = time.perf_counter()  # before: an adapter may answer within send
        for setpoint in setpoints:
            name = self.router.route(setpoint.site_id, setpoint.resource_id)
            if name is not None and setpoint.command_id not in self._sent:
                self._sent[setpoint.command_id] = (name, started)
        return await self.router.send(setpoints)

    def awaiting_ack(self) -> list[Setpoint]:
        return self.router.awaiting_ack()

    def in_force(self, now: datetime) -> list[Setpoint]:
        return self.router.in_force(now)

    async def close(self) -> None:
        await self.router.close()

    def _inbound(self, message: Inbound) -> None:
        if isinstance(message, AckReceived):
            sent = self._sent.pop(message.ack.command_id, None)
            if sent is not None:
                name, started = sent
                self.samples_s.setdefault(name, []).append(time.perf_counter() - started)
        self._on_inbound(message)

    def summary_ms(self) -> dict[str, dict[str, float | int]]:
        """Per protocol in use: count, median, 95th percentile and maximum [ms, wall]."""
        return {name: percentiles_ms(self.samples_s.get(name, [])) for name in self.router.adapters}


def percentiles_ms(samples_s: list[float]) -> dict[str, float | int]:
    """Count, median, 95th percentile and maximum of wall-clock samples [ms]."""
    if not samples_s:
        return {"n": 0}
    ms = np.sort(np.asarray(samples_s)) * 1000.0
    return {
        "n": int(ms.size),
        "p50": round(float(np.percentile(ms, 50)), 2),
        "p95": round(float(np.percentile(ms, 95)), 2),
        "max": round(float(ms[-1]), 2),
    }
