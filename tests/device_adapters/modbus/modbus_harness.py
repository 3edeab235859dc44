"""A battery and a PV inverter behind a real pymodbus TCP server, and the adapter that
reaches them, on a simulated clock: tests move time and wait on state, never on sleeps."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from vpp.controller.clock import SimulatedClock
from vpp.device_adapters.base import AckReceived, Inbound, StatusReceived, TelemetryReceived
from vpp.device_adapters.modbus import ModbusAdapter
from vpp.device_adapters.registry import AdapterContext, protocol
from vpp.domain import District, GatewayState, Setpoint, SetpointMode
from vpp.hil_sim.modbus_device import ModbusSite, on_modbus
from vpp.hil_sim.physics import BatteryDevice, PvDevice

from builders import DAY, TZ, at, battery, district, enterprise

PV = {
    "kind": "pv",
    "resource_id": "roof",
    "capacity_kw": 100.0,
    "generation_kw": [0.0] * 6 + [100.0] * 12 + [0.0] * 6,
}
DISTRICT = district(enterprise("acme", [battery("bess", soc_initial=0.9), PV]))
SITE = "acme-site"

#: Longest a test waits for the adapter to finish what is due [s, wall]; a bound, not a pace.
SETTLE_LIMIT_S = 10.0


@dataclass
class Harness:
    clock: SimulatedClock
    site: ModbusSite
    district: District
    adapter: ModbusAdapter
    inbound: list[Inbound] = field(default_factory=list)
    seq: int = 0

    async def settle(self) -> None:
        """Until every poll and write due at the clock's time is done."""
        async with asyncio.timeout(SETTLE_LIMIT_S):
            while self.adapter.busy:
                await asyncio.sleep(0.001)

    async def advance(self, seconds: float) -> None:
        """Move the clock (the devices follow it) and wait for what falls due."""
        now = self.clock.now() + timedelta(seconds=seconds)
        self.site.step(now)
        self.clock.advance_to(now)
        await self.settle()

    def setpoint(
        self,
        power_kw: float,
        *,
        resource_id: str = "bess",
        minutes: float = 15,
        mode: SetpointMode = SetpointMode.POWER,
        start: datetime | None = None,
    ) -> Setpoint:
        self.seq += 1
        now = self.clock.now()
        begin = start or now
        return Setpoint(
            command_id=f"cmd-{self.seq}",
            site_id=SITE,
            resource_id=resource_id,
            issued_at=now,
            mode=mode,
            power_kw=power_kw,
            valid_from=begin,
            valid_until=begin + timedelta(minutes=minutes),
        )

    def acks(self) -> dict[str, AckReceived]:
        return {m.ack.command_id: m for m in self.inbound if isinstance(m, AckReceived)}

    def telemetry(self, resource_id: str = "bess") -> list[TelemetryReceived]:
        return [
            m
            for m in self.inbound
            if isinstance(m, TelemetryReceived) and m.resource_id == resource_id
        ]

    def states(self) -> list[GatewayState]:
        return [m.status.state for m in self.inbound if isinstance(m, StatusReceived)]


async def start_harness(start: datetime | None = None, poll_period_s: float = 60.0) -> Harness:
    clock = SimulatedClock(start or at(10))
    bess, roof = DISTRICT.enterprises[0].sites[0].resources
    devices = {
        "bess": BatteryDevice(bess, day=DAY.date(), tz=TZ),  # type: ignore[arg-type]
        "roof": PvDevice(roof, day=DAY.date(), tz=TZ),  # type: ignore[arg-type]
    }
    site = ModbusSite(DISTRICT.enterprises[0].sites[0], devices, now=clock.now)
    await site.start()
    registered = on_modbus(DISTRICT, {SITE: site}, poll_period_s)
    context = AdapterContext(registered, clock.now, clock.sleep_until)
    adapter = protocol("modbus").factory(context, list(registered.resources()))
    assert isinstance(adapter, ModbusAdapter)
    harness = Harness(clock, site, registered, adapter)
    await adapter.start(harness.inbound.append)
    await harness.settle()
    return harness
