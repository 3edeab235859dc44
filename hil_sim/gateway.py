"""A simulated field gateway: one per site, speaking MQTT contract v1 over any :class:`Link`.

It behaves as the field gateways the controller will meet: it answers every setpoint with an
ack (accepted, rejected with a reason, or expired), never applies a command beyond the
resource's registered limits, ignores a ``command_id`` it has already answered (QoS 1 may
deliver twice; it re-sends the same ack), and treats every setpoint as a lease, so each
device returns to normal operation at ``valid_until`` by itself even when the controller is
gone. It publishes a retained ``online`` status on every (re)connection; its link carries a
retained ``offline`` last will (:func:`status_will`).

The gateway has no clock of its own: the runner calls :meth:`SimulatedGateway.step` with
the simulated time, and the gateway reads ``now()`` to date what it receives. Between two
steps the physics is advanced piece by piece, split wherever a command starts, ends, or is
cancelled, so the telemetry (one message per resource per step: the mean power over the
step) is exact for the commands in force.

Which command is in force on a resource at time ``t``: among the accepted ones with
``valid_from <= t < valid_until`` that had arrived by ``t``, the one issued last; a
``release`` cancels every command to the resource issued at or before it. None: normal
operation.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
from collections import Counter, OrderedDict
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vpp.device_adapters.codec import MalformedMessageError, TelemetryEncoder, decode, encode
from vpp.device_adapters.link import Link, Will
from vpp.device_adapters.mqtt.topics import PREFIX, Channel, Topic
from vpp.domain import (
    Ack,
    AckStatus,
    District,
    GatewayState,
    GatewayStatus,
    Resource,
    SetpointMode,
    SetpointPayload,
    Site,
    command_refusal,
    kind_of,
)
from vpp.hil_sim.faults import FaultPlan, SiteFaults, Span
from vpp.hil_sim.physics import (
    DEFAULT_SETTINGS,
    Command,
    Device,
    PhysicsSettings,
    as_utc,
    devices_for_site,
    shadow_of,
    site_refs,
)
from vpp.synthetic import meter_hash

logger = logging.getLogger(__name__)

#: Meter noise draws taken from a gateway's stream at a time.
_NORMALS_AHEAD = 64

#: Answered command ids remembered to recognise duplicates.
ANSWERED_MEMORY = 100_000


def status_will(site_id: str, ts: datetime) -> Will:
    """The last will a gateway's link must be created with: retained ``offline`` status."""
    topic = Topic(site_id, None, Channel.STATUS)
    payload = encode(GatewayStatus(state=GatewayState.OFFLINE, ts=ts))
    return Will(topic=str(topic), payload=payload, qos=1, retain=True)


def setpoint_filter(site_id: str) -> str:
    """The subscription that receives every setpoint to one site's resources."""
    Topic(site_id, "x", Channel.SETPOINT)  # validates the site id
    return f"{PREFIX}/{site_id}/+/{Channel.SETPOINT.value}"


@dataclass
class GatewayStats:
    """Counts a test or a report reads to see what the gateway went through."""

    received: int = 0  # setpoints that decoded
    malformed: Counter[str] = field(default_factory=Counter)  # per reason
    acks: Counter[str] = field(default_factory=Counter)  # first answers, per status
    duplicates: int = 0
    ignored: int = 0  # setpoints dropped by an ignore_commands fault
    telemetry_sent: int = 0
    telemetry_suppressed: int = 0  # by a fault (silent meter, gateway offline)
    publish_failed: int = 0
    connects: int = 0


@dataclass
class ResourceTrace:
    """One resource step by step: what it did, what it was told and what it reported.

    ``counterfactual_kw`` is the same device run without any command (NaN when not
    tracked): the true baseline a report can compare measured baselines with.
    """

    ts: list[datetime] = field(default_factory=list)  # step ends
    power_kw: list[float] = field(default_factory=list)  # mean over the step
    counterfactual_kw: list[float] = field(default_factory=list)
    command_kw: list[float] = field(default_factory=list)  # NaN: normal operation
    mode: list[str | None] = field(default_factory=list)
    soc: list[float] = field(default_factory=list)  # NaN where not storage
    temperature_c: list[float] = field(default_factory=list)  # NaN where not a building
    reported_kw: list[float] = field(default_factory=list)  # NaN: no telemetry this step

    def arrays(self) -> dict[str, NDArray[np.float64]]:
        """The numeric series as arrays (same length as ``ts``)."""
        return {
            name: np.asarray(getattr(self, name), dtype=np.float64)
            for name in (
                "power_kw",
                "counterfactual_kw",
                "command_kw",
                "soc",
                "temperature_c",
                "reported_kw",
            )
        }


@dataclass
class _Accepted:
    setpoint: SetpointPayload
    effective_at: datetime  # when the gateway took it in
    seq: int


@dataclass(frozen=True)
class _Release:
    issued_at: datetime
    effective_at: datetime


class SimulatedGateway:
    """The gateway of one site: setpoints in, acks and telemetry out, physics inside.

    Parameters
    ----------
    site
        The site; its ``site_id`` names the topics.
    link
        The connection to the broker, created with :func:`status_will` as its will.
    now
        The simulated clock's reading (dates acks, expiry and arrivals).
    devices
        The site's simulated devices by ``resource_id`` (see
        :func:`vpp.hil_sim.physics.devices_for_site`).
    faults
        Faults this gateway plays; None: none.
    counterfactual
        Also run an untouched copy of every device, for the true baseline in the traces.
    """

    def __init__(
        self,
        site: Site,
        link: Link,
        *,
        now: Callable[[], datetime],
        devices: Mapping[str, Device],
        faults: SiteFaults | None = None,
        counterfactual: bool = True,
        meter_noise_pct: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.site = site
        self.site_id = site.site_id
        self.link = link
        self.devices = dict(devices)
        self.faults = faults or SiteFaults()
        self.stats = GatewayStats()
        self.traces = {rid: ResourceTrace() for rid in self.devices}
        self.subscriptions = (setpoint_filter(site.site_id),)
        self._now = now
        self._resources: dict[str, Resource] = {r.resource_id: r for r in site.resources}
        self._counterfactual = counterfactual
        # A device that has only ever run whole ticks without a command is its own twin: its
        # twin is forked (shadow_of) just before it first runs otherwise, which spares a
        # second physics run for most devices on most ticks.
        self._shadows: dict[str, Device] = {}
        self._own_twin_kw: dict[str, float] = {}  # this tick's mean power of those [kW]
        self._accepted: dict[str, list[_Accepted]] = {rid: [] for rid in self.devices}
        self._releases: dict[str, list[_Release]] = {rid: [] for rid in self.devices}
        self._released_issued: dict[str, datetime] = {}
        self._answered: OrderedDict[str, Ack] = OrderedDict()
        self._delayed: list[tuple[datetime, int, str, SetpointPayload]] = []
        self._delayed_ids: set[str] = set()
        self._seq = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last: datetime | None = None
        self._killed = False
        self._offline_played: Span | None = None  # the offline span already come back from
        self._last_reported: dict[str, float] = {}
        self._telemetry_topics: dict[str, str] = {}  # by resource, built once
        self._encode_telemetry = TelemetryEncoder()
        self._frozen: dict[str, float] = {}
        self._meter_noise = meter_noise_pct / 100.0
        self._rng = np.random.default_rng([seed, meter_hash(site.site_id)])
        self._normals: list[float] = []  # drawn ahead, last first: the same stream

    @classmethod
    def for_site(
        cls,
        district: District,
        site_id: str,
        link: Link,
        *,
        now: Callable[[], datetime],
        day: date,
        seed: int = 0,
        settings: PhysicsSettings = DEFAULT_SETTINGS,
        faults: FaultPlan | SiteFaults | None = None,
        counterfactual: bool = True,
        devices: Mapping[str, Device] | None = None,
    ) -> SimulatedGateway:
        """The gateway of a district's site with its devices built for ``day`` (or the
        ``devices`` given: the site's resources this gateway reaches)."""
        site = site_refs(district, site_id)[0].site
        if devices is None:
            devices = devices_for_site(district, site_id, day, seed=seed, settings=settings)
        site_faults = faults.for_site(site_id) if isinstance(faults, FaultPlan) else faults
        return cls(
            site,
            link,
            now=now,
            devices=devices,
            faults=site_faults,
            counterfactual=counterfactual,
            meter_noise_pct=settings.meter_noise_pct,
            seed=seed,
        )

    # --- connection -------------------------------------------------------------------

    async def start(self) -> None:
        """Connect and subscribe to this site's setpoints; the clock starts here."""
        if self._last is None:
            self._last = self._now()
        if getattr(self.link, "will", True) is None:
            logger.warning("%s: link has no last will; create it with status_will()", self.site_id)
        self.link.on_message(self._on_message)
        self.link.on_connect(self._on_connect)
        await self.link.start(self.subscriptions)

    async def stop(self) -> None:
        """Finish pending publishes, say offline (retained) and disconnect cleanly."""
        await self._drain_tasks()
        if self.link.connected:
            await self._publish_status(GatewayState.OFFLINE)
        await self.link.close()

    def kill(self) -> None:
        """Vanish without a goodbye (power cut): the broker publishes the will."""
        self._killed = True
        kill = getattr(self.link, "kill", None)
        if callable(kill):
            kill()
        else:  # a link that cannot vanish: close it (no will) rather than stay up
            logger.warning("%s: link has no kill(); closing it instead", self.site_id)
            self._spawn(self.link.close())

    async def reconnect(self) -> None:
        """Come back after :meth:`kill`; the link's connect handler says online again."""
        self._killed = False
        await self.link.start(self.subscriptions)

    async def _on_connect(self) -> None:
        self.stats.connects += 1
        await self._publish_status(GatewayState.ONLINE)

    async def _publish_status(self, state: GatewayState) -> None:
        topic = Topic(self.site_id, None, Channel.STATUS)
        payload = encode(GatewayStatus(state=state, ts=self._now()))
        if not await self.link.publish(str(topic), payload, qos=1, retain=True):
            self.stats.publish_failed += 1

    # --- setpoints --------------------------------------------------------------------

    def _on_message(self, topic: str, payload: bytes) -> None:
        """Decode, decide and store a setpoint; the ack goes out as a task."""
        try:
            parsed, value = decode(topic, payload)
        except MalformedMessageError as exc:
            self.stats.malformed[exc.reason] += 1
            logger.warning("%s: dropped malformed message: %s", self.site_id, exc)
            return
        if (
            not isinstance(value, SetpointPayload)
            or parsed.site_id != self.site_id
            or parsed.resource_id is None
        ):
            self.stats.malformed["unexpected_channel"] += 1
            logger.warning("%s: dropped message on %s: not a setpoint to it", self.site_id, topic)
            return
        self.stats.received += 1
        resource_id = parsed.resource_id
        if resource_id in self.faults.ignore_commands:
            self.stats.ignored += 1
            return
        answered = self._answered.get(value.command_id)
        if answered is not None:
            self.stats.duplicates += 1
            self._spawn(self._publish_ack(resource_id, answered))
            return
        if value.command_id in self._delayed_ids:
            self.stats.duplicates += 1
            return
        now = self._now()
        delay_s = self.faults.ack_delay_s.get(resource_id)
        if delay_s:
            due = now + timedelta(seconds=delay_s)
            self._delayed.append((due, self._next_seq(), resource_id, value))
            self._delayed_ids.add(value.command_id)
            return
        ack = self._take(resource_id, value, now)
        self._spawn(self._publish_ack(resource_id, ack))

    def _take(self, resource_id: str, setpoint: SetpointPayload, at: datetime) -> Ack:
        """Decide on a setpoint received at ``at``, store it if accepted; its ack."""
        status, reason = self._decide(resource_id, setpoint, at)
        if status is AckStatus.ACCEPTED:
            if setpoint.mode is SetpointMode.RELEASE:
                effective = max(at, setpoint.valid_from)
                self._releases[resource_id].append(_Release(setpoint.issued_at, effective))
                latest = self._released_issued.get(resource_id)
                if latest is None or setpoint.issued_at > latest:
                    self._released_issued[resource_id] = setpoint.issued_at
            else:
                self._accepted[resource_id].append(_Accepted(setpoint, at, self._next_seq()))
        else:
            logger.info(
                "%s/%s: %s %s: %s", self.site_id, resource_id, status, setpoint.command_id, reason
            )
        ack = Ack(command_id=setpoint.command_id, status=status, reason=reason)
        self._answered[setpoint.command_id] = ack
        while len(self._answered) > ANSWERED_MEMORY:
            self._answered.popitem(last=False)
        self.stats.acks[status.value] += 1
        return ack

    def _decide(
        self, resource_id: str, setpoint: SetpointPayload, at: datetime
    ) -> tuple[AckStatus, str | None]:
        resource = self._resources.get(resource_id)
        if resource is None or resource_id not in self.devices:
            return AckStatus.REJECTED, f"unknown resource {resource_id!r} at {self.site_id}"
        mode = setpoint.mode
        if mode is not SetpointMode.RELEASE and mode not in kind_of(resource).modes:
            return AckStatus.REJECTED, command_refusal(resource, mode, setpoint.power_kw)
        if setpoint.valid_until <= at:
            return AckStatus.EXPIRED, f"valid_until {setpoint.valid_until.isoformat()} has passed"
        if setpoint.valid_until <= setpoint.valid_from:
            return AckStatus.REJECTED, "valid_until is not after valid_from"
        if mode is not SetpointMode.RELEASE:
            beyond = command_refusal(resource, mode, setpoint.power_kw)
            if beyond is not None:
                return AckStatus.REJECTED, beyond
            released = self._released_issued.get(resource_id)
            if released is not None and setpoint.issued_at <= released:
                return AckStatus.REJECTED, f"superseded by a release issued {released.isoformat()}"
        return AckStatus.ACCEPTED, None

    async def _publish_ack(self, resource_id: str, ack: Ack) -> None:
        topic = Topic(self.site_id, resource_id, Channel.ACK)
        if not await self.link.publish(str(topic), encode(ack), qos=1):
            self.stats.publish_failed += 1

    def active_command(self, resource_id: str, t: datetime) -> SetpointPayload | None:
        """The setpoint in force on a resource at ``t`` (None: normal operation)."""
        if not self._accepted[resource_id]:
            return None
        best: _Accepted | None = None
        releases = self._releases[resource_id]
        for item in self._accepted[resource_id]:
            sp = item.setpoint
            if not (item.effective_at <= t and sp.valid_from <= t < sp.valid_until):
                continue
            if any(r.effective_at <= t and r.issued_at >= sp.issued_at for r in releases):
                continue
            if best is None or (sp.issued_at, item.seq) > (best.setpoint.issued_at, best.seq):
                best = item
        return None if best is None else best.setpoint

    # --- time -------------------------------------------------------------------------

    async def step(self, now: datetime) -> None:
        """Advance every device to ``now`` and publish one telemetry message per resource."""
        if self._last is None:
            self._last = now
            return
        if now <= self._last:
            return
        start = self._last
        await self._play_offline(now)
        energy = dict.fromkeys(self.devices, 0.0)
        t = start
        span_h = _hours(start, now)
        # Delayed setpoints (late_ack) are taken in when they fall due, inside the step.
        for due, _, resource_id, setpoint in self._due_delayed(now):
            if due > t:
                self._advance(t, due, energy, _hours(t, due), whole_tick=False)
                t = due
            self._delayed_ids.discard(setpoint.command_id)
            await self._publish_ack(resource_id, self._take(resource_id, setpoint, due))
        whole_tick = t == start
        self._advance(
            t, now, energy, span_h if whole_tick else _hours(t, now), whole_tick=whole_tick
        )
        self._last = now
        midpoint = now - (now - start) / 2  # when a step's command is read, for its trace
        for resource_id, device in self.devices.items():
            power_kw = energy[resource_id] / span_h
            reported = await self._report(resource_id, device, now, power_kw)
            self._trace(resource_id, device, start, now, midpoint, power_kw, reported)
        self._prune(now)

    def _due_delayed(self, now: datetime) -> list[tuple[datetime, int, str, SetpointPayload]]:
        if not self._delayed:
            return []
        due = sorted(item for item in self._delayed if item[0] <= now)
        self._delayed = [item for item in self._delayed if item[0] > now]
        return due

    def _advance(
        self,
        t0: datetime,
        t1: datetime,
        energy: dict[str, float],
        span_h: float,
        *,
        whole_tick: bool,
    ) -> None:
        """Run every device from ``t0`` to ``t1`` (``span_h`` apart [h]), split where its
        command changes."""
        if t1 <= t0:
            return
        for resource_id, device in self.devices.items():
            own_twin = self._counterfactual and resource_id not in self._shadows
            if not self._accepted[resource_id] and not self._releases[resource_id]:
                if own_twin and not whole_tick:
                    self._shadows[resource_id] = shadow_of(device)
                power_kw = device.step(t0, t1, None)
                if own_twin and whole_tick:
                    self._own_twin_kw[resource_id] = power_kw
                energy[resource_id] += power_kw * span_h  # nothing to split
                continue
            if own_twin:
                self._shadows[resource_id] = shadow_of(device)
            cuts = {t0, t1}
            for item in self._accepted[resource_id]:
                sp = item.setpoint
                cuts.update((sp.valid_from, sp.valid_until, item.effective_at))
            cuts.update(r.effective_at for r in self._releases[resource_id])
            bounds = sorted(c for c in cuts if t0 <= c <= t1)
            for a, b in itertools.pairwise(bounds):
                command = _command(self.active_command(resource_id, a))
                energy[resource_id] += device.step(a, b, command) * _hours(a, b)

    async def _report(
        self, resource_id: str, device: Device, now: datetime, power_kw: float
    ) -> float | None:
        """Publish one telemetry message unless a fault stops it; the value reported."""
        if self._killed:
            self.stats.telemetry_suppressed += 1
            return None
        silent = self.faults.telemetry_silent.get(resource_id)
        if silent is not None and silent.covers(now):
            self.stats.telemetry_suppressed += 1
            return None
        stuck = self.faults.stuck_meter.get(resource_id)
        if stuck is not None and stuck.covers(now):
            value = self._frozen.setdefault(
                resource_id, self._last_reported.get(resource_id, power_kw)
            )
        else:
            if self._frozen:
                self._frozen.pop(resource_id, None)
            # A real meter never reads a real load twice alike; a stuck one does.
            value = power_kw * (1.0 + self._meter_noise * self._standard_normal())
        payload = self._encode_telemetry(
            now, value, device.soc, device.available, device.temperature_c, device.energy_owed_kwh
        )
        topic = self._telemetry_topics.get(resource_id)
        if topic is None:
            topic = self._telemetry_topics[resource_id] = str(
                Topic(self.site_id, resource_id, Channel.TELEMETRY)
            )
        if not await self.link.publish(topic, payload, qos=0):
            self.stats.publish_failed += 1
            return None
        self.stats.telemetry_sent += 1
        self._last_reported[resource_id] = value
        return value

    def _standard_normal(self) -> float:
        """The meter noise stream's next draw: drawn 64 at a time (a draw is the same
        number either way; one call per reading was ~2 % of a city's tick)."""
        if not self._normals:
            self._normals = self._rng.standard_normal(_NORMALS_AHEAD).tolist()[::-1]
        return self._normals.pop()

    def _trace(
        self,
        resource_id: str,
        device: Device,
        start: datetime,
        now: datetime,
        midpoint: datetime,
        power_kw: float,
        reported: float | None,
    ) -> None:
        trace = self.traces[resource_id]
        trace.ts.append(now)
        trace.power_kw.append(power_kw)
        if not self._counterfactual:
            trace.counterfactual_kw.append(math.nan)
        elif resource_id in self._shadows:
            trace.counterfactual_kw.append(self._shadows[resource_id].step(start, now, None))
        else:
            trace.counterfactual_kw.append(self._own_twin_kw.pop(resource_id))
        if self._accepted[resource_id]:
            setpoint = self.active_command(resource_id, midpoint)
        else:
            setpoint = None
        trace.command_kw.append(math.nan if setpoint is None else setpoint.power_kw)
        trace.mode.append(None if setpoint is None else setpoint.mode.value)
        soc = device.soc
        trace.soc.append(math.nan if soc is None else soc)
        temperature_c = device.temperature_c
        trace.temperature_c.append(math.nan if temperature_c is None else temperature_c)
        trace.reported_kw.append(math.nan if reported is None else reported)

    def _prune(self, now: datetime) -> None:
        """Forget commands that lapsed or were cancelled, and releases that did their work."""
        for resource_id, items in self._accepted.items():
            if not items and not self._releases[resource_id]:
                continue  # nothing to forget (most devices, most ticks)
            releases = [r for r in self._releases[resource_id] if r.effective_at <= now]
            self._accepted[resource_id] = [
                item
                for item in items
                if item.setpoint.valid_until > now
                and not any(r.issued_at >= item.setpoint.issued_at for r in releases)
            ]
            self._releases[resource_id] = [
                r for r in self._releases[resource_id] if r.effective_at > now
            ]

    async def _play_offline(self, now: datetime) -> None:
        """Kill the link when an offline fault starts, reconnect when it ends."""
        span = self.faults.offline
        if span is None or span == self._offline_played:
            return
        if span.covers(now) and not self._killed:
            logger.info("%s: offline fault from %s", self.site_id, span.start.isoformat())
            self.kill()
        elif self._killed and span.end is not None and now >= span.end:
            logger.info("%s: back online at %s", self.site_id, now.isoformat())
            self._offline_played = span
            await self.reconnect()

    # --- housekeeping -----------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain_tasks(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _hours(t0: datetime, t1: datetime) -> float:
    """Elapsed hours, exact across clock changes (aware times subtract in UTC)."""
    return (as_utc(t1) - as_utc(t0)).total_seconds() / 3600.0


def _command(setpoint: SetpointPayload | None) -> Command | None:
    if setpoint is None or setpoint.mode is SetpointMode.RELEASE:
        return None
    return Command(setpoint.mode, setpoint.power_kw)
