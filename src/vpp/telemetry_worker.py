"""Telemetry taken in by several processes: a shared subscription splits it among workers.

One Python process reads MQTT at some 15,000-30,000 messages/s; a district's telemetry
can exceed that. Each :class:`TelemetryWorker` subscribes ``$share/vpp/vpp/v1/+/+/telemetry``
(the broker hands each message to one of the group's members), decodes and gates its share
as the controller would, and every ``flush_s`` publishes what it accepted as one
:class:`ReadingBatch` (msgpack) on ``vpp-internal/v1/telemetry/{worker_id}``.
:class:`WorkerBatches`, in the controller, receives the batches and merges them into its
:class:`Monitor` (:meth:`Monitor.merge`). Adding a worker adds its reading rate.

Run one with ``vpp telemetry-worker DISTRICT --broker URL --id ID``.
A worker gates on its own wall clock (a controller on a simulated clock keeps its telemetry
in-process).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import msgspec

from vpp.controller.gate import PlausibilityGate
from vpp.controller.monitor import Merged, Monitor, ReadingBatch, to_us
from vpp.device_adapters.base import TelemetryReceived
from vpp.device_adapters.codec import MalformedMessageError, decode
from vpp.device_adapters.link import Link
from vpp.device_adapters.mqtt.client_auth import ClientAuth
from vpp.device_adapters.mqtt.topics import WORKER_BATCH_PREFIX, Channel, Topic
from vpp.domain import PlausibilitySettings, Resource, Telemetry

logger = logging.getLogger(__name__)

#: The shared subscription's group; every worker of a controller joins the same one.
SHARE_GROUP = "vpp"
#: Telemetry of every site and resource, split among the group's members.
SHARED_TELEMETRY = f"$share/{SHARE_GROUP}/{Topic.subscription(Channel.TELEMETRY)}"
#: Where workers publish their batches (outside the contract's ``vpp/v1`` tree).
BATCH_PREFIX = WORKER_BATCH_PREFIX
#: The controller's client id for the batches (its login is the controller's).
WORKER_BATCHES_CLIENT_ID = "vpp-controller-batches"
BATCHES = f"{BATCH_PREFIX}/+"
#: Batches on their way to the broker at most; beyond, readings wait for the next one.
MAX_IN_FLIGHT = 8

_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(ReadingBatch)


def batch_topic(worker_id: str) -> str:
    return f"{BATCH_PREFIX}/{worker_id}"


class TelemetryWorker:
    """Takes in a share of the district's telemetry and sends what it accepts in batches.

    Parameters
    ----------
    link
        Its own connection to the broker (a client id of its own).
    resources
        The registered resources by ``site/resource`` key (the gate's registry).
    settings, stale_s
        The controller's plausibility settings and staleness window [s].
    now
        The clock the gate judges timestamps by.
    flush_s
        How often a batch is published (none when nothing arrived) [s].
    """

    def __init__(
        self,
        link: Link,
        resources: Mapping[str, Resource],
        *,
        worker_id: str,
        settings: PlausibilitySettings | None = None,
        stale_s: float = 180.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        flush_s: float = 0.1,
    ) -> None:
        if flush_s <= 0:
            raise ValueError(f"flush_s: must be positive, got {flush_s}")
        self.link = link
        self.worker_id = worker_id
        self.gate = PlausibilityGate(settings or PlausibilitySettings(), stale_s, resources.get)
        self.now = now
        self.flush_s = flush_s
        self.sent_batches = 0
        self._seq = 0
        self._batch = self._new_batch()
        self._received = 0
        self._malformed: Counter[str] = Counter()
        self._first = self._last = 0.0
        self._task: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[bool]] = set()

    async def start(self) -> None:
        self.link.on_message(self._on_message)
        await self.link.start((SHARED_TELEMETRY,))
        self._task = asyncio.create_task(self._flushing(), name=f"vpp.worker.{self.worker_id}")

    async def close(self) -> None:
        """Publish what is still held, wait for every batch to reach the broker, disconnect."""
        if self._task is not None:
            self._task.cancel()  # it is asleep or between batches: nothing is lost
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._send_held()
        while self._sending:
            await asyncio.wait(set(self._sending))
        await self.link.close()

    async def flush(self) -> bool:
        """Publish the batch held now, if anything arrived; whether one reached the broker."""
        sending = self._send_held()
        return sending is not None and await sending

    def _send_held(self) -> asyncio.Task[bool] | None:
        """Start publishing the batch held now; the next one may start before it is out."""
        if self._received == 0:
            return None
        b = self._batch
        batch = ReadingBatch(
            self.worker_id,
            self._seq,
            b.keys,
            b.ts_us,
            b.power_kw,
            b.soc,
            b.available,
            b.refused,
            self._received,
            dict(self._malformed),
            self._first,
            self._last,
            b.indoor_temperature_c,
            b.energy_owed_kwh,
        )
        self._seq += 1
        self._batch = self._new_batch()
        self._received = 0
        self._malformed = Counter()
        sending = asyncio.create_task(self._publish(batch))
        self._sending.add(sending)
        sending.add_done_callback(self._sending.discard)
        return sending

    async def _publish(self, batch: ReadingBatch) -> bool:
        # QoS 0, as the telemetry it carries: a PUBACK would queue behind the telemetry the
        # broker is sending us, and a connection lost loses the batch either way
        payload = _ENCODER.encode(batch)
        if await self.link.publish(batch_topic(self.worker_id), payload, qos=0):
            self.sent_batches += 1
            return True
        logger.error("%s: batch %d lost (%d readings)", self.worker_id, batch.seq, len(batch))
        return False

    def _new_batch(self) -> ReadingBatch:
        return ReadingBatch(self.worker_id, 0)  # numbered when it is sent

    async def _flushing(self) -> None:
        while True:
            await asyncio.sleep(self.flush_s)
            if len(self._sending) < MAX_IN_FLIGHT:
                self._send_held()

    def _on_message(self, topic: str, payload: bytes) -> None:
        arrived = time.time()
        if self._received == 0:
            self._first = arrived
        self._last = arrived
        self._received += 1
        try:
            parsed, value = decode(topic, payload)
        except MalformedMessageError as exc:
            self._malformed[exc.reason] += 1
            logger.warning("dropped malformed message: %s", exc)
            return
        if not isinstance(value, Telemetry) or parsed.resource_id is None:
            self._malformed["unexpected_channel"] += 1
            return
        message = TelemetryReceived(parsed.site_id, parsed.resource_id, value)
        now = self.now()
        reason = self.gate.check_telemetry(message, now)
        b = self._batch
        if reason is not None:
            b.refused.append((message.key, to_us(now), reason.value))
            return
        b.keys.append(message.key)
        b.ts_us.append(to_us(value.ts))
        b.power_kw.append(value.power_kw)
        b.soc.append(value.soc)
        b.available.append(value.available)
        b.indoor_temperature_c.append(value.indoor_temperature_c)
        b.energy_owed_kwh.append(value.energy_owed_kwh)


class WorkerBatches:
    """The controller's side: receives workers' batches and merges them into its monitor.

    Batches are held for ``merge_s`` and merged together, so readings of one meter heard
    by different workers are ingested in time order. ``on_merged`` gets what each merge
    told beyond the monitor (sites heard from, refusals by reason).
    """

    def __init__(
        self,
        link: Link,
        monitor: Monitor,
        on_merged: Callable[[Merged], None] = lambda merged: None,
        *,
        merge_s: float = 0.25,
    ) -> None:
        self.link = link
        self.monitor = monitor
        self.on_merged = on_merged
        self.merge_s = merge_s
        self.batches = 0
        self.undecodable = 0
        self.misshapen = 0
        """Batches that decoded but cannot be merged (:meth:`ReadingBatch.fault`)."""
        self.received = 0
        self.first_arrival_s: float | None = None
        self.last_arrival_s: float | None = None
        self._pending: list[ReadingBatch] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.link.on_message(self._on_message)
        await self.link.start((BATCHES,))
        self._task = asyncio.create_task(self._merging(), name="vpp.worker-batches")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.drain()
        await self.link.close()

    def drain(self) -> Merged:
        """Merge every batch held now."""
        pending, self._pending = self._pending, []
        merged = self.monitor.merge(pending)
        if pending:
            self.on_merged(merged)
        return merged

    async def _merging(self) -> None:
        while True:
            await asyncio.sleep(self.merge_s)
            self.drain()

    def _on_message(self, topic: str, payload: bytes) -> None:
        try:
            batch = _DECODER.decode(payload)
        except msgspec.DecodeError as exc:
            self.undecodable += 1
            logger.warning("dropped undecodable batch on %s: %s", topic, exc)
            return
        fault = batch.fault()
        if fault is not None:
            self.misshapen += 1
            logger.warning(
                "dropped batch %d of %s on %s: %s", batch.seq, batch.worker_id, topic, fault
            )
            return
        self.batches += 1
        self.received += batch.received
        if batch.received:
            first = self.first_arrival_s
            self.first_arrival_s = (
                batch.first_arrival_s if first is None else min(first, batch.first_arrival_s)
            )
            self.last_arrival_s = max(self.last_arrival_s or 0.0, batch.last_arrival_s)
        self._pending.append(batch)


async def run_worker(
    url: str,
    resources: Mapping[str, Resource],
    worker_id: str,
    flush_s: float,
    auth: ClientAuth | None = None,
) -> None:
    """Run one worker until cancelled (Ctrl-C). On a broker with accounts a worker logs in
    as the controller (``auth``'s login for the controller's username): it reads the
    telemetry the controller reads, and writes only the batches' topics besides."""
    from vpp.device_adapters.mqtt import MqttLink
    from vpp.device_adapters.mqtt.acl import CONTROLLER_USERNAME

    worker = TelemetryWorker(
        MqttLink(
            url,
            f"vpp-telemetry-{worker_id}",
            login=None if auth is None else auth.login(CONTROLLER_USERNAME),
            tls=None if auth is None else auth.tls,
        ),
        resources,
        worker_id=worker_id,
        flush_s=flush_s,
    )
    await worker.start()
    try:
        await asyncio.Event().wait()
    finally:
        await worker.close()
