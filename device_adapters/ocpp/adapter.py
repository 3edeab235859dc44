"""The controller's side of OCPP 1.6J: EV charger pools behind charge points.

The controller sends a pool one ``limit`` per interval (a lease). This adapter keeps the
leases in force exactly as the MQTT adapter does (:mod:`vpp.device_adapters.contract`),
and turns them into one TxProfile per running transaction (:mod:`.profiles`): the pool
limit split over the sessions, ``validTo`` the last lease's end, so chargers fall back by
themselves. A ``release`` clears the TxProfiles. Every setpoint gets one ack: accepted when
every charge point of the pool accepted its profile, rejected (with the reasons) when one
rejected it, did not answer, or holds a transaction while offline; the controller then
re-dispatches.

Telemetry: the pool's reading is the sum of its connectors' latest Power.Active.Import,
sent once every connected connector has reported since the last reading (or
``round_wait_s`` after the first one did), dated by the central system's clock. Readings
that cannot be true (a connector not registered, a transaction of another charge point,
power below zero or far above the connector's rating, a stamp from the future) are
dropped and counted in ``stats.malformed``. When every charge point of a site is
disconnected the site is reported offline.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ocpp.v16 import call

from vpp.device_adapters.base import (
    AckReceived,
    AdapterStats,
    InboundHandler,
    StatusReceived,
    TelemetryReceived,
)
from vpp.device_adapters.leases import LeaseBook
from vpp.device_adapters.ocpp.central_system import (
    CentralSystem,
    ChargePointOfflineError,
    OcppStats,
)
from vpp.device_adapters.ocpp.config import (
    ChargePointConfig,
    Connector,
    OcppConnection,
    OcppServerSettings,
)
from vpp.device_adapters.ocpp.credentials import read_password_file
from vpp.device_adapters.ocpp.meter import MeterValueError, read_meter_values
from vpp.device_adapters.ocpp.profiles import (
    Lease,
    SessionLimits,
    segments,
    split_limit,
    station_max_profile,
    tx_profile,
)
from vpp.device_adapters.registry import (
    AdapterContext,
    ProtocolNotConfiguredError,
    ProtocolSpec,
    connection_of,
    register_protocol,
)
from vpp.domain import (
    Ack,
    AckStatus,
    GatewayState,
    GatewayStatus,
    ResourceRef,
    Setpoint,
    SetpointMode,
    Telemetry,
)

logger = logging.getLogger(__name__)

#: A reading above a connector's rating by more than this share is a lie [fraction].
OVER_RATING = 0.10
#: Readings this far below zero are refused (a meter's rounding stays above) [kW].
NEGATIVE_TOL_KW = 0.05
#: Refusals of one reason logged one by one before only every 1000th is [count].
LOGGED_REFUSALS = 10


@dataclass
class _Connector:
    config: Connector
    transaction_id: int | None = None
    started_seq: int = 0
    power_kw: float = 0.0
    soc: float | None = None
    status: str = "Unknown"
    fresh: bool = False  # reported since the pool's last reading


@dataclass
class _ChargePoint:
    config: ChargePointConfig
    pool_key: str
    index: int
    connectors: dict[int, _Connector] = field(default_factory=dict)


@dataclass
class _Pool:
    site_id: str
    resource_id: str
    charge_points: list[str]
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    round_started: datetime | None = None

    @property
    def key(self) -> str:
        return f"{self.site_id}/{self.resource_id}"


@dataclass(frozen=True)
class _Session:
    cp_id: str
    connector: _Connector

    @property
    def transaction_id(self) -> int:
        assert self.connector.transaction_id is not None
        return self.connector.transaction_id


class OcppAdapter:
    """Implements :class:`vpp.device_adapters.base.DeviceAdapter` for EV pools on OCPP."""

    def __init__(
        self,
        settings: OcppServerSettings,
        refs: Sequence[ResourceRef],
        now: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.stats = AdapterStats()
        self._now = now
        self._on_inbound: InboundHandler = lambda message: None
        self._pools: dict[str, _Pool] = {}
        self._cps: dict[str, _ChargePoint] = {}
        self.system = CentralSystem(settings, self, now, self._hashes)
        self.follow(refs)
        self._book = LeaseBook()
        self._sent_at: dict[str, float] = {}
        self.ack_latency_s: list[float] = []  # setpoint handed over to its ack [s, wall]
        self._transactions: dict[int, tuple[str, int]] = {}
        self._next_transaction = 1
        self._seq = 0
        self._site_online: dict[str, bool] = {}
        self._seen: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def follow(self, refs: Sequence[ResourceRef], *, strict: bool = True) -> None:
        """Reach these pools from now on (the registry changed): new charge points may log
        in, removed ones are refused; a pool kept keeps its transactions. Not ``strict``:
        a pool that cannot be reached (not EV, a charge point id taken) is logged and left
        out instead of failing the rest."""
        pools: dict[str, _Pool] = {}
        cps: dict[str, _ChargePoint] = {}
        for ref in refs:
            problem = _unreachable(ref, cps)
            if problem is not None:
                if strict:
                    raise ProtocolNotConfiguredError(problem)
                logger.error("left out: %s", problem)
                continue
            connection = connection_of(ref, OcppConnection)
            old_pool = self._pools.get(ref.key)
            pool = _Pool(ref.site.site_id, ref.resource.resource_id, [])
            if old_pool is not None:
                pool.lock = old_pool.lock
            pools[pool.key] = pool
            for cp in connection.charge_points:
                cp_id = cp.charge_point_id
                state = _ChargePoint(cp, pool.key, len(cps))
                old = self._cps.get(cp_id)
                for c in cp.connectors:
                    kept = old.connectors.get(c.connector_id) if old is not None else None
                    state.connectors[c.connector_id] = kept or _Connector(c)
                    state.connectors[c.connector_id].config = c
                cps[cp_id] = state
                pool.charge_points.append(cp_id)
        self._pools, self._cps = pools, cps
        self.system.known = frozenset(cps)

    def _hashes(self) -> dict[str, str]:
        """Password hashes by charge point id, the file read at each login (a password
        issued while the service runs works at once)."""
        hashes = dict(self.settings.passwords)
        if self.settings.password_file is not None:
            hashes.update(read_password_file(self.settings.password_file))
        return hashes

    # --- DeviceAdapter ------------------------------------------------------------------

    @property
    def ocpp_stats(self) -> OcppStats:
        return self.system.stats

    @property
    def connected(self) -> bool:
        """Whether the central system listens (a silent charge point is then news)."""
        return self.system.listening

    @property
    def busy(self) -> bool:
        """Whether an exchange with a charge point is under way (the simulator waits)."""
        return bool(self._tasks)

    async def start(self, on_inbound: InboundHandler) -> None:
        self._on_inbound = on_inbound
        await self.system.start()

    async def close(self) -> None:
        await self.drain()
        await self.system.close()

    async def drain(self) -> None:
        """Wait for every exchange under way."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def send(self, setpoints: Sequence[Setpoint]) -> int:
        sent = 0
        for setpoint in setpoints:
            pool = self._pools.get(f"{setpoint.site_id}/{setpoint.resource_id}")
            if pool is None:
                self.stats.send_failed += 1
                logger.error("no OCPP pool %s/%s", setpoint.site_id, setpoint.resource_id)
                continue
            for retired in self._book.record(setpoint):
                self._sent_at.pop(retired, None)
            self._sent_at[setpoint.command_id] = time.perf_counter()
            if any(self.system.is_connected(cp) for cp in pool.charge_points):
                sent += 1
                self.stats.sent += 1
            else:
                self.stats.send_failed += 1  # stays in force: applied when one boots
            self._spawn(self._apply(pool, setpoint))
        return sent

    def awaiting_ack(self) -> list[Setpoint]:
        return list(self._book.awaiting.values())

    def in_force(self, now: datetime) -> list[Setpoint]:
        return self._book.in_force(now)

    def _ack(self, pool: _Pool, setpoint: Setpoint, status: AckStatus, reason: str | None) -> None:
        if self._book.answer(setpoint.command_id) is None:
            return  # superseded meanwhile: its answer is no news
        started = self._sent_at.pop(setpoint.command_id, None)
        if started is not None:
            self.ack_latency_s.append(time.perf_counter() - started)
        self.stats.received["ack"] += 1
        ack = Ack(command_id=setpoint.command_id, status=status, reason=reason)
        self._on_inbound(AckReceived(pool.site_id, pool.resource_id, ack, setpoint))

    # --- profiles ---------------------------------------------------------------------

    async def _apply(self, pool: _Pool, setpoint: Setpoint | None, why: str = "") -> None:
        """Bring every charge point of the pool in line with the leases in force; ack
        ``setpoint`` from their answers."""
        async with pool.lock:
            now = self._now()
            if setpoint is not None:
                problem = _refusal(setpoint, now)
                if problem is not None:
                    held = self._book.leases.get(pool.key, {})
                    if held.get(setpoint.valid_from) is setpoint:
                        del held[setpoint.valid_from]  # refused: never applied
                    self._ack(pool, setpoint, problem[0], problem[1])
                    return
            if why:
                logger.info("%s: re-applying leases (%s)", pool.key, why)
            leases = [
                Lease(s.issued_at, s.valid_from, s.valid_until, s.power_kw)
                for s in self.in_force(now)
                if s.site_id == pool.site_id
                and s.resource_id == pool.resource_id
                and s.mode is SetpointMode.LIMIT
            ]
            problems = await self._profiles(pool, leases, now)
            if setpoint is not None:
                if problems:
                    self._ack(pool, setpoint, AckStatus.REJECTED, "; ".join(problems)[:512])
                else:
                    self._ack(pool, setpoint, AckStatus.ACCEPTED, None)

    async def _profiles(self, pool: _Pool, leases: list[Lease], now: datetime) -> list[str]:
        """Send (or clear) TxProfiles; why any charge point did not take its profile."""
        sessions = self._sessions(pool)
        problems = [
            f"{s.cp_id} is offline with transaction {s.transaction_id}"
            for s in sessions
            if not self.system.is_connected(s.cp_id)
        ]
        live = [s for s in sessions if self.system.is_connected(s.cp_id)]
        stretches = segments(leases, now)
        if not stretches:
            calls = [
                (cp_id, call.ClearChargingProfile(charging_profile_purpose="TxProfile"))
                for cp_id in pool.charge_points
                if self.system.is_connected(cp_id)
            ]
        else:
            limits = [
                SessionLimits(self._session_max_kw(s), s.connector.config.min_power_kw)
                for s in live
            ]
            per_session: list[list[tuple[datetime, datetime, float]]] = [[] for _ in live]
            for a, b, limit_kw in stretches:
                shares = (
                    [lim.max_kw for lim in limits]
                    if limit_kw is None
                    else split_limit(limit_kw, limits)
                )
                for i, share in enumerate(shares):
                    per_session[i].append((a, b, share))
            calls = []
            for session, own in zip(live, per_session, strict=True):
                unit = self._cps[session.cp_id].config.rate_unit
                profile = tx_profile(
                    session.transaction_id, now, own, session.connector.config, unit
                )
                calls.append(
                    (
                        session.cp_id,
                        call.SetChargingProfile(
                            connector_id=session.connector.config.connector_id,
                            cs_charging_profiles=profile,
                        ),
                    )
                )
        answers = await asyncio.gather(*(self._call(cp_id, payload) for cp_id, payload in calls))
        for (cp_id, payload), answer in zip(calls, answers, strict=True):
            if answer not in ("Accepted", "Unknown"):  # Unknown: nothing there to clear
                problems.append(f"{cp_id}: {type(payload).__name__} {answer}")
        return problems

    async def _call(self, cp_id: str, payload: Any) -> str:
        """A CALL's status answer, or why there is none."""
        try:
            result = await self.system.call(cp_id, payload)
        except ChargePointOfflineError:
            return "not answered: offline"
        except TimeoutError:
            return "not answered in time"
        except Exception as exc:  # a CALLERROR (NotSupported, ...)
            return f"error {type(exc).__name__}"
        return str(getattr(result, "status", "no status"))

    def _sessions(self, pool: _Pool) -> list[_Session]:
        out = [
            _Session(cp_id, connector)
            for cp_id in pool.charge_points
            for connector in self._cps[cp_id].connectors.values()
            if connector.transaction_id is not None
        ]
        return sorted(out, key=lambda s: s.connector.started_seq)

    def _session_max_kw(self, session: _Session) -> float:
        cp = self._cps[session.cp_id].config
        top = session.connector.config.max_power_kw
        return top if cp.max_kw is None else min(top, cp.max_kw)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _reapply(self, pool_key: str, why: str) -> None:
        pool = self._pools[pool_key]
        if any(
            s.site_id == pool.site_id and s.resource_id == pool.resource_id
            for s in self.in_force(self._now())
        ):
            self._spawn(self._apply(pool, None, why))

    # --- what charge points say (StationHandler) ----------------------------------------

    def _cp(self, cp_id: str) -> _ChargePoint | None:
        """A charge point still registered (one removed while connected says nothing)."""
        cp = self._cps.get(cp_id)
        if cp is None:
            self._refuse("unregistered_charge_point", cp_id)
        return cp

    def cp_connected(self, cp_id: str) -> None:
        if self._cp(cp_id) is None:
            return
        if cp_id in self._seen:
            self.stats.reconnects += 1
        self._seen.add(cp_id)
        self._site_status(self._pools[self._cps[cp_id].pool_key].site_id)

    def cp_disconnected(self, cp_id: str) -> None:
        cp = self._cps.get(cp_id)
        if cp is None:
            return
        pool = self._pools[cp.pool_key]
        logger.warning("charge point %s of %s disconnected", cp_id, pool.key)
        self._site_status(pool.site_id)
        self._maybe_report(pool)  # the others' round need not wait for it

    def booted(self, cp_id: str) -> None:
        cp = self._cp(cp_id)
        if cp is None:
            return
        if cp.config.max_kw is not None:
            profile = station_max_profile(cp.config, cp.index, self._now())
            payload = call.SetChargingProfile(connector_id=0, cs_charging_profiles=profile)
            self._spawn(self._station_cap(cp_id, payload))
        self._reapply(cp.pool_key, f"{cp_id} booted")

    async def _station_cap(self, cp_id: str, payload: Any) -> None:
        answer = await self._call(cp_id, payload)
        if answer != "Accepted":
            self.stats.malformed["station_cap_refused"] += 1
            logger.warning("%s: ChargePointMaxProfile %s", cp_id, answer)

    def status(self, cp_id: str, connector_id: int, status: str, error_code: str) -> None:
        cp = self._cp(cp_id)
        if cp is None:
            return
        self.stats.received["status_notification"] += 1
        connector = cp.connectors.get(connector_id)
        if connector is not None:
            connector.status = status
        elif connector_id != 0:
            self._refuse("unknown_connector", f"{cp_id} connector {connector_id}")

    def start_transaction(self, cp_id: str, connector_id: int, meter_start_wh: int) -> int | None:
        cp = self._cp(cp_id)
        if cp is None:
            return None
        connector = cp.connectors.get(connector_id)
        if connector is None:
            self._refuse("unknown_connector", f"{cp_id} connector {connector_id}")
            return None
        if connector.transaction_id is not None:  # the charge point lost its stop: close it
            self._transactions.pop(connector.transaction_id, None)
        tx = self._next_transaction
        self._next_transaction += 1
        self._seq += 1
        connector.transaction_id, connector.started_seq = tx, self._seq
        self._transactions[tx] = (cp_id, connector_id)
        self.stats.received["start_transaction"] += 1
        self._reapply(cp.pool_key, f"transaction {tx} started on {cp_id}/{connector_id}")
        return tx

    def stop_transaction(self, cp_id: str, transaction_id: int) -> None:
        where = self._transactions.get(transaction_id)
        if where is None or where[0] != cp_id or cp_id not in self._cps:
            self._refuse("foreign_transaction", f"{cp_id} stops transaction {transaction_id}")
            return
        del self._transactions[transaction_id]
        cp = self._cps[cp_id]
        connector = cp.connectors[where[1]]
        connector.transaction_id = None
        connector.power_kw = 0.0
        self.stats.received["stop_transaction"] += 1
        self._reapply(cp.pool_key, f"transaction {transaction_id} stopped on {cp_id}")

    def meter_values(
        self, cp_id: str, connector_id: int, transaction_id: int | None, values: list[Any]
    ) -> None:
        cp = self._cp(cp_id)
        if cp is None:
            return
        connector = cp.connectors.get(connector_id)
        if connector is None:
            self._refuse("unknown_connector", f"{cp_id} connector {connector_id}")
            return
        if transaction_id is not None and self._transactions.get(transaction_id) != (
            cp_id,
            connector_id,
        ):
            self._refuse("foreign_transaction", f"{cp_id}/{connector_id} tx {transaction_id}")
            return
        try:
            reading = read_meter_values(values)
        except MeterValueError as exc:
            self._refuse(exc.reason, f"{cp_id}/{connector_id}: {exc}")
            return
        now = self._now()
        if reading.ts is not None and reading.ts > now + timedelta(
            seconds=self.settings.meter_skew_s
        ):
            self._refuse("future_timestamp", f"{cp_id}/{connector_id} at {reading.ts}")
            return
        power = reading.power_kw
        if power is not None:
            top = connector.config.max_power_kw * (1.0 + OVER_RATING)
            if not -NEGATIVE_TOL_KW <= power <= top:
                self._refuse("implausible_power", f"{cp_id}/{connector_id}: {power:g} kW")
                return
            connector.power_kw = max(0.0, power)
        if reading.soc is not None and 0.0 <= reading.soc <= 1.0:
            connector.soc = reading.soc
        self.stats.received["meter_values"] += 1
        connector.fresh = True
        pool = self._pools[cp.pool_key]
        if pool.round_started is None:
            pool.round_started = now
        self._maybe_report(pool)

    def _maybe_report(self, pool: _Pool) -> None:
        """Send the pool's reading once every connected connector has reported."""
        if pool.round_started is None:
            return
        now = self._now()
        connectors = [
            c
            for cp_id in pool.charge_points
            if self.system.is_connected(cp_id)
            for c in self._cps[cp_id].connectors.values()
        ]
        waited = (now - pool.round_started).total_seconds() >= self.settings.round_wait_s
        if not waited and not all(c.fresh for c in connectors):
            return
        everything = [
            c for cp_id in pool.charge_points for c in self._cps[cp_id].connectors.values()
        ]
        for c in everything:
            c.fresh = False
        pool.round_started = None
        total_kw = sum(c.power_kw for c in everything)
        telemetry = Telemetry(ts=now, power_kw=total_kw)
        self._on_inbound(TelemetryReceived(pool.site_id, pool.resource_id, telemetry))

    def _site_status(self, site_id: str) -> None:
        cps = [
            cp_id
            for pool in self._pools.values()
            if pool.site_id == site_id
            for cp_id in pool.charge_points
        ]
        online = any(self.system.is_connected(cp_id) for cp_id in cps)
        if self._site_online.get(site_id) == online:
            return
        self._site_online[site_id] = online
        state = GatewayState.ONLINE if online else GatewayState.OFFLINE
        self.stats.received["status"] += 1
        status = GatewayStatus(state=state, ts=self._now())
        self._on_inbound(StatusReceived(site_id, status))

    def _refuse(self, reason: str, detail: str) -> None:
        """Count a refused message; log the first few of each reason, then every 1000th
        (a lying charge point must not flood the log)."""
        self.stats.malformed[reason] += 1
        count = self.stats.malformed[reason]
        if count <= LOGGED_REFUSALS or count % 1000 == 0:
            logger.warning("refused OCPP message (%d so far): %s (%s)", count, reason, detail[:200])


def _unreachable(ref: ResourceRef, taken: dict[str, _ChargePoint]) -> str | None:
    """Why a resource cannot be reached over OCPP next to the pools in ``taken``."""
    if ref.resource.kind != "ev_charger_pool":
        return f"{ref.key}: OCPP reaches EV charger pools only, not {ref.resource.kind}"
    try:
        connection = connection_of(ref, OcppConnection)
    except ValueError as exc:
        return f"{ref.key}: connection: {exc}"
    for cp in connection.charge_points:
        if cp.charge_point_id in taken:
            owner = taken[cp.charge_point_id].pool_key
            return f"{ref.key}: charge point {cp.charge_point_id!r} is already in {owner}"
    return None


def _refusal(setpoint: Setpoint, now: datetime) -> tuple[AckStatus, str] | None:
    """Why a setpoint is not applied at all (the MQTT gateway's own checks)."""
    if setpoint.valid_until <= now:
        return AckStatus.EXPIRED, f"valid_until {setpoint.valid_until.isoformat()} has passed"
    if setpoint.valid_until <= setpoint.valid_from:
        return AckStatus.REJECTED, "valid_until is not after valid_from"
    if setpoint.mode is SetpointMode.POWER:
        return AckStatus.REJECTED, "an EV charger pool takes limit, not power"
    if setpoint.mode is SetpointMode.LIMIT and setpoint.power_kw < -1e-6:
        return AckStatus.REJECTED, f"limit {setpoint.power_kw:g} kW is below 0"
    return None


def _ocpp_adapter(context: AdapterContext, refs: Sequence[ResourceRef]) -> OcppAdapter:
    """The OCPP central system for the district's pools on ``ocpp``
    (``settings["ocpp"]``: an :class:`OcppServerSettings`)."""
    settings = context.setting("ocpp")
    if not isinstance(settings, OcppServerSettings):
        raise ProtocolNotConfiguredError("settings['ocpp'] must be an OcppServerSettings")
    return OcppAdapter(settings, refs, context.now)


register_protocol(
    ProtocolSpec(
        name="ocpp",
        factory=_ocpp_adapter,
        connection_model=OcppConnection,
        late_resources=True,  # follow(): charge points registered later may log in
        summary="OCPP 1.6J central system for EV charger pools (SetChargingProfile)",
    )
)
