"""Simulated OCPP 1.6J charge points in front of an EV pool's physics.

Each charge point of the pool is an ``ocpp.v16.ChargePoint`` client (the field's own
library) on its own websocket to the central system, with basic auth. It boots, reports
its connectors, starts a transaction when a vehicle plugs in and stops it when it leaves,
and sends one MeterValues per connector per step (the mean power over the step). It takes
TxProfiles for running transactions and ChargePointMaxProfile on connector 0, and obeys a
profile only while it is valid: past ``validTo`` (or the schedule's duration) the
connector charges normally again, whatever the central system does.

The pool's physics (:class:`vpp.hil_sim.physics.ev.EvPoolDevice`) shares a pool limit by
least laxity; the station gives it the sum of its sessions' profile limits (a session with
none counts at its connector's rating), split wherever a profile starts, changes or ends.

Simulated time runs faster than the wall: :meth:`SimulatedStation.step` awaits every CALL
it makes, so each is answered before the clock moves on.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import math
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.client import ClientConnection, connect

from vpp.device_adapters.ocpp.config import ChargePointConfig, Connector, OcppConnection
from vpp.device_adapters.ocpp.credentials import basic_auth_header
from vpp.device_adapters.ocpp.profiles import from_rate
from vpp.domain import EvChargerPool, SetpointMode
from vpp.hil_sim.gateway import ResourceTrace
from vpp.hil_sim.physics.base import Command
from vpp.hil_sim.physics.ev import EvPoolDevice
from vpp.synthetic import meter_hash

#: Id tag the simulated vehicles present.
ID_TAG = "SIM-EV"


@dataclass(frozen=True)
class StationProfile:
    purpose: str
    transaction_id: int | None
    valid_from: datetime | None
    valid_to: datetime | None
    start: datetime
    duration_s: float | None
    periods: tuple[tuple[float, float], ...]  # (start offset [s], limit [kW])

    def limit_kw(self, t: datetime) -> float | None:
        """The limit at ``t``; None when the profile is not in force."""
        if (self.valid_from is not None and t < self.valid_from) or (
            self.valid_to is not None and t >= self.valid_to
        ):
            return None
        offset = (t - self.start).total_seconds()
        if offset < 0 or (self.duration_s is not None and offset >= self.duration_s):
            return None
        current = None
        for begin, limit in self.periods:
            if begin <= offset:
                current = limit
        return current

    def cuts(self) -> list[datetime]:
        out = [self.start + timedelta(seconds=begin) for begin, _ in self.periods]
        if self.duration_s is not None:
            out.append(self.start + timedelta(seconds=self.duration_s))
        return out + [t for t in (self.valid_from, self.valid_to) if t is not None]


@dataclass
class StationStats:
    calls: Counter[str] = field(default_factory=Counter)  # CALLs sent, by action
    profiles: Counter[str] = field(default_factory=Counter)  # answers given, by status
    clears: int = 0


class _SimulatedChargePoint(ChargePoint):  # type: ignore[misc]
    def __init__(
        self, config: ChargePointConfig, connection: ClientConnection, stats: StationStats
    ) -> None:
        super().__init__(config.charge_point_id, connection, response_timeout=30)
        self.config = config
        self.stats = stats
        self.transactions: dict[int, int] = {}  # connector -> transaction id
        self.profiles: dict[int, StationProfile] = {}  # connector (0: station) -> profile
        self.starting: set[int] = set()  # connectors whose StartTransaction is under way

    @on(Action.set_charging_profile)  # type: ignore[untyped-decorator]
    def _on_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any]) -> Any:
        status = self._take(connector_id, cs_charging_profiles)
        self.stats.profiles[status] += 1
        return call_result.SetChargingProfile(status=status)

    def _take(self, connector_id: int, raw: dict[str, Any]) -> str:
        purpose = str(raw["charging_profile_purpose"])
        connector = self.config.connector(connector_id) or self.config.connectors[0]
        if purpose == "ChargePointMaxProfile" and connector_id != 0:
            return "Rejected"
        if purpose == "TxProfile" and (
            connector_id == 0
            or (
                self.transactions.get(connector_id) != raw.get("transaction_id")
                and connector_id not in self.starting  # its id may be on its way to us
            )
        ):
            return "Rejected"  # no such transaction running there
        if purpose not in ("TxProfile", "ChargePointMaxProfile"):
            return "NotSupported"
        schedule = raw["charging_schedule"]
        unit = str(schedule["charging_rate_unit"])
        start = _time(schedule.get("start_schedule")) or _time(raw.get("valid_from"))
        if start is None:
            return "Rejected"  # Absolute needs a start
        periods = tuple(
            (float(p["start_period"]), from_rate(float(p["limit"]), connector, unit))  # type: ignore[arg-type]
            for p in schedule["charging_schedule_period"]
        )
        duration = schedule.get("duration")
        self.profiles[connector_id] = StationProfile(
            purpose,
            raw.get("transaction_id"),
            _time(raw.get("valid_from")),
            _time(raw.get("valid_to")),
            start,
            None if duration is None else float(duration),
            periods,
        )
        return "Accepted"

    @on(Action.clear_charging_profile)  # type: ignore[untyped-decorator]
    def _on_clear(self, charging_profile_purpose: str | None = None, **_: Any) -> Any:
        gone = [
            c
            for c, p in self.profiles.items()
            if charging_profile_purpose is None or p.purpose == charging_profile_purpose
        ]
        for c in gone:
            del self.profiles[c]
        self.stats.clears += 1
        return call_result.ClearChargingProfile(status="Accepted" if gone else "Unknown")

    def limit_kw(self, connector: Connector, t: datetime) -> float:
        """What a connector in a transaction may draw at ``t`` [kW]."""
        profile = self.profiles.get(connector.connector_id)
        own = None if profile is None else profile.limit_kw(t)
        return connector.max_power_kw if own is None else min(own, connector.max_power_kw)

    def station_cap_kw(self, t: datetime) -> float | None:
        profile = self.profiles.get(0)
        return None if profile is None else profile.limit_kw(t)


class SimulatedStation:
    """The charge points of one EV pool, and the pool's physics behind them."""

    def __init__(
        self,
        site_id: str,
        pool: EvChargerPool,
        connection: OcppConnection,
        device: EvPoolDevice,
        *,
        url: str,
        passwords: Mapping[str, str],
        now: Callable[[], datetime],
        meter_noise_pct: float = 0.0,
        seed: int = 0,
        settle: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """``settle`` (a simulation's): awaited after each transaction starts or stops, so
        the central system's answer to it (profiles re-split over the pool) lands before
        the next one, whatever the machine's pace."""
        self.site_id = site_id
        self.pool = pool
        self._settle = settle
        self.connection = connection
        self.device = device
        self.url = url.rstrip("/")
        self.stats = StationStats()
        self._passwords = dict(passwords)
        self._now = now
        self._points: dict[str, _SimulatedChargePoint] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._sockets: list[ClientConnection] = []
        self._where = _connector_of_charger(pool, connection)
        self._tx_of_session: dict[int, tuple[str, int, int]] = {}  # session -> cp, conn, tx
        self._last: datetime | None = None
        self.trace = ResourceTrace()  # what the report reads, as for a gateway's resources
        self._shadow = copy.deepcopy(device)  # the same pool never commanded
        self._meter_noise = meter_noise_pct / 100.0
        self._rng = np.random.default_rng([seed, meter_hash(f"{site_id}/{pool.resource_id}")])

    async def start(self) -> None:
        for cp in self.connection.charge_points:
            auth = basic_auth_header(cp.charge_point_id, self._passwords[cp.charge_point_id])
            ws = await connect(
                f"{self.url}/{cp.charge_point_id}",
                subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                additional_headers={"Authorization": auth},
            )
            point = _SimulatedChargePoint(cp, ws, self.stats)
            self._points[cp.charge_point_id] = point
            self._sockets.append(ws)
            self._tasks.append(asyncio.create_task(point.start()))
            await self._call(
                point,
                call.BootNotification(
                    charge_point_model="SimCharger", charge_point_vendor="vpp-hil-sim"
                ),
            )
            for connector in cp.connectors:
                await self._call(
                    point,
                    call.StatusNotification(
                        connector_id=connector.connector_id,
                        error_code="NoError",
                        status="Available",
                        timestamp=self._now().isoformat(),
                    ),
                )
        self._last = self._now()
        # Sessions plugged in before the run charged uncontrolled until now: settle that
        # now, so the first step's MeterValues are that step's power only.
        self.device.step(self._last, self._last, None)

    async def stop(self) -> None:
        for ws in self._sockets:
            await ws.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _call(self, point: _SimulatedChargePoint, payload: Any) -> Any:
        self.stats.calls[type(payload).__name__] += 1
        return await point.call(payload)

    async def step(self, now: datetime) -> None:
        """Advance the physics to ``now`` under the profiles in force, then report."""
        if self._last is None or now <= self._last:
            return
        start, self._last = self._last, now
        before = self.device.delivered_kwh.copy()
        cuts = {start, now}
        for point in self._points.values():
            for profile in point.profiles.values():
                cuts.update(t for t in profile.cuts() if start < t < now)
        for a, b in itertools.pairwise(sorted(cuts)):
            self.device.step(a, b, self._command(a))
        hours = (now - start).total_seconds() / 3600.0
        mean_kw = (self.device.delivered_kwh - before) / hours
        await self._transactions(now)
        await self._meter_values(now, mean_kw.tolist())
        command = self._command(start + (now - start) / 2)
        trace = self.trace
        trace.ts.append(now)
        trace.power_kw.append(float(mean_kw.sum()))
        trace.counterfactual_kw.append(self._shadow.step(start, now, None))
        trace.command_kw.append(math.nan if command is None else command.power_kw)
        trace.mode.append(None if command is None else command.mode.value)
        trace.soc.append(math.nan)
        trace.temperature_c.append(math.nan)
        trace.reported_kw.append(float(mean_kw.sum()))

    def _command(self, t: datetime) -> Command | None:
        """The pool limit the charge points' profiles add up to at ``t`` (None: none)."""
        total, limited = 0.0, False
        for point in self._points.values():
            running = [c for c in point.config.connectors if c.connector_id in point.transactions]
            own = sum(point.limit_kw(c, t) for c in running)
            limited |= any(
                point.profiles.get(c.connector_id) is not None
                and point.profiles[c.connector_id].limit_kw(t) is not None
                for c in running
            )
            cap = point.station_cap_kw(t)
            if cap is not None and cap < own:
                own, limited = cap, True
            total += own
        return Command(SetpointMode.LIMIT, total) if limited else None

    async def _transactions(self, now: datetime) -> None:
        """Stop the transactions of vehicles that left, then start those of new arrivals
        (stops first: the central system then splits the pool over the sessions there)."""
        s = self.device.clock.seconds(now)
        for i in sorted(self._tx_of_session):
            if self.device.left[i]:
                cp_id, connector_id, tx = self._tx_of_session.pop(i)
                point = self._points[cp_id]
                await self._call(
                    point,
                    call.StopTransaction(
                        meter_stop=int(self.device.delivered_kwh[i] * 1000),
                        timestamp=now.isoformat(),
                        transaction_id=tx,
                    ),
                )
                # ended once the central system knows (a profile it sent meanwhile is moot)
                point.transactions.pop(connector_id, None)
                point.profiles.pop(connector_id, None)  # a TxProfile ends with its transaction
                if self._settle is not None:
                    await self._settle()
        for i, session in enumerate(self.device.sessions):
            where = self._where.get(session.charger_id)
            plugged = session.arrival_s <= s and not self.device.left[i]
            if where is None or not plugged or i in self._tx_of_session:
                continue
            cp_id, connector_id = where
            point = self._points[cp_id]
            point.starting.add(connector_id)
            result = await self._call(
                point,
                call.StartTransaction(
                    connector_id=connector_id,
                    id_tag=ID_TAG,
                    meter_start=0,
                    timestamp=now.isoformat(),
                ),
            )
            tx = int(result.transaction_id)
            point.transactions[connector_id] = tx
            point.starting.discard(connector_id)
            self._tx_of_session[i] = (cp_id, connector_id, tx)
            if self._settle is not None:
                await self._settle()

    async def _meter_values(self, now: datetime, session_kw: list[float]) -> None:
        by_connector: dict[tuple[str, int], float] = {}
        for i, session in enumerate(self.device.sessions):
            where = self._where.get(session.charger_id)
            if where is not None:
                by_connector[where] = by_connector.get(where, 0.0) + session_kw[i]
        for cp_id, point in self._points.items():
            for connector in point.config.connectors:
                power_w = by_connector.get((cp_id, connector.connector_id), 0.0) * 1000.0
                # a real meter never reads a real load twice alike
                power_w *= 1.0 + self._meter_noise * float(self._rng.standard_normal())
                sample = {
                    "value": f"{power_w:.1f}",
                    "measurand": "Power.Active.Import",
                    "unit": "W",
                }
                await self._call(
                    point,
                    call.MeterValues(
                        connector_id=connector.connector_id,
                        transaction_id=point.transactions.get(connector.connector_id),
                        meter_value=[{"timestamp": now.isoformat(), "sampledValue": [sample]}],
                    ),
                )


def _connector_of_charger(
    pool: EvChargerPool, connection: OcppConnection
) -> dict[str, tuple[str, int]]:
    """Which connector each of the pool's chargers is: named by ``charger_id``, else in
    order."""
    named = {
        c.charger_id: (cp.charge_point_id, c.connector_id)
        for cp in connection.charge_points
        for c in cp.connectors
        if c.charger_id is not None
    }
    if named:
        return named
    slots = [
        (cp.charge_point_id, c.connector_id)
        for cp in connection.charge_points
        for c in cp.connectors
    ]
    return {ch.charger_id: slot for ch, slot in zip(pool.chargers, slots, strict=False)}


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def station_connection(site_id: str, pool: EvChargerPool) -> dict[str, Any]:
    """A ``connection`` block for a pool the scenario puts on OCPP: one charge point per
    charger, one connector each, rated as the charger."""
    return {
        "charge_points": [
            {
                "charge_point_id": f"{site_id}-{pool.resource_id}-{ch.charger_id}",
                "connectors": [
                    {
                        "connector_id": 1,
                        "charger_id": ch.charger_id,
                        "max_kw": ch.max_kw,
                        "min_kw": ch.min_kw,
                    }
                ],
            }
            for ch in pool.chargers
        ]
    }
