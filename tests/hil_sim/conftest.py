"""A simulated gateway on an in-memory broker, with a stand-in controller that records."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import numpy as np
import pytest

from vpp.controller.clock import SimulatedClock
from vpp.device_adapters import InMemoryBroker, decode, encode
from vpp.device_adapters.mqtt.topics import Channel, Topic
from vpp.domain import Ack, GatewayStatus, SetpointMode, SetpointPayload, Telemetry
from vpp.hil_sim import SimulatedGateway, SiteFaults, status_will
from vpp.hil_sim.physics import BatteryDevice, CurtailableDevice, PvDevice

from builders import DAY, TZ, at, battery, curtailable, district, enterprise

SITE = "acme-site"
PV = {
    "kind": "pv",
    "resource_id": "roof",
    "capacity_kw": 100.0,
    "generation_kw": [0.0] * 6 + [100.0] * 12 + [0.0] * 6,
}
DISTRICT = district(
    enterprise(
        "acme",
        [curtailable("process", [(200.0, 1.0)]), battery("bess", soc_initial=0.5), PV],
    )
)


class Harness:
    """The gateway of site ``acme-site`` (a 1000 kW flat load, a battery, PV) and a recorder."""

    def __init__(self, faults: SiteFaults | None = None, start: datetime | None = None):
        self.clock = SimulatedClock(start or at(10))
        self.broker = InMemoryBroker()
        site = DISTRICT.enterprises[0].sites[0]
        load, bess, pv = site.resources
        devices = {
            "process": CurtailableDevice(load, np.full(96, 1000.0), day=DAY.date(), tz=TZ),
            "bess": BatteryDevice(bess, day=DAY.date(), tz=TZ),
            "roof": PvDevice(pv, day=DAY.date(), tz=TZ),
        }
        self.link = self.broker.link("gw", will=status_will(SITE, self.clock.now()))
        self.gateway = SimulatedGateway(
            site, self.link, now=self.clock.now, devices=devices, faults=faults
        )
        self.received: list[tuple[Topic, object]] = []
        self.controller = self.broker.link("ctl")
        self.controller.on_message(self._record)
        self._seq = 0

    def _record(self, topic: str, payload: bytes) -> None:
        self.received.append(decode(topic, payload))

    async def start(self) -> Harness:
        await self.controller.start(
            (
                Topic.subscription(Channel.ACK),
                Topic.subscription(Channel.TELEMETRY),
                Topic.subscription(Channel.STATUS),
            )
        )
        await self.gateway.start()
        await self.settle()
        return self

    async def settle(self) -> None:
        """Until every message is delivered and every queued ack published."""
        for _ in range(100):
            await asyncio.sleep(0)
            if not self.broker.traffic.in_flight and not self.gateway._tasks:
                await asyncio.sleep(0)
                if not self.broker.traffic.in_flight:
                    return

    def setpoint(
        self,
        resource_id: str,
        mode: SetpointMode,
        power_kw: float,
        valid_from: datetime,
        valid_until: datetime,
        *,
        issued_at: datetime | None = None,
        command_id: str | None = None,
    ) -> SetpointPayload:
        self._seq += 1
        return SetpointPayload(
            command_id=command_id or f"cmd-{self._seq}",
            issued_at=issued_at or self.clock.now(),
            mode=mode,
            power_kw=power_kw,
            valid_from=valid_from,
            valid_until=valid_until,
        )

    async def send(self, resource_id: str, setpoint: SetpointPayload) -> None:
        await self.send_raw(resource_id, encode(setpoint))

    async def send_raw(self, resource_id: str, payload: bytes) -> None:
        topic = Topic(SITE, resource_id, Channel.SETPOINT)
        await self.controller.publish(str(topic), payload, qos=1)
        await self.settle()

    async def tick(self, minutes: float = 1.0, count: int = 1) -> None:
        for _ in range(count):
            self.clock.advance_to(self.clock.now() + timedelta(minutes=minutes))
            await self.gateway.step(self.clock.now())
            await self.settle()

    def acks(self) -> list[Ack]:
        return [m for _, m in self.received if isinstance(m, Ack)]

    def telemetry(self, resource_id: str) -> list[Telemetry]:
        return [
            m for t, m in self.received if isinstance(m, Telemetry) and t.resource_id == resource_id
        ]

    def statuses(self) -> list[GatewayStatus]:
        return [m for _, m in self.received if isinstance(m, GatewayStatus)]

    async def close(self) -> None:
        await self.gateway.stop()
        await self.controller.close()


@pytest.fixture
async def make_harness():
    """Build and start harnesses; stop them all at the end of the test."""
    made: list[Harness] = []

    async def make(faults: SiteFaults | None = None, start: datetime | None = None) -> Harness:
        harness = await Harness(faults, start).start()
        made.append(harness)
        return harness

    yield make
    for harness in made:
        await harness.close()
