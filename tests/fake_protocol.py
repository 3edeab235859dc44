"""A third device protocol, in memory, for tests: registered like OCPP or Modbus would be.

Its "devices" accept every setpoint at once; each adapter records what it was asked to
send, so a test can see which protocol each setpoint went out on.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

import vpp.device_adapters.registry as registry
from vpp.device_adapters import (
    AckReceived,
    AdapterContext,
    AdapterStats,
    InboundHandler,
    ProtocolSpec,
    register_protocol,
)
from vpp.domain import Ack, AckStatus, ResourceRef, Setpoint


class FakeConnection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device_no: int = Field(ge=1, le=247)


class FakeAdapter:
    """Accepts every setpoint for its own resources (and refuses to carry any other)."""

    def __init__(self, refs: Sequence[ResourceRef], created: list[FakeAdapter]) -> None:
        self.keys = {ref.key for ref in refs}
        self.sent: list[Setpoint] = []
        self.foreign: list[Setpoint] = []
        self.started = False
        self.closed = False
        self._stats = AdapterStats()
        self._on_inbound: InboundHandler | None = None
        created.append(self)

    @property
    def stats(self) -> AdapterStats:
        return self._stats

    @property
    def connected(self) -> bool:
        return self.started and not self.closed

    async def start(self, on_inbound: InboundHandler) -> None:
        self.started = True
        self._on_inbound = on_inbound

    async def send(self, setpoints: Sequence[Setpoint]) -> int:
        for setpoint in setpoints:
            if f"{setpoint.site_id}/{setpoint.resource_id}" not in self.keys:
                self.foreign.append(setpoint)
                continue
            self.sent.append(setpoint)
            self._stats.sent += 1
            if self._on_inbound is not None:
                ack = Ack(command_id=setpoint.command_id, status=AckStatus.ACCEPTED)
                self._on_inbound(AckReceived(setpoint.site_id, setpoint.resource_id, ack, setpoint))
        return len(setpoints)

    def awaiting_ack(self) -> list[Setpoint]:
        return []

    def in_force(self, now: datetime) -> list[Setpoint]:
        return [s for s in self.sent if s.valid_from <= now < s.valid_until]

    async def close(self) -> None:
        self.closed = True


def _factory(context: AdapterContext, refs: Sequence[ResourceRef]) -> FakeAdapter:
    created = context.setting("fake")
    assert isinstance(created, list)
    return FakeAdapter(refs, created)


FAKE = ProtocolSpec(
    name="fake",
    factory=_factory,
    connection_model=FakeConnection,
    summary="an in-memory protocol for tests",
)


@contextmanager
def fake_protocol_registered(*, late_resources: bool = False) -> Iterator[ProtocolSpec]:
    """``fake`` is a known protocol inside the block, and not after it."""
    assert FAKE.name not in registry._REGISTRY
    spec = ProtocolSpec(
        FAKE.name, FAKE.factory, FAKE.connection_model, FAKE.summary, late_resources
    )
    register_protocol(spec)
    try:
        yield spec
    finally:
        # only this one: built-ins register once, when their module is first imported
        del registry._REGISTRY[FAKE.name]
