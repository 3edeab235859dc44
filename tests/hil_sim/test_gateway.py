"""The simulated gateway over the in-memory broker: acks, leases, safety, telemetry, will."""

import asyncio
from datetime import timedelta

import pytest

from vpp.controller.clock import SimulatedClock
from vpp.device_adapters import InMemoryBroker, decode
from vpp.device_adapters.mqtt.topics import Channel, Topic
from vpp.domain import (
    AckStatus,
    EvChargerPool,
    GatewayState,
    SetpointMode,
    Telemetry,
    command_refusal,
)
from vpp.hil_sim import SimulatedGateway, SiteFaults, setpoint_filter, status_will
from vpp.hil_sim.physics import BatteryDevice, EvPoolDevice, HvacDevice
from vpp.hil_sim.physics.ev import PlannedSession

from builders import DAY, TZ, at, battery, building, curtailable, district, enterprise

POWER, LIMIT, RELEASE = SetpointMode.POWER, SetpointMode.LIMIT, SetpointMode.RELEASE
DISTRICT = district(enterprise("acme", [curtailable("process", [(200.0, 1.0)]), battery("bess")]))


async def test_gateway_says_online_on_connect(make_harness):
    """Starting publishes a retained online status on the site's status topic."""
    h = await make_harness()
    assert [s.state for s in h.statuses()] == [GatewayState.ONLINE]
    assert h.gateway.stats.connects == 1


async def test_gateway_obeys_accepted_command(make_harness):
    """An accepted limit is acked and the load sheds to it."""
    h = await make_harness()
    sp = h.setpoint("process", LIMIT, 800.0, at(10), at(10.25))
    await h.send("process", sp)
    assert [(a.command_id, a.status) for a in h.acks()] == [(sp.command_id, AckStatus.ACCEPTED)]
    await h.tick(count=5)
    powers = [t.power_kw for t in h.telemetry("process")]
    # 200 kW at 1000 kW / 300 s: 60 s, so the first minute averages 900 kW
    assert powers == pytest.approx([900.0, 800.0, 800.0, 800.0, 800.0])
    assert h.gateway.traces["process"].command_kw[-1] == 800.0


async def test_gateway_returns_to_normal_at_valid_until_without_controller(make_harness):
    """The lease lapses by itself: the battery goes idle at valid_until, nobody saying so."""
    h = await make_harness()
    await h.send("bess", h.setpoint("bess", POWER, -200.0, at(10), at(10) + timedelta(minutes=3)))
    await h.controller.close()  # the controller is gone
    await h.tick(count=5)
    powers = h.gateway.traces["bess"].power_kw
    assert powers[1:3] == pytest.approx([-200.0, -200.0])
    assert powers[3] == pytest.approx(-200.0 * 4.0 / 2.0 / 60.0)  # ramps back to 0 in 4 s
    assert powers[4] == 0.0


@pytest.mark.parametrize(
    ("resource_id", "mode", "power_kw", "reason"),
    [
        ("bess", POWER, -600.0, "max_discharge_kw"),
        ("bess", POWER, 500.5, "max_charge_kw"),
        ("process", LIMIT, -5.0, "below 0"),
        ("bess", LIMIT, 100.0, "takes power, not limit"),
        ("roof", LIMIT, 0.0, "pv takes no commands"),
        ("ghost", LIMIT, 0.0, "unknown resource"),
    ],
    ids=["discharge", "charge", "negative-limit", "wrong-mode", "pv", "unknown"],
)
async def test_gateway_rejects_commands_it_must_not_apply(
    make_harness, resource_id, mode, power_kw, reason
):
    """Beyond limits, wrong mode, PV, unknown resource: rejected with the reason, not applied."""
    h = await make_harness()
    await h.send(resource_id, h.setpoint(resource_id, mode, power_kw, at(10), at(11)))
    (ack,) = h.acks()
    assert ack.status is AckStatus.REJECTED
    assert reason in (ack.reason or "")
    await h.tick()
    assert h.gateway.traces["bess"].power_kw == [0.0]
    assert h.gateway.traces["process"].power_kw == pytest.approx([1000.0])


async def test_gateway_acks_expired_setpoint_without_applying_it(make_harness):
    """A setpoint whose valid_until has passed is acked expired and ignored."""
    h = await make_harness(start=at(10.5))
    await h.send("bess", h.setpoint("bess", POWER, -200.0, at(10), at(10.5)))
    assert [a.status for a in h.acks()] == [AckStatus.EXPIRED]
    await h.tick()
    assert h.gateway.traces["bess"].power_kw == [0.0]


async def test_gateway_reacks_duplicate_without_reapplying(make_harness):
    """A command id seen before gets the same ack again; a released command stays released."""
    h = await make_harness()
    sp = h.setpoint("bess", POWER, -200.0, at(10), at(11))
    await h.send("bess", sp)
    await h.tick()
    await h.send("bess", h.setpoint("bess", RELEASE, 0.0, at(10), at(11)))
    await h.send("bess", sp)  # QoS 1 redelivery, or a resend after reconnection
    await h.tick(count=2)
    statuses = [(a.command_id, a.status) for a in h.acks()]
    assert statuses.count((sp.command_id, AckStatus.ACCEPTED)) == 2
    assert h.gateway.stats.duplicates == 1
    assert h.gateway.traces["bess"].power_kw[-1] == 0.0


async def test_gateway_release_cancels_every_earlier_command(make_harness):
    """A release ends the commands issued before it; an older one arriving late is refused."""
    h = await make_harness()
    await h.send("bess", h.setpoint("bess", POWER, -200.0, at(10), at(11), issued_at=at(9.9)))
    await h.send("bess", h.setpoint("bess", POWER, -300.0, at(10.5), at(11), issued_at=at(9.9)))
    await h.tick(count=2)
    await h.send("bess", h.setpoint("bess", RELEASE, 0.0, at(10), at(11)))
    late = h.setpoint("bess", POWER, -100.0, at(10), at(11), issued_at=at(9.95))
    await h.send("bess", late)
    await h.tick(count=40)
    assert h.acks()[-1].status is AckStatus.REJECTED
    assert "superseded" in (h.acks()[-1].reason or "")
    powers = h.gateway.traces["bess"].power_kw
    assert powers[1] == pytest.approx(-200.0)
    assert max(abs(p) for p in powers[3:]) == 0.0  # 10:30's command was cancelled too


async def test_gateway_latest_issued_command_wins(make_harness):
    """Two commands for the same time: the one issued later is in force."""
    h = await make_harness()
    await h.send("bess", h.setpoint("bess", POWER, -100.0, at(10), at(11), issued_at=at(9.5)))
    await h.send("bess", h.setpoint("bess", POWER, -250.0, at(10), at(11), issued_at=at(9.75)))
    await h.send("bess", h.setpoint("bess", POWER, -50.0, at(10), at(11), issued_at=at(9.6)))
    await h.tick(count=2)
    assert h.gateway.traces["bess"].power_kw[-1] == pytest.approx(-250.0)


async def test_gateway_counts_malformed_setpoint_and_keeps_running(make_harness):
    """Garbage on a setpoint topic is counted and dropped; the next setpoint is served."""
    h = await make_harness()
    await h.send_raw("bess", b"not json")
    await h.send_raw("bess", b'{"command_id": "x"}')
    await h.send("bess", h.setpoint("bess", POWER, -100.0, at(10), at(11)))
    assert h.gateway.stats.malformed == {"not_json": 1, "invalid": 1}
    assert [a.status for a in h.acks()] == [AckStatus.ACCEPTED]
    await h.tick()
    assert len(h.telemetry("bess")) == 1


async def test_gateway_will_fires_on_kill(make_harness):
    """Killed, the gateway vanishes: the broker publishes its retained offline will."""
    h = await make_harness()
    h.gateway.kill()
    await h.settle()
    assert [s.state for s in h.statuses()] == [GatewayState.ONLINE, GatewayState.OFFLINE]
    late = h.broker.link("late")
    seen = []
    late.on_message(lambda topic, payload: seen.append(payload))
    await late.start((setpoint_filter("acme-site").replace("+/setpoint", "status"),))
    await h.settle()
    assert b'"offline"' in seen[0]  # retained for whoever subscribes later
    await late.close()


async def test_gateway_publishes_one_telemetry_per_resource_per_step(make_harness):
    """Every step reports every resource once, stamped with the step's end."""
    h = await make_harness()
    await h.tick(count=3)
    for resource_id in ("process", "bess", "roof"):
        reports = h.telemetry(resource_id)
        assert [r.ts for r in reports] == [at(10) + timedelta(minutes=k) for k in (1, 2, 3)]
    assert h.telemetry("bess")[0].soc == pytest.approx(0.5)
    assert h.telemetry("roof")[0].power_kw == pytest.approx(-100.0)
    assert h.gateway.stats.telemetry_sent == 9


async def test_gateway_says_online_again_after_a_broker_outage(make_harness):
    """When the broker comes back, the link reconnects and the gateway says online again."""
    h = await make_harness()
    h.broker.stop()
    h.broker.restart()
    for _ in range(50):  # the link retries every 10 ms of real time
        await asyncio.sleep(0.005)
        if h.gateway.stats.connects == 2:
            break
    await h.settle()
    assert h.gateway.stats.connects == 2
    assert h.statuses()[-1].state is GatewayState.ONLINE


async def test_gateway_stop_says_offline_cleanly(make_harness):
    """A clean stop publishes a retained offline status itself (no will is needed)."""
    h = await make_harness()
    await h.gateway.stop()
    await h.settle()
    assert [s.state for s in h.statuses()] == [GatewayState.ONLINE, GatewayState.OFFLINE]
    assert status_will("acme-site", at(10)).retain


def test_command_refusal_accepts_values_within_registered_limits():
    """Within limits there is nothing to say; limits on loads only refuse negatives."""
    site = DISTRICT.enterprises[0].sites[0]
    load, bess = site.resources
    assert command_refusal(bess, POWER, -500.0) is None
    assert command_refusal(bess, POWER, 500.0) is None
    assert command_refusal(load, LIMIT, 5000.0) is None


@pytest.mark.parametrize("ack_delay_s", [None, 90.0], ids=["on-time", "late-ack-splits-ticks"])
async def test_counterfactual_is_the_same_device_never_commanded(make_harness, ack_delay_s):
    """The twin behind ``counterfactual_kw`` is forked only when a device first runs other
    than a whole tick without a command; its trace is, bit for bit, that of a gateway whose
    devices were never commanded, and the commands still act on the real device."""
    faults = SiteFaults(ack_delay_s={"process": ack_delay_s}) if ack_delay_s else None
    commanded = await make_harness(faults)
    untouched = await make_harness(faults)
    await commanded.tick(count=2)
    await untouched.tick(count=2)
    await commanded.send("process", commanded.setpoint("process", LIMIT, 700.0, at(10), at(11)))
    await commanded.send("bess", commanded.setpoint("bess", POWER, -300.0, at(10), at(11)))
    await commanded.tick(count=6)
    await untouched.tick(count=6)
    for resource_id in ("process", "bess", "roof"):
        twin = commanded.gateway.traces[resource_id].counterfactual_kw
        assert twin == untouched.gateway.traces[resource_id].counterfactual_kw
        assert twin == pytest.approx(untouched.gateway.traces[resource_id].power_kw, rel=1e-12)
    assert commanded.gateway.traces["process"].power_kw[-1] == pytest.approx(700.0)
    assert commanded.gateway.traces["bess"].power_kw[-1] == pytest.approx(-300.0)


async def first_readings(site, devices) -> dict[str, Telemetry]:
    """What a gateway over ``devices`` publishes for each of them after a minute from 10:00."""
    clock = SimulatedClock(at(10))
    broker = InMemoryBroker()
    gateway = SimulatedGateway(site, broker.link("gw"), now=clock.now, devices=devices)
    recorder = broker.link("ctl")
    heard: list[tuple[str, Telemetry]] = []

    def record(topic: str, payload: bytes) -> None:
        parsed, value = decode(topic, payload)
        if isinstance(value, Telemetry):
            heard.append((parsed.resource_id or "", value))

    recorder.on_message(record)
    await recorder.start((Topic.subscription(Channel.TELEMETRY),))
    await gateway.start()
    try:
        clock.advance_to(at(10) + timedelta(minutes=1))
        await gateway.step(clock.now())
        await wait_for(lambda: len(heard) == len(devices))
    finally:
        await gateway.stop()
        await recorder.close()
    return dict(heard)


async def test_a_buildings_gateway_reports_its_indoor_temperature():
    """A building's telemetry carries the indoor temperature its recovery is planned from;
    other kinds' carry none."""
    chiller = building(outdoor_temperature_c=[33.0] * 24)
    site = district(enterprise("mall", [chiller, battery("bess")])).enterprises[0].sites[0]
    hvac, bess = site.resources
    devices = {
        "chiller": HvacDevice(hvac, day=DAY.date(), tz=TZ, temperature_initial_c=25.5),
        "bess": BatteryDevice(bess, day=DAY.date(), tz=TZ),
    }
    readings = await first_readings(site, devices)
    assert readings["chiller"].indoor_temperature_c == pytest.approx(
        devices["chiller"].temperature_c
    )
    assert 24.0 < (readings["chiller"].indoor_temperature_c or 0.0) < 25.5  # pulled back
    assert readings["bess"].indoor_temperature_c is None


async def test_an_ev_pools_gateway_reports_the_energy_its_vehicles_still_need():
    """An EV pool's telemetry carries what its plugged-in cars still need, which its
    catch-up after an event is planned from; other kinds' carry none."""
    spec = {
        "resource_id": "chargers",
        "kind": "ev_charger_pool",
        "chargers": [{"charger_id": "c1", "max_kw": 60.0}],
        "sessions": [
            {"charger_id": "c1", "arrival": "09:00", "departure": "15:00", "energy_kwh": 90}
        ],
    }
    site = district(enterprise("garage", [spec, battery("bess")])).enterprises[0].sites[0]
    chargers, bess = site.resources
    assert isinstance(chargers, EvChargerPool)
    sessions = [PlannedSession("c1", 9 * 3600.0, 15 * 3600.0, 90.0)]
    devices = {
        "chargers": EvPoolDevice(chargers, sessions, day=DAY.date(), tz=TZ),
        "bess": BatteryDevice(bess, day=DAY.date(), tz=TZ),
    }
    readings = await first_readings(site, devices)
    owed = readings["chargers"].energy_owed_kwh
    assert owed == pytest.approx(devices["chargers"].energy_owed_kwh)
    assert owed is not None
    assert 0.0 < owed < 90.0  # charging since 09:00 (from the first step)
    assert readings["bess"].energy_owed_kwh is None


async def wait_for(condition) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the telemetry never arrived")
