"""A battery site on Modbus meets an event's target, end to end: controller, Modbus adapter,
a pymodbus server with a SunSpec map in front of the battery physics, on simulated time."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from vpp.controller import Controller, ControllerSettings, SimulatedClock, event_outcome
from vpp.device_adapters.modbus import ModbusAdapter
from vpp.device_adapters.modbus.sunspec import STORCTL_DISCHARGE
from vpp.device_adapters.registry import AdapterContext
from vpp.device_adapters.router import RoutingAdapter
from vpp.hil_sim.faults import SiteFaults, Span
from vpp.hil_sim.modbus_device import HOST, ModbusSite, SunSpecDevice, on_modbus
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


async def test_an_offline_modbus_site_goes_away_and_comes_back_on_its_own_port() -> None:
    """The scripted ``offline`` fault on a Modbus site: the server stops for the span and
    listens again on the same port after it, so the registration still reaches it."""
    plain = district(enterprise("acme", [battery("bess", soc_initial=0.5)]))
    site_model = plain.enterprises[0].sites[0]
    clock = SimulatedClock(at(11))
    device = BatteryDevice(site_model.resources[0], day=DAY.date(), tz=TZ)  # type: ignore[arg-type]
    offline = Span(at(11.5), at(12))
    faults = SiteFaults(offline=offline)
    site = ModbusSite(site_model, {"bess": device}, now=clock.now, faults=faults)
    port = await site.start()
    try:
        await site.play_faults(at(11.25))
        assert site.listening
        await site.play_faults(at(11.5))
        assert not site.listening
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection(HOST, port)
        await site.play_faults(at(12))
        assert site.listening
        assert site.port == port
        assert site.restarts == 1
        _, writer = await asyncio.open_connection(HOST, port)
        writer.close()
        await writer.wait_closed()
    finally:
        await site.stop()


def test_a_stuck_modbus_meter_keeps_its_power_register_while_the_battery_moves() -> None:
    plain = district(enterprise("acme", [battery("bess", soc_initial=0.5)]))
    resource = plain.enterprises[0].sites[0].resources[0]
    clock = SimulatedClock(at(11))
    device = SunSpecDevice(
        resource,
        BatteryDevice(resource, day=DAY.date(), tz=TZ),  # type: ignore[arg-type]
        unit_id=1,
        now=clock.now,
        stuck_meter=Span(at(11.25), None),
    )
    device.set_raw(124, "StorCtl_Mod", STORCTL_DISCHARGE)
    device.set_raw(124, "OutWRte", 5000)  # 50 % of the rated power
    device.advance(at(11.1))
    reported = device.value(103, "W")
    assert reported > 0  # discharging: export
    device.advance(at(11.25))
    frozen = device.value(103, "W")
    device.advance(at(11.5))
    device.advance(at(11.75))
    assert device.value(103, "W") == frozen  # stuck from 11:15
    assert device.trace.power_kw[-1] < 0  # while the battery still discharges
    assert device.trace.reported_kw[-1] == device.trace.reported_kw[-2]
    assert len(device.trace.ts) == 4
