"""A battery site on Modbus meets an event's target, end to end: controller, Modbus adapter,
a pymodbus server with a SunSpec map in front of the battery physics, on simulated time."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from vpp.controller import Controller, ControllerSettings, SimulatedClock, event_outcome
from vpp.device_adapters.modbus import ModbusAdapter
from vpp.device_adapters.registry import AdapterContext
from vpp.device_adapters.router import RoutingAdapter
from vpp.hil_sim.modbus_device import ModbusSite, on_modbus
from vpp.hil_sim.physics import BatteryDevice

from builders import DAY, TZ, at, battery, district, enterprise, event

SETTLE_LIMIT_S = 30.0  # a bound on waiting for state, not a pace


async def test_modbus_battery_meets_a_peak_shaving_target() -> None:
    plain = district(enterprise("acme", [battery("bess", soc_initial=0.9)]))
    clock = SimulatedClock(at(9.5))
    site = ModbusSite(
        plain.enterprises[0].sites[0],
        {"bess": BatteryDevice(plain.enterprises[0].sites[0].resources[0], day=DAY.date(), tz=TZ)},  # type: ignore[arg-type]
        now=clock.now,
    )
    await site.start()
    registered = on_modbus(plain, {"acme-site": site}, poll_period_s=60.0)
    router = RoutingAdapter.for_district(
        AdapterContext(registered, clock.now, clock.sleep_until), always=()
    )
    modbus = router.adapters["modbus"]
    assert isinstance(modbus, ModbusAdapter)
    settings = ControllerSettings()
    settings = settings.model_copy(update={"dispatch": settings.dispatch.deterministic()})
    ev = event(11, 12, target_kw=200.0, issued_h=9.5)
    with ThreadPoolExecutor(max_workers=1) as executor:
        controller = Controller(registered, router, clock, settings, executor=executor)
        await controller.start()
        run = controller.submit(ev)
        now = clock.now()
        try:
            while now < at(12.5):
                async with asyncio.timeout(SETTLE_LIMIT_S):
                    while controller.busy or controller.awake or modbus.busy:
                        await asyncio.sleep(0.001)
                now += timedelta(seconds=60)
                site.step(now)
                clock.advance_to(now)
        finally:
            await controller.stop(release=True)
            await site.stop()
    outcome = event_outcome(run, controller.monitor, registered, "default")
    assert outcome.met, [(i.target_kw, i.delivered_kw) for i in outcome.intervals]
    assert outcome.performance_ratio >= 1.0
    device = site.devices["bess"]
    assert device.command() is None  # released at the end
    assert modbus.stats.malformed_total == 0
    assert not modbus.awaiting_ack()
    assert modbus.counts.round_trip_s
