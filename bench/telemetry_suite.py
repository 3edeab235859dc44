"""Telemetry ingestion through a real Mosquitto: messages per second the controller takes in.

A private ``mosquitto`` on a free port of 127.0.0.1; a publisher process (paho, QoS 0)
sends ``n_messages`` contract telemetry messages for ``n_resources`` resources as fast as
it can; the controller side is the controller's own path: :func:`mqtt_adapter` (MqttLink on
aiomqtt, then the ContractAdapter's decoding) delivering to :meth:`Monitor.ingest`, which
aggregates per resource and interval. The rate is messages ingested over the time from the
first to the last. Beside it, the same decoding and aggregation without the network
(``decode`` + ``ingest`` in a loop) bound what the controller's CPU can do.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vpp.controller.monitor import Monitor
from vpp.device_adapters import Inbound, TelemetryReceived
from vpp.device_adapters.codec import decode
from vpp.device_adapters.mqtt import mqtt_adapter
from vpp.domain import Telemetry

START = datetime(2026, 7, 15, 2, 0, tzinfo=UTC)
#: A reading every 10 s per resource, as the simulated gateways send them.
PERIOD = timedelta(seconds=10)
#: The ingestion counts as finished when nothing arrives for this long [s].
QUIET_S = 2.0


@dataclass
class TelemetryRate:
    n_messages: int
    n_resources: int
    received: int
    ingested: int
    publish_per_s: float
    ingest_per_s: float
    """Messages per second through Mosquitto into the monitor."""
    decode_ingest_per_s: float
    """Messages per second decoded and aggregated in-process (no network)."""


def messages(n_messages: int, n_resources: int) -> list[tuple[str, bytes]]:
    """Contract telemetry, round-robin over the resources, timestamps rising per resource."""
    out = []
    for i in range(n_messages):
        r, k = i % n_resources, i // n_resources
        ts = (START + k * PERIOD).isoformat()
        payload = {"ts": ts, "power_kw": 100.0 + (i % 97), "available": True}
        out.append((f"vpp/v1/site-{r}/load/telemetry", json.dumps(payload).encode()))
    return out


def _publish(port: int, n_messages: int, n_resources: int) -> float:
    """In the publisher process: send everything at QoS 0; messages per second sent."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    batch = messages(n_messages, n_resources)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-publisher")
    client.connect("127.0.0.1", port)
    client.loop_start()
    started = time.perf_counter()
    info = None
    for topic, payload in batch:
        info = client.publish(topic, payload, qos=0)
    if info is not None:
        info.wait_for_publish(timeout=60)
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
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


def run_telemetry(n_messages: int = 100_000, n_resources: int = 1_000) -> TelemetryRate:
    with tempfile.TemporaryDirectory(prefix="vpp-bench-mqtt-") as tmp:
        broker = _Broker(Path(tmp))
        try:
            return asyncio.run(_ingest(broker.port, n_messages, n_resources))
        finally:
            broker.stop()


async def _ingest(port: int, n_messages: int, n_resources: int) -> TelemetryRate:
    monitor = Monitor(15)
    arrivals = [0.0, 0.0]
    received = 0

    def on_inbound(message: Inbound) -> None:
        nonlocal received
        received += 1
        if received == 1:
            arrivals[0] = time.perf_counter()
        arrivals[1] = time.perf_counter()
        if isinstance(message, TelemetryReceived):
            monitor.ingest(message)

    adapter = mqtt_adapter(f"mqtt://127.0.0.1:{port}", lambda: datetime.now(UTC), "bench-vpp")
    await adapter.start(on_inbound)
    try:
        context = multiprocessing.get_context("spawn")
        with context.Pool(1) as pool:
            publishing = pool.apply_async(_publish, (port, n_messages, n_resources))
            while not publishing.ready():
                await asyncio.sleep(0.05)
            publish_per_s = float(publishing.get())
        last = -1
        while received != last and received < n_messages:
            last = received
            await asyncio.sleep(QUIET_S)
    finally:
        await adapter.close()
    span = arrivals[1] - arrivals[0]
    return TelemetryRate(
        n_messages=n_messages,
        n_resources=n_resources,
        received=received,
        ingested=monitor.samples,
        publish_per_s=publish_per_s,
        ingest_per_s=received / span if span > 0 else 0.0,
        decode_ingest_per_s=decode_ingest_rate(min(n_messages, 50_000), n_resources),
    )


def decode_ingest_rate(n_messages: int, n_resources: int) -> float:
    """Messages per second through ``decode`` and ``Monitor.ingest`` alone."""
    batch = messages(n_messages, n_resources)
    monitor = Monitor(15)
    started = time.perf_counter()
    for topic, payload in batch:
        parsed, value = decode(topic, payload)
        assert isinstance(value, Telemetry)
        assert parsed.resource_id is not None
        monitor.ingest(TelemetryReceived(parsed.site_id, parsed.resource_id, value))
    return n_messages / (time.perf_counter() - started)
