"""The Modbus adapter against a pymodbus TCP server with a SunSpec map (simulated devices)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import pytest
from modbus_harness import SETTLE_LIMIT_S, Harness

from vpp.domain import AckStatus, GatewayState, SetpointMode


async def test_start_discovers_and_polls_every_period(modbus: Harness) -> None:
    """The first poll reads power and SoC; the next one comes a poll period later."""
    assert modbus.states() == [GatewayState.ONLINE]
    first = modbus.telemetry()
    assert len(first) == 1
    assert first[0].telemetry.power_kw == pytest.approx(0.0)
    assert first[0].telemetry.soc == pytest.approx(0.9)
    roof = modbus.telemetry("roof")[0].telemetry
    assert roof.power_kw <= 0.0
    assert roof.soc is None
    await modbus.advance(30)
    assert len(modbus.telemetry()) == 1
    await modbus.advance(30)
    assert len(modbus.telemetry()) == 2


async def test_power_within_limits_is_written_read_back_and_acked(modbus: Harness) -> None:
    setpoint = modbus.setpoint(-300.0)
    assert await modbus.adapter.send([setpoint]) == 1
    await modbus.settle()
    ack = modbus.acks()[setpoint.command_id].ack
    assert ack.status is AckStatus.ACCEPTED
    device = modbus.site.devices["bess"]
    assert device.command() is not None
    assert device.command() == (SetpointMode.POWER, pytest.approx(-300.0))
    assert device.raw(124, "InOutWRte_RvrtTms") == 15 * 60  # armed to the lease's end
    await modbus.advance(60)
    reading = modbus.telemetry()[-1].telemetry
    assert reading.power_kw == pytest.approx(-285.0, abs=1.0)  # ramps 0 to 300 kW in 6 s
    assert reading.soc is not None
    assert reading.soc < 0.9
    assert modbus.adapter.counts.round_trip_s  # measured for every accepted write


async def test_command_beyond_registered_limits_is_refused_before_writing(
    modbus: Harness,
) -> None:
    """500 kW is the registered maximum: 600 never reaches a register."""
    setpoint = modbus.setpoint(-600.0)
    assert await modbus.adapter.send([setpoint]) == 0
    ack = modbus.acks()[setpoint.command_id].ack
    assert ack.status is AckStatus.REJECTED
    assert ack.reason is not None
    assert "registered" in ack.reason
    assert modbus.site.devices["bess"].writes == 0
    assert modbus.adapter.counts.refused["rejected"] == 1
    assert modbus.adapter.awaiting_ack() == []


async def test_command_beyond_the_register_range_is_refused_before_writing(
    modbus: Harness,
) -> None:
    """The device's own WChaMax is lower than registered: the rate would exceed 100 %."""
    device = modbus.site.devices["bess"]
    device.set_raw(124, "WChaMax", 2000)  # 200 kW at WChaMax_SF 2
    setpoint = modbus.setpoint(300.0)
    await modbus.adapter.send([setpoint])
    await modbus.advance(60)  # the poll reads the new WChaMax; the write waits for no one
    ack = modbus.acks()[setpoint.command_id].ack
    assert ack.status is AckStatus.REJECTED
    assert ack.reason is not None
    assert "%" in ack.reason
    assert device.writes == 0
    assert device.command() is None


async def test_pv_limit_writes_wmaxlimpct(modbus: Harness) -> None:
    setpoint = modbus.setpoint(-40.0, resource_id="roof", mode=SetpointMode.LIMIT)
    await modbus.adapter.send([setpoint])
    await modbus.settle()
    assert modbus.acks()[setpoint.command_id].ack.status is AckStatus.ACCEPTED
    roof = modbus.site.devices["roof"]
    assert roof.value(123, "WMaxLimPct") == pytest.approx(40.0)
    await modbus.advance(60)
    assert modbus.telemetry("roof")[-1].telemetry.power_kw >= -40.0 - 1e-6


async def test_device_reverts_on_its_timer_when_vpp_stops(modbus: Harness) -> None:
    """vpp vanishes after writing a 15-min lease: the device is back to normal at its end."""
    await modbus.adapter.send([modbus.setpoint(-200.0)])
    await modbus.settle()
    device = modbus.site.devices["bess"]
    await modbus.adapter.kill()
    await modbus.advance(14 * 60)
    assert device.command() is not None
    assert device.reverts == 0
    await modbus.advance(2 * 60)
    assert device.command() is None
    assert device.reverts == 1
    assert device.power_kw == pytest.approx(-200.0 * 60 / 120, rel=0.05)  # half the step
    await modbus.advance(60)
    assert device.power_kw == pytest.approx(0.0)


async def test_lease_end_is_written_as_default_and_release_acked(modbus: Harness) -> None:
    first = modbus.setpoint(-100.0, minutes=5)
    await modbus.adapter.send([first])
    await modbus.settle()
    await modbus.advance(5 * 60)
    device = modbus.site.devices["bess"]
    assert device.command() is None
    second = modbus.setpoint(100.0)
    await modbus.adapter.send([second])
    await modbus.settle()
    release = modbus.setpoint(0.0, mode=SetpointMode.RELEASE)
    await modbus.adapter.send([release])
    await modbus.settle()
    assert modbus.acks()[release.command_id].ack.status is AckStatus.ACCEPTED
    assert device.command() is None


async def test_lying_device_reading_is_refused_and_counted(modbus: Harness) -> None:
    """-1e8 kW from a 500 kW battery: dropped at the boundary, counted, the link lives on."""
    device = modbus.site.devices["bess"]
    device.lie_power_kw = -1e8
    await modbus.advance(60)
    assert modbus.adapter.stats.malformed["power_outside_envelope"] >= 1
    assert len(modbus.telemetry()) == 1  # only the honest first reading
    assert modbus.states() == [GatewayState.ONLINE]


async def test_connection_loss_backs_off_and_recovers(modbus: Harness) -> None:
    """Server gone: offline once, retries after 2, 4, 8 s; back: online, lease re-written."""
    setpoint = modbus.setpoint(-100.0, minutes=30)
    await modbus.adapter.send([setpoint])
    await modbus.settle()
    port = modbus.site.port
    await modbus.site.stop()
    await modbus.advance(60)  # the next poll finds the device gone
    assert modbus.states() == [GatewayState.ONLINE, GatewayState.OFFLINE]
    for _ in range(3):
        await modbus.advance(modbus.adapter.counts.backoffs_s[-1])
    assert modbus.adapter.counts.backoffs_s == [2.0, 4.0, 8.0, 16.0]
    assert modbus.states() == [GatewayState.ONLINE, GatewayState.OFFLINE]
    assert port is not None
    await modbus.site.start(port)
    writes = modbus.site.devices["bess"].writes
    await modbus.advance(16)
    assert modbus.states()[-1] is GatewayState.ONLINE
    assert modbus.adapter.stats.reconnects == 1
    assert modbus.site.devices["bess"].writes > writes  # what is in force, written again
    assert len(modbus.telemetry()) >= 2


async def test_close_returns_when_a_poll_swallowed_its_cancellation(modbus: Harness) -> None:
    """A client library may swallow the cancellation close() sends into a poll; the loop
    then finishes its round but must not park again, or close() would wait for good."""
    (endpoint,) = modbus.adapter._endpoints.values()
    link = endpoint.link
    original = link.read
    entered, held = asyncio.Event(), asyncio.Event()

    async def stubborn_read(unit_id: int, address: int, count: int) -> list[int]:
        if not entered.is_set():
            entered.set()
            with contextlib.suppress(asyncio.CancelledError):  # the cancellation is lost
                await held.wait()
        return await original(unit_id, address, count)

    link.read = stubborn_read  # type: ignore[method-assign]
    now = modbus.clock.now() + timedelta(minutes=1)  # a poll falls due
    modbus.site.step(now)
    modbus.clock.advance_to(now)
    async with asyncio.timeout(SETTLE_LIMIT_S):
        await entered.wait()
    closing = asyncio.create_task(modbus.adapter.close())
    done, _ = await asyncio.wait({closing}, timeout=SETTLE_LIMIT_S)  # a bound, not a pace
    if not done:
        closing.cancel()
    assert done == {closing}, "close() still waits on a parked polling loop"
    assert all(task.done() for task in modbus.adapter._tasks)
