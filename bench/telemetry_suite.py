"""Telemetry ingestion through a real Mosquitto: messages per second the controller takes in.

A private ``mosquitto`` on a free port of 127.0.0.1; a publisher process sends
``n_messages`` contract telemetry messages for ``n_resources`` resources (QoS 0) as fast as
the broker takes them: the packets are encoded beforehand and written to one socket, so the
load generator costs next to nothing and the 2 cores go to the broker and the receivers.
Three receivers, one after the other in the same run, each on the same traffic:

- **before**: the path as it was before issue 16 (aiomqtt's message iterator, a task and a
  wait per message; ``json.loads`` and the pydantic model per message), for a ratio that
  holds whatever else the machine is doing;
- **one process**: the controller's own path, :func:`mqtt_adapter` (MqttLink, the
  ContractAdapter's decoding) into :meth:`Monitor.ingest`;
- **workers**: ``n_workers`` :class:`TelemetryWorker` processes on a shared subscription,
  each decoding and gating its share, their batches merged by :class:`WorkerBatches` into
  one monitor in this process.

A rate is messages over the time from the first arrival to the last. Beside them, decoding
and aggregation without the network (``decode`` + ``ingest`` in a loop), old and new. The
machine's load average is recorded at the start and the end (the machine is shared).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt

from vpp.controller.monitor import Monitor
from vpp.device_adapters.base import Inbound, TelemetryReceived
from vpp.device_adapters.codec import _decode_payload, decode
from vpp.device_adapters.mqtt import Channel, MqttLink, Topic, mqtt_adapter
from vpp.domain import CurtailableLoad, Resource, Telemetry
from vpp.telemetry_worker import TelemetryWorker, WorkerBatches

START = datetime(2026, 7, 15, 2, 0, tzinfo=UTC)
#: A reading every 10 s per resource, as the simulated gateways send them.
PERIOD = timedelta(seconds=10)
#: The ingestion counts as finished when nothing arrives for this long [s].
QUIET_S = 2.0
#: The issue's goal for one host [messages/s].
GOAL_PER_S = 25_000.0


@dataclass
class TelemetryRate:
    n_messages: int
    n_resources: int
    received: int
    ingested: int
    publish_per_s: float
    ingest_per_s: float
    """Messages per second through Mosquitto into the monitor, one process."""
    decode_ingest_per_s: float
    """Messages per second decoded and aggregated in-process (no network)."""
    before_ingest_per_s: float = 0.0
    """The same, through the path as it was before issue 16 (same run, same traffic)."""
    before_decode_ingest_per_s: float = 0.0
    n_workers: int = 0
    workers_received: int = 0
    workers_ingested: int = 0
    workers_ingest_per_s: float = 0.0
    """Messages per second through ``n_workers`` worker processes into the merged monitor."""
    before_cpu_us: float = 0.0
    cpu_us: float = 0.0
    workers_cpu_us: float = 0.0
    """CPU time per message of the receiving process(es), workers and merge together [µs]:
    what a message costs whatever else the machine does (a rate is 1e6 / this per core)."""
    goal_per_s: float = GOAL_PER_S
    cpus: int = 0
    load_1min: list[float] = field(default_factory=list)
    """The machine's 1-minute load average at the start and at the end."""

    @property
    def best_per_s(self) -> float:
        return max(self.ingest_per_s, self.workers_ingest_per_s)


def messages(n_messages: int, n_resources: int) -> list[tuple[str, bytes]]:
    """Contract telemetry, round-robin over the resources, timestamps rising per resource."""
    out = []
    for i in range(n_messages):
        r, k = i % n_resources, i // n_resources
        ts = (START + k * PERIOD).isoformat()
        payload = {"ts": ts, "power_kw": 100.0 + (i % 97), "available": True}
        out.append((f"vpp/v1/site-{r}/load/telemetry", json.dumps(payload).encode()))
    return out


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = n >> 7, n & 0x7F
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _packet(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + _remaining_length(len(body)) + body


def _utf8(text: str) -> bytes:
    data = text.encode()
    return len(data).to_bytes(2, "big") + data


def publish_packets(n_messages: int, n_resources: int) -> bytes:
    """The traffic as MQTT 3.1.1 PUBLISH packets (QoS 0), back to back."""
    return b"".join(_packet(0x30, _utf8(t) + p) for t, p in messages(n_messages, n_resources))


def _publish(port: int, n_messages: int, n_resources: int) -> float:
    """In the publisher process: connect, write every packet, disconnect; messages/s sent."""
    packets = publish_packets(n_messages, n_resources)
    connect = _packet(0x10, _utf8("MQTT") + b"\x04\x02" + (60).to_bytes(2, "big") + _utf8("pub"))
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(connect)
        connack = sock.recv(4)
        if connack[:1] != b"\x20" or connack[3:4] != b"\x00":
            raise RuntimeError(f"broker refused the publisher: {connack!r}")
        started = time.perf_counter()
        sock.sendall(packets)
        sock.sendall(_packet(0xE0, b""))
        elapsed = time.perf_counter() - started
        sock.recv(1)  # the broker closes after DISCONNECT, having read everything before it
    return n_messages / max(elapsed, 1e-9)


class _Broker:
    """A private mosquitto on a free port; unbounded queues so nothing is dropped."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        conf = workdir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            "max_queued_messages 0\nmax_queued_bytes 0\n"
        )
        self.process = subprocess.Popen(
            [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on {self.port} within 10 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def run_telemetry(
    n_messages: int = 100_000, n_resources: int = 1_000, n_workers: int = 2
) -> TelemetryRate:
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="vpp-bench-mqtt-") as tmp:
        broker = _Broker(Path(tmp))
        try:
            before, before_cpu_us = asyncio.run(
                _ingest_before(broker.port, n_messages, n_resources)
            )
            rate = asyncio.run(_ingest(broker.port, n_messages, n_resources))
            if n_workers > 0:
                received, ingested, per_s, cpu_s = asyncio.run(
                    _ingest_workers(broker.port, n_messages, n_resources, n_workers)
                )
                rate.n_workers = n_workers
                rate.workers_received, rate.workers_ingested = received, ingested
                rate.workers_ingest_per_s = per_s
                rate.workers_cpu_us = 1e6 * cpu_s / max(received, 1)
        finally:
            broker.stop()
    rate.before_ingest_per_s, rate.before_cpu_us = before, before_cpu_us
    decoded = min(n_messages, 50_000)
    rate.decode_ingest_per_s = decode_ingest_rate(decoded, n_resources)
    rate.before_decode_ingest_per_s = decode_ingest_rate(decoded, n_resources, before=True)
    rate.cpus = os.cpu_count() or 0
    rate.load_1min = [*load, os.getloadavg()[0]]
    return rate


class _Arrivals:
    """Counts arrivals; the time of the first and the last [perf_counter s], and this
    process's CPU time from the first to the last [s]."""

    def __init__(self) -> None:
        self.count = 0
        self.first = self.last = 0.0
        self.cpu_first = self.cpu_last = 0.0

    def note(self) -> None:
        self.count += 1
        now = time.perf_counter()
        if self.count == 1:
            self.first = now
            self.cpu_first = time.process_time()
        self.last = now
        if self.count % 1000 == 0:
            self.cpu_last = time.process_time()

    @property
    def cpu_us(self) -> float:
        """CPU per message, over the messages up to the last thousand [µs]."""
        counted = self.count - self.count % 1000
        return 1e6 * (self.cpu_last - self.cpu_first) / counted if counted else 0.0

    @property
    def per_s(self) -> float:
        span = self.last - self.first
        return self.count / span if span > 0 else 0.0


async def _publish_and_wait(
    port: int,
    n_messages: int,
    n_resources: int,
    received: Callable[[], int],
    quiet_s: float = QUIET_S,
) -> float:
    """Publish from another process; wait until all arrived or nothing did for ``quiet_s``."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        publishing = pool.apply_async(_publish, (port, n_messages, n_resources))
        while not publishing.ready():
            await asyncio.sleep(0.05)
        publish_per_s = float(publishing.get())
    last = -1
    while received() != last and received() < n_messages:
        last = received()
        await asyncio.sleep(quiet_s)
    return publish_per_s


async def _ingest(port: int, n_messages: int, n_resources: int) -> TelemetryRate:
    monitor = Monitor(15)
    arrivals = _Arrivals()

    def on_inbound(message: Inbound) -> None:
        arrivals.note()
        if isinstance(message, TelemetryReceived):
            monitor.ingest(message)

    adapter = mqtt_adapter(f"mqtt://127.0.0.1:{port}", lambda: datetime.now(UTC), "bench-vpp")
    await adapter.start(on_inbound)
    try:
        publish_per_s = await _publish_and_wait(
            port, n_messages, n_resources, lambda: arrivals.count
        )
    finally:
        await adapter.close()
    return TelemetryRate(
        n_messages=n_messages,
        n_resources=n_resources,
        received=arrivals.count,
        ingested=monitor.samples,
        publish_per_s=publish_per_s,
        ingest_per_s=arrivals.per_s,
        cpu_us=arrivals.cpu_us,
        decode_ingest_per_s=0.0,
    )


async def _ingest_before(port: int, n_messages: int, n_resources: int) -> tuple[float, float]:
    """The receiving path as it was before issue 16: aiomqtt's iterator, careful decoding."""
    monitor = Monitor(15)
    arrivals = _Arrivals()
    subscription = Topic.subscription(Channel.TELEMETRY)
    async with aiomqtt.Client("127.0.0.1", port, identifier="bench-before") as client:
        await client.subscribe(subscription, qos=1)

        async def receive() -> None:
            async for message in client.messages:
                arrivals.note()
                topic = message.topic.value
                parsed = Topic.parse(topic)
                assert isinstance(message.payload, bytes)
                value = _decode_payload(topic, Telemetry, message.payload)
                assert isinstance(value, Telemetry)
                assert parsed.resource_id is not None
                monitor.ingest(TelemetryReceived(parsed.site_id, parsed.resource_id, value))

        receiving = asyncio.create_task(receive())
        try:
            await _publish_and_wait(port, n_messages, n_resources, lambda: arrivals.count)
        finally:
            receiving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiving
    assert monitor.samples == arrivals.count == n_messages, (monitor.samples, arrivals.count)
    return arrivals.per_s, arrivals.cpu_us


def bench_resources(n_resources: int) -> dict[str, Resource]:
    """The resources the traffic names, registered with room for every reading."""
    spec = {
        "kind": "curtailable_load",
        "resource_id": "load",
        "typical_load_kw": [1000.0] * 24,
        "steps": [{"power_kw": 100.0, "price_cny_per_kwh": 1.0}],
    }
    load = CurtailableLoad.model_validate(spec)
    return {f"site-{r}/load": load for r in range(n_resources)}


def _bench_now() -> datetime:
    """The workers' clock: just after the traffic's last reading."""
    return START + 100 * PERIOD


def _worker(port: int, worker_id: str, n_resources: int, ready: Any, done: Any, cpu: Any) -> None:
    """In a worker process: take a share of the telemetry until told to stop; put the CPU
    time it took meanwhile [s] on ``cpu``."""

    async def run() -> None:
        worker = TelemetryWorker(
            MqttLink(f"mqtt://127.0.0.1:{port}", f"bench-worker-{worker_id}"),
            bench_resources(n_resources),
            worker_id=worker_id,
            stale_s=86_400.0,
            now=_bench_now,
        )
        await worker.start()
        started = time.process_time()
        ready.set()
        while not done.is_set():
            await asyncio.sleep(0.05)
        await worker.close()
        cpu.put(time.process_time() - started)

    asyncio.run(run())


async def _ingest_workers(
    port: int, n_messages: int, n_resources: int, n_workers: int
) -> tuple[int, int, float, float]:
    """Messages the workers received, readings merged, messages per second, and the CPU
    time of workers and merge together [s]."""
    monitor = Monitor(15)
    batches = WorkerBatches(MqttLink(f"mqtt://127.0.0.1:{port}", "bench-controller"), monitor)
    await batches.start()
    context = multiprocessing.get_context("spawn")
    done = context.Event()
    cpu = context.Queue()
    processes = []
    try:
        for n in range(n_workers):
            ready = context.Event()
            process = context.Process(
                target=_worker, args=(port, f"w{n + 1}", n_resources, ready, done, cpu)
            )
            process.start()
            processes.append(process)
            while not ready.is_set():
                await asyncio.sleep(0.05)
        merge_started = time.process_time()
        # batches come in bursts behind the backlog of telemetry: wait longer for the next
        await _publish_and_wait(
            port, n_messages, n_resources, lambda: batches.received, quiet_s=5 * QUIET_S
        )
    finally:
        done.set()
        for process in processes:
            while process.is_alive():
                await asyncio.sleep(0.05)
        await asyncio.sleep(QUIET_S)  # the last batches on their way
        await batches.close()
    cpu_s = time.process_time() - merge_started
    cpu_s += sum(cpu.get(timeout=10) for _ in processes)
    first, last = batches.first_arrival_s, batches.last_arrival_s
    span = 0.0 if first is None or last is None else last - first
    per_s = batches.received / span if span > 0 else 0.0
    return batches.received, monitor.samples, per_s, cpu_s


def decode_ingest_rate(n_messages: int, n_resources: int, *, before: bool = False) -> float:
    """Messages per second through ``decode`` and ``Monitor.ingest`` alone (``before``: the
    decoding before issue 16, a topic parse and ``json.loads`` and the model per message)."""
    batch = messages(n_messages, n_resources)
    monitor = Monitor(15)
    started = time.perf_counter()
    for topic, payload in batch:
        if before:
            parsed, value = Topic.parse(topic), _decode_payload(topic, Telemetry, payload)
        else:
            parsed, value = decode(topic, payload)
        assert isinstance(value, Telemetry)
        assert parsed.resource_id is not None
        monitor.ingest(TelemetryReceived(parsed.site_id, parsed.resource_id, value))
    return n_messages / (time.perf_counter() - started)
