"""The controller's side of Modbus TCP: polls batteries and inverters, writes leases.

It keeps the contract adapter's promises (:mod:`vpp.device_adapters.contract`): every
setpoint is remembered while in force, answered once (an ack after the write was read
back, or a rejection), and the command in force on a device at ``t`` is, among those with
``valid_from <= t < valid_until``, the one issued last; a ``release`` cancels every command
issued at or before it. Where the map has a revert timer (SunSpec 123/124/704, or a custom
map's), every write arms it to the lease's end, so the device falls back by itself if vpp
goes silent; without one, the adapter writes the default at ``valid_until``.

One task per host and port polls its devices every ``poll_period_s`` and wakes at every
lease boundary, all on the :class:`AdapterContext` clock; a lost connection is retried
after 2 s, doubling to 5 min. Readings that cannot be true (power beyond the resource's
physical envelope, SoC outside 0..1, points the device says are not implemented) are
counted and dropped here, at the boundary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import ValidationError

from vpp.device_adapters.base import (
    AckReceived,
    AdapterStats,
    InboundHandler,
    StatusReceived,
    TelemetryReceived,
)
from vpp.device_adapters.modbus.client import DeviceRefusedError, ModbusEndpoint, ModbusLinkError
from vpp.device_adapters.modbus.config import ModbusConnection, ModbusSettings
from vpp.device_adapters.modbus.controls import (
    CustomRegisterMap,
    DeviceMap,
    NotImplementedPointError,
    OutOfRangeError,
    SunSpecMap,
    Write,
    changed,
    check_registered,
)
from vpp.device_adapters.modbus.maps import SUNSPEC, load_map
from vpp.device_adapters.modbus.sunspec import BASE_ADDRESSES, SunSpecError, discover
from vpp.device_adapters.registry import (
    AdapterContext,
    ProtocolSpec,
    connection_of,
    register_protocol,
)
from vpp.domain import (
    Ack,
    AckStatus,
    GatewayState,
    GatewayStatus,
    PlausibilitySettings,
    ResourceRef,
    Setpoint,
    SetpointMode,
    Telemetry,
)
from vpp.domain.plausibility import plausible_range_kw

logger = logging.getLogger(__name__)

#: Answered command ids remembered to recognise duplicates.
ANSWERED_MEMORY = 100_000


@dataclass
class ModbusCounts:
    """What crossed the wire, for an operator and a report."""

    reads: int = 0
    writes: int = 0
    polls: int = 0
    refused: Counter[str] = field(default_factory=Counter)  # commands, per reason
    round_trip_s: list[float] = field(default_factory=list)  # write to read-back [s, wall]
    backoffs_s: list[float] = field(default_factory=list)  # waits after failures [s]


@dataclass
class _Device:
    ref: ResourceRef
    connection: ModbusConnection
    map: DeviceMap | None = None
    registers: dict[int, int] = field(default_factory=dict)
    leases: list[Setpoint] = field(default_factory=list)  # accepted, not lapsed
    written: str | None = None  # command id written to the device; None: its default
    next_poll: datetime | None = None

    @property
    def key(self) -> str:
        return self.ref.key


@dataclass
class _Endpoint:
    link: ModbusEndpoint
    devices: list[_Device]
    online: bool | None = None  # None: not yet known
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    parked_until: datetime | None = None
    retry_at: datetime | None = None


class ModbusAdapter:
    """Implements :class:`vpp.device_adapters.base.DeviceAdapter` over Modbus TCP."""

    def __init__(
        self,
        refs: Sequence[ResourceRef],
        *,
        now: Callable[[], datetime],
        sleep_until: Callable[[datetime], Awaitable[None]],
        settings: ModbusSettings | None = None,
    ) -> None:
        self.settings = settings or ModbusSettings()
        self.stats = AdapterStats()
        self.counts = ModbusCounts()
        self._now = now
        self._sleep_until = sleep_until
        self._on_inbound: InboundHandler = lambda message: None
        self._devices: dict[str, _Device] = {}
        self._endpoints: dict[tuple[str, int], _Endpoint] = {}
        for ref in refs:
            connection = connection_of(ref, ModbusConnection)
            device = _Device(ref, connection)
            self._devices[ref.key] = device
            where = (connection.host, connection.port)
            if where not in self._endpoints:
                link = ModbusEndpoint(
                    *where, timeout_s=connection.timeout_s, settings=self.settings
                )
                self._endpoints[where] = _Endpoint(link, [])
            self._endpoints[where].devices.append(device)
        self._awaiting: dict[str, Setpoint] = {}
        self._sent_at: dict[str, float] = {}
        self._answered: OrderedDict[str, None] = OrderedDict()
        self._tasks: list[asyncio.Task[None]] = []
        self._plausibility = PlausibilitySettings()
        self._closed = False

    # --- DeviceAdapter ----------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """The adapter itself is up; a device that stops answering says so by its status."""
        return bool(self._tasks) and not self._closed

    @property
    def busy(self) -> bool:
        """Whether a device task has work in hand at the current time (a simulation waits
        for it before moving the clock, so a poll or write completes at the time it was due)."""
        if self._closed:
            return False
        now = self._now()
        for endpoint in self._endpoints.values():
            if endpoint.parked_until is None or endpoint.parked_until <= now:
                return True
            if endpoint.wake.is_set():
                return True
        return False

    async def start(self, on_inbound: InboundHandler) -> None:
        self._on_inbound = on_inbound
        for endpoint in self._endpoints.values():
            task = asyncio.create_task(self._run(endpoint), name=f"vpp.modbus.{endpoint.link.name}")
            self._tasks.append(task)

    async def send(self, setpoints: Sequence[Setpoint]) -> int:
        taken = 0
        now = self._now()
        for setpoint in setpoints:
            device = self._devices.get(f"{setpoint.site_id}/{setpoint.resource_id}")
            self._awaiting[setpoint.command_id] = setpoint
            self._sent_at[setpoint.command_id] = time.perf_counter()
            if device is None:
                self.stats.send_failed += 1
                self._answer(setpoint, AckStatus.REJECTED, "not a Modbus resource of this adapter")
                continue
            reason = self._refusal(device, setpoint, now)
            if reason is not None:
                status = (
                    AckStatus.EXPIRED if reason.startswith("valid_until") else AckStatus.REJECTED
                )
                self._refuse(setpoint, status, reason)
                continue
            self._remember(device, setpoint)
            self.stats.sent += 1
            taken += 1
            self._endpoint_of(device).wake.set()
        return taken

    def awaiting_ack(self) -> list[Setpoint]:
        return list(self._awaiting.values())

    def in_force(self, now: datetime) -> list[Setpoint]:
        out: list[Setpoint] = []
        for device in self._devices.values():
            device.leases = [s for s in device.leases if s.valid_until > now]
            out += device.leases
        return out

    async def close(self) -> None:
        """Stop polling; what is in force now (releases included) is written first."""
        await self._stop_tasks()
        for endpoint in self._endpoints.values():
            if endpoint.link.connected:
                with contextlib.suppress(ModbusLinkError, DeviceRefusedError):
                    for device in endpoint.devices:
                        await self._apply(endpoint, device, self._now())
            await endpoint.link.close()

    async def kill(self) -> None:
        """Vanish without a last write (a crash): each device falls back on its own timer."""
        await self._stop_tasks()
        for endpoint in self._endpoints.values():
            await endpoint.link.close()

    async def _stop_tasks(self) -> None:
        self._closed = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- leases -----------------------------------------------------------------------

    def _refusal(self, device: _Device, setpoint: Setpoint, now: datetime) -> str | None:
        if setpoint.valid_until <= now:
            return f"valid_until {setpoint.valid_until.isoformat()} has passed"
        if setpoint.valid_until <= setpoint.valid_from:
            return "valid_until is not after valid_from"
        if setpoint.mode is SetpointMode.RELEASE:
            return None
        try:
            check_registered(device.ref.resource, setpoint.mode, setpoint.power_kw)
        except OutOfRangeError as exc:
            return str(exc)
        return None

    def _remember(self, device: _Device, setpoint: Setpoint) -> None:
        kept: list[Setpoint] = []
        for old in device.leases:
            superseded = (
                setpoint.mode is SetpointMode.RELEASE and old.issued_at <= setpoint.issued_at
            ) or old.valid_from == setpoint.valid_from
            if superseded:
                if self._awaiting.pop(old.command_id, None) is not None:
                    self._remember_answered(old.command_id)  # a late answer is no news
            else:
                kept.append(old)
        device.leases = [*kept, setpoint]

    @staticmethod
    def _active(device: _Device, t: datetime) -> Setpoint | None:
        """The command in force at ``t`` (a release, or None: the device's default)."""
        live = [s for s in device.leases if s.valid_from <= t < s.valid_until]
        return max(live, key=lambda s: s.issued_at, default=None)

    def _answer(self, setpoint: Setpoint, status: AckStatus, reason: str | None = None) -> None:
        if self._awaiting.pop(setpoint.command_id, None) is None:
            return
        started = self._sent_at.pop(setpoint.command_id, None)
        if status is AckStatus.ACCEPTED and started is not None:
            self.counts.round_trip_s.append(time.perf_counter() - started)
        self._remember_answered(setpoint.command_id)
        self.stats.received["ack"] += 1
        ack = Ack(command_id=setpoint.command_id, status=status, reason=reason)
        self._on_inbound(AckReceived(setpoint.site_id, setpoint.resource_id, ack, setpoint))

    def _refuse(self, setpoint: Setpoint, status: AckStatus, reason: str) -> None:
        self.counts.refused[status.value] += 1
        logger.warning(
            "refused %s to %s/%s: %s",
            setpoint.command_id,
            setpoint.site_id,
            setpoint.resource_id,
            reason,
        )
        self._answer(setpoint, status, reason)

    def _remember_answered(self, command_id: str) -> None:
        self._answered[command_id] = None
        while len(self._answered) > ANSWERED_MEMORY:
            self._answered.popitem(last=False)

    def _endpoint_of(self, device: _Device) -> _Endpoint:
        return self._endpoints[(device.connection.host, device.connection.port)]

    # --- the loop of one host and port ------------------------------------------------

    async def _run(self, endpoint: _Endpoint) -> None:
        while not self._closed:
            now = self._now()
            endpoint.wake.clear()
            if not endpoint.link.connected:
                if endpoint.retry_at is not None and now < endpoint.retry_at:
                    await self._park(endpoint, endpoint.retry_at)
                    continue
                if not await self._connect(endpoint):
                    continue
            try:
                for device in endpoint.devices:
                    if device.next_poll is None or device.next_poll <= now:
                        await self._poll(device, endpoint, now)
                    await self._apply(endpoint, device, now)
            except ModbusLinkError as exc:
                self._went_offline(endpoint, str(exc))
                continue
            await self._park(endpoint, self._next_wake(endpoint, now))

    async def _connect(self, endpoint: _Endpoint) -> bool:
        now = self._now()
        try:
            await endpoint.link.connect()
            for device in endpoint.devices:
                if device.map is None:
                    device.map = await self._resolve(endpoint.link, device)
                device.next_poll = None
                if device.written is not None:
                    device.written = "?"  # unknown after a loss: write what is in force again
        except (ModbusLinkError, DeviceRefusedError, SunSpecError, NotImplementedPointError) as exc:
            self._went_offline(endpoint, str(exc))
            return False
        endpoint.retry_at = None
        if endpoint.online is False:
            self.stats.reconnects += 1
        if endpoint.online is not True:
            logger.info("%s: online", endpoint.link.name)
            self._status(endpoint, GatewayState.ONLINE, now)
        endpoint.online = True
        return True

    def _went_offline(self, endpoint: _Endpoint, why: str) -> None:
        now = self._now()
        if endpoint.link.failures == 0:
            endpoint.link.failures = 1
        wait_s = endpoint.link.backoff_s()
        self.counts.backoffs_s.append(wait_s)
        endpoint.retry_at = now + _seconds(wait_s)
        if endpoint.online is not False:
            logger.warning("%s: offline (%s); retrying in %.0f s", endpoint.link.name, why, wait_s)
            self._status(endpoint, GatewayState.OFFLINE, now)
        endpoint.online = False

    def _status(self, endpoint: _Endpoint, state: GatewayState, now: datetime) -> None:
        for site_id in sorted({d.ref.site.site_id for d in endpoint.devices}):
            self.stats.received["status"] += 1
            self._on_inbound(StatusReceived(site_id, GatewayStatus(state=state, ts=now)))

    async def _resolve(self, link: ModbusEndpoint, device: _Device) -> DeviceMap:
        connection = device.connection
        if connection.map != SUNSPEC:
            return CustomRegisterMap(load_map(connection.map), device.ref.resource)

        async def read(address: int, count: int) -> list[int] | None:
            self.counts.reads += 1
            try:
                return await link.read(connection.unit_id, address, count)
            except DeviceRefusedError:
                return None

        bases = BASE_ADDRESSES if connection.base_address is None else (connection.base_address,)
        layout = await discover(read, bases)
        logger.info(
            "%s: SunSpec at %d, models %s", device.key, layout.base_address, sorted(layout.models)
        )
        return SunSpecMap(layout, device.ref.resource)

    def _next_wake(self, endpoint: _Endpoint, now: datetime) -> datetime:
        times: list[datetime] = []
        for device in endpoint.devices:
            if device.next_poll is not None:
                times.append(device.next_poll)
            for lease in device.leases:
                times += [t for t in (lease.valid_from, lease.valid_until) if t > now]
        return min(times, default=now + _seconds(60.0))

    async def _park(self, endpoint: _Endpoint, until: datetime) -> None:
        """Sleep on the adapter's clock until ``until`` or until :meth:`send` wakes us.

        Never once closed: a cancellation that a poll swallowed (the client library's) would
        otherwise leave the loop parked for good and :meth:`close` waiting on it.
        """
        if endpoint.wake.is_set() or self._closed:
            return
        endpoint.parked_until = until
        sleeper = asyncio.ensure_future(self._sleep_until(until))
        waker = asyncio.ensure_future(endpoint.wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            endpoint.parked_until = None
            for future in (sleeper, waker):
                future.cancel()

    # --- one device ----------------------------------------------------------------------

    async def _read_all(self, endpoint: _Endpoint, device: _Device) -> None:
        assert device.map is not None
        for address, count in device.map.blocks():
            self.counts.reads += 1
            try:
                words = await endpoint.link.read(device.connection.unit_id, address, count)
            except DeviceRefusedError as exc:
                raise ModbusLinkError(str(exc)) from None
            device.registers.update(zip(range(address, address + count), words, strict=True))

    async def _poll(self, device: _Device, endpoint: _Endpoint, now: datetime) -> None:
        device.next_poll = now + _seconds(device.connection.poll_period_s)
        await self._read_all(endpoint, device)
        self.counts.polls += 1
        assert device.map is not None
        try:
            reading = device.map.reading(device.registers)
            telemetry = Telemetry(ts=now, power_kw=reading.power_kw, soc=reading.soc)
        except NotImplementedPointError as exc:
            self._malformed("not_implemented", device, str(exc))
            return
        except ValidationError as exc:
            self._malformed("soc_outside_range", device, str(exc.errors()[0]["msg"]))
            return
        low, high = plausible_range_kw(device.ref.resource, self._plausibility)
        if not low <= telemetry.power_kw <= high:
            self._malformed(
                "power_outside_envelope",
                device,
                f"{telemetry.power_kw:g} kW outside {low:g}..{high:g}",
            )
            return
        self.stats.received["telemetry"] += 1
        site, resource = device.ref.site.site_id, device.ref.resource.resource_id
        self._on_inbound(TelemetryReceived(site, resource, telemetry))

    def _malformed(self, reason: str, device: _Device, detail: str) -> None:
        self.stats.malformed[reason] += 1
        logger.warning("%s: dropped reading: %s", device.key, detail)

    async def _apply(self, endpoint: _Endpoint, device: _Device, now: datetime) -> None:
        """Write the command in force now, if it is not what the device already has."""
        active = self._active(device, now)
        command = None if active is None or active.mode is SetpointMode.RELEASE else active
        wanted = None if command is None else command.command_id
        if wanted == device.written:
            if active is not None and active.command_id in self._awaiting:
                self._answer(active, AckStatus.ACCEPTED)  # a release with nothing to undo
            return
        assert device.map is not None
        if command is None:
            writes = device.map.release()
        else:
            revert_s = math.ceil((command.valid_until - now).total_seconds())
            try:
                if not device.registers:
                    await self._read_all(endpoint, device)
                writes = device.map.command(
                    device.registers, command.mode, command.power_kw, revert_s
                )
            except (OutOfRangeError, NotImplementedPointError) as exc:
                device.leases.remove(command)
                self._refuse(command, AckStatus.REJECTED, str(exc))
                return
        try:
            await self._write(endpoint, device, writes)
        except DeviceRefusedError as exc:
            if command is not None:
                device.leases.remove(command)
                self._refuse(command, AckStatus.REJECTED, str(exc))
            return
        device.written = wanted
        if active is not None:
            self._answer(active, AckStatus.ACCEPTED)

    async def _write(self, endpoint: _Endpoint, device: _Device, writes: list[Write]) -> None:
        """Write, read back, and write again what did not stick; refuses if it never does."""
        pending = writes
        for _ in range(1 + self.settings.write_retries):
            for write in pending:
                self.counts.writes += 1
                await endpoint.link.write(device.connection.unit_id, write.address, write.registers)
            await self._read_all(endpoint, device)
            pending = changed(writes, device.registers)
            if not pending:
                return
        raise DeviceRefusedError(f"registers {[w.address for w in pending]} did not read back")


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def _modbus_adapter(context: AdapterContext, refs: Sequence[ResourceRef]) -> ModbusAdapter:
    """Modbus TCP to the resources' own hosts (``settings["modbus"]``: optional
    :class:`ModbusSettings`)."""
    settings = context.settings.get("modbus")
    return ModbusAdapter(
        refs,
        now=context.now,
        sleep_until=context.sleep_until,
        settings=settings if isinstance(settings, ModbusSettings) else None,
    )


register_protocol(
    ProtocolSpec(
        name="modbus",
        factory=_modbus_adapter,
        connection_model=ModbusConnection,
        summary="Modbus TCP to batteries and PV inverters (SunSpec or a YAML register map)",
    )
)
