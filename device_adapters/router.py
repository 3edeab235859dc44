"""One :class:`DeviceAdapter` for the controller, whatever protocols the district's sites speak.

The router owns one adapter per protocol in use and sends each setpoint to the adapter of the
protocol that reaches its resource; inbound messages from all of them reach one handler.

Resources registered while it runs (:meth:`RoutingAdapter.follow`): a protocol not yet in
use gets its adapter built and started then; a protocol whose adapter takes late resources
(``ProtocolSpec.late_resources``: MQTT) reaches them at once; any other protocol's new
resources stay unreachable until the owner restarts the fabric: their setpoints are never
sent over another protocol, they are counted as ``send_failed`` and logged, and the
controller sees no ack and re-plans without them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from vpp.device_adapters.base import (
    AdapterStats,
    DeviceAdapter,
    FollowsResources,
    InboundHandler,
)
from vpp.device_adapters.registry import AdapterContext, by_protocol, protocol
from vpp.domain import District, Setpoint

logger = logging.getLogger(__name__)


class RoutingAdapter:
    """Routes setpoints by resource to the adapter of its protocol."""

    def __init__(
        self,
        adapters: Mapping[str, DeviceAdapter],
        routes: Mapping[str, str],
        context: AdapterContext | None = None,
    ) -> None:
        """``adapters`` by protocol name; ``routes`` maps ``site_id/resource_id`` to a protocol
        (a key not listed goes to ``mqtt`` when there is one: sites registered later);
        ``context`` builds adapters for protocols that districts given to :meth:`follow` add."""
        unknown = set(routes.values()) - set(adapters)
        if unknown:
            raise ValueError(f"routes: no adapter for {sorted(unknown)}")
        self.adapters = dict(adapters)
        self.routes = dict(routes)
        self.context = context
        self.unreachable: dict[str, str] = {}
        """Resources (``site/resource``) registered later whose protocol's adapter cannot
        take them until a restart, with that protocol."""
        self._on_inbound: InboundHandler | None = None
        self._unroutable = 0

    @classmethod
    def for_district(
        cls,
        context: AdapterContext,
        *,
        always: Sequence[str] = ("mqtt",),
        built: Mapping[str, DeviceAdapter] | None = None,
    ) -> RoutingAdapter:
        """One adapter per protocol the district uses (plus ``always``, so sites registered
        later on the default protocol are reachable), built by each protocol's factory or
        taken from ``built`` (adapters the owner made itself, e.g. a simulator's central
        system with its own passwords)."""
        groups = by_protocol(context.district.resources())
        for name in always:
            groups.setdefault(name, [])
        built = built or {}
        adapters = {
            name: built[name] if name in built else protocol(name).factory(context, refs)
            for name, refs in groups.items()
        }
        routes = {ref.key: name for name, refs in groups.items() for ref in refs}
        return cls(adapters, routes, context)

    async def follow(self, district: District) -> list[str]:
        """Route the resources of a district registered since; returns those (keys) that
        stay unreachable until a restart. Routes of resources no longer registered stay, so
        running plans can still release them."""
        if self.context is None:
            raise ValueError("follow: this router was built without an AdapterContext")
        context = replace(self.context, district=district)
        waiting: list[str] = []
        for name, refs in by_protocol(district.resources()).items():
            new = [ref for ref in refs if self.routes.get(ref.key) != name]
            if not new:
                continue
            if name not in self.adapters:
                adapter = protocol(name).factory(context, new)
                if self._on_inbound is not None:
                    await adapter.start(self._on_inbound)
                self.adapters[name] = adapter
            elif not protocol(name).late_resources:
                for ref in new:
                    if ref.key not in self.unreachable:
                        logger.error(
                            "%s: registered on %s while running; reachable after a restart",
                            ref.key,
                            name,
                        )
                    self.unreachable[ref.key] = name
                waiting += [ref.key for ref in new]
                continue
            for ref in new:
                self.routes[ref.key] = name
                self.unreachable.pop(ref.key, None)
            adapter = self.adapters[name]
            if isinstance(adapter, FollowsResources):
                adapter.follow(refs, strict=False)
        self.context = context
        return waiting

    def route(self, site_id: str, resource_id: str) -> str | None:
        """The protocol a setpoint for this resource goes out on; None: not reachable now."""
        key = f"{site_id}/{resource_id}"
        if key in self.unreachable:
            return None
        return self.routes.get(key, "mqtt" if "mqtt" in self.adapters else None)

    def adapter_for(self, site_id: str, resource_id: str) -> DeviceAdapter:
        name = self.route(site_id, resource_id)
        if name is None:
            raise KeyError(f"{site_id}/{resource_id}: no protocol reaches it now")
        return self.adapters[name]

    @property
    def stats(self) -> AdapterStats:
        """Every protocol's counts added up (read :attr:`adapters` for one protocol's);
        setpoints for resources no protocol reaches count as ``send_failed``."""
        total = AdapterStats(send_failed=self._unroutable)
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
        self._on_inbound = on_inbound
        for adapter in self.adapters.values():
            await adapter.start(on_inbound)

    async def send(self, setpoints: Sequence[Setpoint]) -> int:
        batches: dict[str, list[Setpoint]] = {}
        for setpoint in setpoints:
            name = self.route(setpoint.site_id, setpoint.resource_id)
            if name is None:
                self._unroutable += 1
                logger.error(
                    "setpoint %s for %s/%s not sent: no protocol reaches it until a restart",
                    setpoint.command_id,
                    setpoint.site_id,
                    setpoint.resource_id,
                )
                continue
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
