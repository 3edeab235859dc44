"""One :class:`DeviceAdapter` for the controller, whatever protocols the district's sites speak.

The router owns one adapter per protocol in use and sends each setpoint to the adapter of the
protocol that reaches its resource; inbound messages from all of them reach one handler.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime

from vpp.device_adapters.base import AdapterStats, DeviceAdapter, InboundHandler
from vpp.device_adapters.registry import AdapterContext, by_protocol, protocol
from vpp.domain import Setpoint


class RoutingAdapter:
    """Routes setpoints by resource to the adapter of its protocol."""

    def __init__(self, adapters: Mapping[str, DeviceAdapter], routes: Mapping[str, str]) -> None:
        """``adapters`` by protocol name; ``routes`` maps ``site_id/resource_id`` to a protocol
        (a key not listed goes to ``mqtt`` when there is one: sites registered later)."""
        unknown = set(routes.values()) - set(adapters)
        if unknown:
            raise ValueError(f"routes: no adapter for {sorted(unknown)}")
        self.adapters = dict(adapters)
        self.routes = dict(routes)

    @classmethod
    def for_district(
        cls, context: AdapterContext, *, always: Sequence[str] = ("mqtt",)
    ) -> RoutingAdapter:
        """One adapter per protocol the district uses (plus ``always``, so sites registered
        later on the default protocol are reachable), built by each protocol's factory."""
        groups = by_protocol(context.district.resources())
        for name in always:
            groups.setdefault(name, [])
        adapters = {name: protocol(name).factory(context, refs) for name, refs in groups.items()}
        routes = {ref.key: name for name, refs in groups.items() for ref in refs}
        return cls(adapters, routes)

    def adapter_for(self, site_id: str, resource_id: str) -> DeviceAdapter:
        name = self.routes.get(f"{site_id}/{resource_id}", "mqtt")
        return self.adapters[name]

    @property
    def stats(self) -> AdapterStats:
        """Every protocol's counts added up (read :attr:`adapters` for one protocol's)."""
        total = AdapterStats()
        for adapter in self.adapters.values():
            part = adapter.stats
            total.received.update(part.received)
            total.malformed.update(part.malformed)
            total.sent += part.sent
            total.send_failed += part.send_failed
            total.resent += part.resent
            total.duplicate_acks += part.duplicate_acks
            total.unknown_acks += part.unknown_acks
            total.reconnects += part.reconnects
        return total

    @property
    def connected(self) -> bool:
        return all(adapter.connected for adapter in self.adapters.values())

    async def start(self, on_inbound: InboundHandler) -> None:
        for adapter in self.adapters.values():
            await adapter.start(on_inbound)

    async def send(self, setpoints: Sequence[Setpoint]) -> int:
        batches: dict[str, list[Setpoint]] = {}
        for setpoint in setpoints:
            name = self.routes.get(f"{setpoint.site_id}/{setpoint.resource_id}", "mqtt")
            batches.setdefault(name, []).append(setpoint)
        sent = await asyncio.gather(
            *(self.adapters[name].send(batch) for name, batch in batches.items())
        )
        return sum(sent)

    def awaiting_ack(self) -> list[Setpoint]:
        return [s for adapter in self.adapters.values() for s in adapter.awaiting_ack()]

    def in_force(self, now: datetime) -> list[Setpoint]:
        return [s for adapter in self.adapters.values() for s in adapter.in_force(now)]

    async def close(self) -> None:
        for adapter in self.adapters.values():
            await adapter.close()
