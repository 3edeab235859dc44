"""Telemetry workers on a real Mosquitto: a shared subscription splits the messages between
them, and the controller's merged monitor ends as one process's would."""

import json
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from mosquitto_broker import wait_until
from vpp.controller.gate import PlausibilityGate
from vpp.controller.monitor import Merged, Monitor, ReadingBatch, from_us, to_us
from vpp.device_adapters import InMemoryBroker, MalformedMessageError, TelemetryReceived, decode
from vpp.device_adapters.mqtt import MqttLink
from vpp.domain import (
    CurtailableLoad,
    EvChargerPool,
    PlausibilitySettings,
    Resource,
    Telemetry,
)
from vpp.telemetry_worker import TelemetryWorker, WorkerBatches, batch_topic

from builders import curtailable

pytestmark = pytest.mark.broker

NOW = datetime(2026, 7, 15, 3, 0, tzinfo=UTC)
SITES = ("mall", "steel", "school")


def resources() -> dict[str, Resource]:
    out: dict[str, Resource] = {}
    for site in SITES:
        for name in ("chiller", "press"):
            spec = curtailable(name, [(200.0, 1.0)], typical_load_kw=[1000.0] * 24)
            out[f"{site}/{name}"] = CurtailableLoad.model_validate(spec)
    out["mall/chargers"] = EvChargerPool.model_validate(
        {"resource_id": "chargers", "chargers": [{"charger_id": "c1", "max_kw": 500.0}]}
    )
    return out


def traffic() -> list[tuple[str, bytes]]:
    """A morning of readings every 10 s, a stuck meter among them, and some to refuse."""
    out: list[tuple[str, bytes]] = []
    start = NOW - timedelta(minutes=2)
    for k in range(12):
        ts = (start + timedelta(seconds=10 * k)).isoformat()
        for i, key in enumerate(resources()):
            site, resource = key.split("/")
            power = 812.5 if key == "steel/press" else 300.0 + 7 * k + i
            body = {"ts": ts, "power_kw": power, "available": k % 5 != 4}
            if resource == "chiller":  # a building says how warm it is inside
                body["indoor_temperature_c"] = 24.0 + 0.25 * k + i
            if resource == "chargers":  # an EV pool says what its cars still need
                body["energy_owed_kwh"] = 400.0 - 20.0 * k
            out.append((f"vpp/v1/{site}/{resource}/telemetry", json.dumps(body).encode()))
        if k % 4 == 0:  # well-formed lies and garbage, each refused or counted
            lies = [
                ("vpp/v1/mall/chiller/telemetry", {"ts": "2999-01-01T00:00:00Z", "power_kw": 1}),
                ("vpp/v1/mall/press/telemetry", {"ts": ts, "power_kw": -1e8}),
                ("vpp/v1/other/meter/telemetry", {"ts": ts, "power_kw": 5}),
                (
                    "vpp/v1/school/chiller/telemetry",
                    {"ts": ts, "power_kw": 300, "indoor_temperature_c": 2999.0},
                ),
                (
                    "vpp/v1/mall/chargers/telemetry",
                    {"ts": ts, "power_kw": 50, "energy_owed_kwh": 1e8},
                ),
            ]
            out += [(topic, json.dumps(body).encode()) for topic, body in lies]
            out.append(("vpp/v1/mall/chiller/telemetry", b"{not json"))
    return out


def one_process(messages: list[tuple[str, bytes]]) -> tuple[Monitor, PlausibilityGate]:
    """What the controller does with the messages when it hears them all itself."""
    monitor = Monitor(15)
    registry = resources()
    gate = PlausibilityGate(PlausibilitySettings(), 180.0, registry.get)
    for topic, payload in messages:
        try:
            parsed, value = decode(topic, payload)
        except MalformedMessageError:
            continue
        assert isinstance(value, Telemetry)
        assert parsed.resource_id is not None
        message = TelemetryReceived(parsed.site_id, parsed.resource_id, value)
        if gate.check_telemetry(message, NOW) is not None:
            if message.key in registry:
                monitor.note_refused(message.key, NOW)
            continue
        monitor.ingest(message)
    return monitor, gate


def state(monitor: Monitor) -> dict[str, object]:
    """Everything the controller reads from a monitor."""
    starts = [NOW - timedelta(minutes=15 * k) for k in range(-1, 3)]
    out: dict[str, object] = {"samples": monitor.samples, "out_of_order": monitor.out_of_order}
    for key in [*resources(), "other/meter"]:
        out[key] = (
            monitor.last_seen(key),
            monitor.last_power_kw(key),
            monitor.last_soc(key),
            monitor.last_indoor_temperature(key),
            monitor.last_energy_owed(key),
            monitor.stuck_since(key),
            monitor.unavailable(key),
            [monitor.mean_kw(key, monitor.interval_start(s)) for s in starts],
            monitor.refused_in(key, [monitor.interval_start(s) for s in starts]),
        )
    return out


async def test_two_workers_split_the_telemetry_and_the_merged_monitor_equals_one_process(
    mosquitto,
):
    messages = traffic()
    registry = resources()
    workers = [
        TelemetryWorker(
            MqttLink(mosquitto.url, f"worker-{n}"),
            registry,
            worker_id=f"w{n}",
            now=lambda: NOW,
            flush_s=3600,  # one batch each, on close: the merge below sees them together
        )
        for n in (1, 2)
    ]
    monitor = Monitor(15)
    merges: list[Merged] = []
    controller = WorkerBatches(MqttLink(mosquitto.url, "controller"), monitor, merges.append)
    publisher = MqttLink(mosquitto.url, "gateways")
    await controller.start()
    for worker in workers:
        await worker.start()
    await publisher.start()
    try:
        for topic, payload in messages:
            assert await publisher.publish(topic, payload, qos=1)
        await wait_until(
            lambda: sum(w.link.stats.received for w in workers) == len(messages),
            "every message at one worker or the other",
        )
        for worker in workers:
            await worker.close()
        await wait_until(lambda: controller.batches == 2, "both workers' batches")
    finally:
        await publisher.close()
        await controller.close()
    heard = [w.link.stats.received for w in workers]
    assert min(heard) > len(messages) // 4, f"the broker did not share the messages: {heard}"
    expected, gate = one_process(messages)
    assert state(monitor) == state(expected)
    assert monitor.stuck_since("steel/press") is not None
    assert len(merges) == 1
    assert merges[0].refused == gate.refused
    assert gate.refused["temperature_outside_range"] == 3  # the 2999 °C lies
    assert gate.refused["energy_owed_outside_range"] == 3  # the 1e8 kWh lies
    assert monitor.last_energy_owed("mall/chargers") == (NOW - timedelta(seconds=10), 180.0)
    assert monitor.last_indoor_temperature("mall/chiller") is not None
    assert merges[0].malformed == {"not_json": 3}
    assert merges[0].received == len(messages)
    assert merges[0].heard == {site: NOW - timedelta(seconds=10) for site in SITES}


async def test_merge_keeps_each_meter_in_time_order_across_workers():
    """Readings of one meter heard by two workers are ingested by time, not by worker."""
    t = [NOW + timedelta(seconds=10 * k) for k in range(4)]
    a = ReadingBatch("w1", 0, ["s/m"] * 2, [to_us(t[0]), to_us(t[2])], [1.0, 3.0], [None] * 2)
    b = ReadingBatch("w2", 0, ["s/m"] * 2, [to_us(t[1]), to_us(t[3])], [2.0, 4.0], [None] * 2)
    a.available.extend([True, True])
    b.available.extend([True, False])
    monitor = Monitor(15)
    merged = monitor.merge([a, b])
    assert (monitor.samples, monitor.out_of_order) == (4, 0)
    assert monitor.last_seen("s/m") == t[3]
    assert monitor.last_power_kw("s/m") == 4.0
    assert monitor.unavailable("s/m")
    assert merged.heard == {"s": t[3]}


def test_a_batch_that_cannot_be_merged_is_dropped_and_counted_and_the_merging_goes_on():
    """A faulty or mismatched worker's batch (columns that do not line up, a time no
    clock holds, a reading that is not a number) is dropped and counted on arrival; it
    cannot stop the merge of the good batches after it."""
    controller = WorkerBatches(InMemoryBroker().link("controller"), Monitor(15))
    key, ts = "mall/chargers", to_us(NOW)

    def good(seq: int) -> ReadingBatch:
        return ReadingBatch("w1", seq, [key], [ts + seq], [1.0], [None], [True])

    misaligned = good(1)
    misaligned.energy_owed_kwh.extend([1.0, 2.0])
    far = ReadingBatch("w1", 2, [key], [2**62], [1.0], [None], [True])
    not_a_number = ReadingBatch("w1", 3, [key], [ts + 3], [float("nan")], [None], [True])
    short = ReadingBatch("w1", 4, [key, key], [ts + 4], [1.0, 1.0], [None, None], [True, True])
    for batch in (misaligned, far, not_a_number, short, good(5)):
        controller._on_message(batch_topic("w1"), msgspec.msgpack.encode(batch))
    assert controller.misshapen == 4
    assert controller.batches == 1
    merged = controller.drain()
    assert merged.accepted == 1
    assert controller.monitor.last_seen(key) == from_us(ts + 5)
