"""A simulated Modbus TCP / SunSpec device: a pymodbus server in front of the same physics.

A site put on Modbus answers on one TCP port (127.0.0.1, a free port), one unit id per
resource (1, 2, ... in the site's order). Each battery shows SunSpec models 1, 103 and 124,
each PV inverter 1, 103, 120 and 123, at base address 40000 (the pymodbus simulator
datastore, ``SimDevice``/``SimData``). Reads see the device as it is at the clock's time;
writes take effect at the clock's time, and a revert timer (124 ``InOutWRte_RvrtTms``, 123
``WMaxLimPct_RvrtTms``) returns the device to normal operation on simulated time, whether or
not vpp is still there. A write outside a register's range is refused with the Modbus
exception ILLEGAL_DATA_VALUE, as a device does.

PV physics takes no commands, so a PV limit clips its mean power over each step (close
enough for a limit held over minutes).

In a simulated day (:class:`ModbusSites`) each device keeps a :class:`ResourceTrace` as a
gateway does, so the report measures it like any other resource. Of the scripted faults a
Modbus device plays two: ``stuck_meter`` (the W register freezes) and ``offline`` (the
site's server goes away and comes back on the same port); ``ignore_commands``,
``late_ack`` and ``telemetry_silent`` describe an MQTT gateway and do not apply.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from vpp.device_adapters.modbus.sunspec import (
    MODELS,
    STORCTL_CHARGE,
    STORCTL_DISCHARGE,
    decode,
    encode,
    image,
)
from vpp.domain import Battery, District, Pv, Resource, SetpointMode, Site
from vpp.hil_sim.faults import FaultPlan, SiteFaults, Span
from vpp.hil_sim.gateway import ResourceTrace
from vpp.hil_sim.physics import Command, Device
from vpp.synthetic import meter_hash

logger = logging.getLogger(__name__)

BASE_ADDRESS = 40000
HOST = "127.0.0.1"

#: Write and read function codes of holding registers.
_WRITES = frozenset({6, 16, 23})


def _power_sf(max_w: float) -> int:
    """The smallest scale factor at which ``max_w`` fits an int16 [W]."""
    sf = 0
    while max_w / 10.0**sf > 0x7FFF:
        sf += 1
    return sf


class SunSpecDevice:
    """One resource's registers and physics; ``simdevice`` plugs into a pymodbus server."""

    def __init__(
        self,
        resource: Resource,
        device: Device,
        *,
        unit_id: int,
        now: Callable[[], datetime],
        meter_noise_pct: float = 0.2,
        seed: int = 0,
        stuck_meter: Span | None = None,
    ) -> None:
        if not isinstance(resource, Battery | Pv):
            raise ValueError(f"{resource.resource_id}: only batteries and PV speak Modbus here")
        self.resource = resource
        self.device = device
        self.unit_id = unit_id
        self._now = now
        self._last = now()
        self.power_kw = 0.0  # mean over the last advance
        self.revert_at: datetime | None = None
        self.writes = 0
        self.refused_writes = 0
        self.reverts = 0
        self.lie_power_kw: float | None = None  # a faulty meter: reports this instead
        self.reported_kw = 0.0
        self.stuck_meter = stuck_meter  # from then the W register stays as it was
        self.trace = ResourceTrace()  # what the report reads, as for a gateway's resources
        self._shadow = copy.deepcopy(device)  # the same device never commanded
        self._noise = meter_noise_pct / 100.0
        self._rng = np.random.default_rng([seed, meter_hash(resource.resource_id)])
        if isinstance(resource, Battery):
            rated_w = 1000.0 * max(resource.max_charge_kw, resource.max_discharge_kw)
            self.models: tuple[int, ...] = (1, 103, 124)
            values = {
                (124, "WChaMax_SF"): _power_sf(rated_w),
                (124, "WChaMax"): round(rated_w / 10.0 ** _power_sf(rated_w)),
                (124, "StorCtl_Mod"): 0,
                (124, "InWRte"): 0,
                (124, "OutWRte"): 0,
                (124, "InOutWRte_RvrtTms"): 0,
                (124, "ChaState_SF"): -1,
                (124, "InOutWRte_SF"): -2,
            }
        else:
            rated_w = 1000.0 * resource.capacity_kw
            self.models = (1, 103, 120, 123)
            values = {
                (120, "WRtg_SF"): _power_sf(rated_w),
                (120, "WRtg"): round(rated_w / 10.0 ** _power_sf(rated_w)),
                (123, "WMaxLimPct"): 1000,
                (123, "WMaxLimPct_RvrtTms"): 0,
                (123, "WMaxLim_Ena"): 0,
                (123, "WMaxLimPct_SF"): -1,
            }
        self.registers = image(self.models, values)
        self._starts = self._model_starts()
        self._refresh()
        self.simdevice = SimDevice(
            id=unit_id,
            simdata=[
                SimData(BASE_ADDRESS, values=list(self.registers), datatype=DataType.REGISTERS)
            ],
            action=self._action,
        )

    # --- registers ------------------------------------------------------------------------

    def _model_starts(self) -> dict[int, int]:
        starts, index = {}, 2
        for model_id in self.models:
            starts[model_id] = index
            index += 2 + MODELS[model_id].length
        return starts

    def _index(self, model_id: int, point: str) -> int:
        return self._starts[model_id] + 2 + MODELS[model_id].points[point].offset

    def raw(self, model_id: int, point: str, registers: list[int] | None = None) -> int | None:
        regs = self.registers if registers is None else registers
        spec = MODELS[model_id].points[point]
        i = self._index(model_id, point)
        return decode(spec.type, regs[i : i + len(encode(spec.type, 0))])

    def set_raw(self, model_id: int, point: str, raw: int) -> None:
        spec = MODELS[model_id].points[point]
        words = encode(spec.type, raw)
        i = self._index(model_id, point)
        self.registers[i : i + len(words)] = words

    def value(self, model_id: int, point: str, registers: list[int] | None = None) -> float:
        """A point with its scale factor applied (0 where not implemented)."""
        spec = MODELS[model_id].points[point]
        raw = self.raw(model_id, point, registers) or 0
        sf = 0 if spec.sf is None else (self.raw(model_id, spec.sf, registers) or 0)
        return raw * 10.0**sf

    def _refresh(self) -> None:
        """Measurement registers from the physics: W (export > 0), SoC."""
        reported_kw = self.reported_kw if self.lie_power_kw is None else self.lie_power_kw
        sf = _power_sf(abs(reported_kw) * 1000)
        self.set_raw(103, "W_SF", sf)
        self.set_raw(103, "W", round(-reported_kw * 1000 / 10.0**sf))
        if isinstance(self.resource, Battery) and self.device.soc is not None:
            self.set_raw(124, "ChaState", round(self.device.soc * 1000))

    # --- commands -----------------------------------------------------------------------

    def command(self, registers: list[int] | None = None) -> Command | None:
        """The command the control registers hold (None: normal operation)."""
        if isinstance(self.resource, Battery):
            mode = self.raw(124, "StorCtl_Mod", registers) or 0
            basis_kw = self.value(124, "WChaMax", registers) / 1000.0
            if mode & STORCTL_CHARGE:
                kw = self.value(124, "InWRte", registers) / 100.0 * basis_kw
                return Command(SetpointMode.POWER, kw)
            if mode & STORCTL_DISCHARGE:
                kw = self.value(124, "OutWRte", registers) / 100.0 * basis_kw
                return Command(SetpointMode.POWER, -kw)
            return None
        if (self.raw(123, "WMaxLim_Ena", registers) or 0) != 1:
            return None
        pct = self.value(123, "WMaxLimPct", registers)
        return Command(SetpointMode.LIMIT, -pct / 100.0 * self.value(120, "WRtg", registers) / 1000)

    def _invalid(self, registers: list[int]) -> str | None:
        """Why the written registers hold a value the device cannot take."""
        if isinstance(self.resource, Battery):
            mode = self.raw(124, "StorCtl_Mod", registers) or 0
            if mode > 3:
                return "StorCtl_Mod"
            for point in ("InWRte", "OutWRte"):
                if not -100.0 <= self.value(124, point, registers) <= 100.0:
                    return point
            return None
        if not 0.0 <= self.value(123, "WMaxLimPct", registers) <= 100.0:
            return "WMaxLimPct"
        if (self.raw(123, "WMaxLim_Ena", registers) or 0) > 1:
            return "WMaxLim_Ena"
        return None

    def _revert_s(self) -> int:
        point = (
            (124, "InOutWRte_RvrtTms")
            if isinstance(self.resource, Battery)
            else (123, "WMaxLimPct_RvrtTms")
        )
        return self.raw(*point) or 0

    def _revert(self) -> None:
        if isinstance(self.resource, Battery):
            self.set_raw(124, "StorCtl_Mod", 0)
        else:
            self.set_raw(123, "WMaxLim_Ena", 0)
        self.revert_at = None
        self.reverts += 1

    # --- time -----------------------------------------------------------------------------

    def advance(self, now: datetime) -> None:
        """Run the physics to ``now``, reverting on the timer where it falls due."""
        if now <= self._last:
            return
        t0, energy_kwh = self._last, 0.0
        while t0 < now:
            t1 = now
            if self.revert_at is not None and t0 < self.revert_at < now:
                t1 = self.revert_at
            energy_kwh += self._step(t0, t1) * (t1 - t0).total_seconds() / 3600.0
            if self.revert_at is not None and self.revert_at <= t1:
                self._revert()
            t0 = t1
        self.power_kw = energy_kwh * 3600.0 / (now - self._last).total_seconds()
        counterfactual_kw = self._shadow.step(self._last, now, None)
        if self.stuck_meter is None or not self.stuck_meter.covers(now):
            # A real meter never reads a real power twice alike (a stuck one does).
            noise = 1.0 + self._noise * float(self._rng.standard_normal())
            self.reported_kw = self.power_kw * noise
        self._last = now
        self._refresh()
        self._trace(now, counterfactual_kw)

    def _trace(self, now: datetime, counterfactual_kw: float) -> None:
        command = self.command()
        trace = self.trace
        trace.ts.append(now)
        trace.power_kw.append(self.power_kw)
        trace.counterfactual_kw.append(counterfactual_kw)
        trace.command_kw.append(math.nan if command is None else command.power_kw)
        trace.mode.append(None if command is None else command.mode.value)
        soc = self.device.soc
        trace.soc.append(math.nan if soc is None else soc)
        trace.temperature_c.append(math.nan)
        lie_kw = self.lie_power_kw
        trace.reported_kw.append(self.reported_kw if lie_kw is None else lie_kw)

    def _step(self, t0: datetime, t1: datetime) -> float:
        command = self.command()
        if isinstance(self.resource, Pv):
            power = self.device.step(t0, t1, None)
            return power if command is None else max(power, command.power_kw)
        return self.device.step(t0, t1, command)

    async def _action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        current: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """Every request: bring the device to the clock's time; take a write if valid."""
        self.advance(self._now())
        offset = address - start_address
        if function_code in _WRITES and set_values is not None:
            after = list(self.registers)
            after[offset : offset + count] = [int(v) for v in set_values]
            if self._invalid(after) is not None:
                self.refused_writes += 1
                return ExcCodes.ILLEGAL_VALUE
            self.registers = after
            self.writes += 1
            revert_s = self._revert_s()
            self.revert_at = self._now() + timedelta(seconds=revert_s) if revert_s else None
        current[: len(self.registers)] = self.registers
        return None


class ModbusSite:
    """One site's batteries and PV on one pymodbus TCP server (unit ids 1, 2, ... in site
    order, over the resources ``devices`` holds)."""

    def __init__(
        self,
        site: Site,
        devices: Mapping[str, Device],
        *,
        now: Callable[[], datetime],
        meter_noise_pct: float = 0.2,
        seed: int = 0,
        faults: SiteFaults | None = None,
    ) -> None:
        self.site = site
        faults = faults or SiteFaults()
        self.offline = faults.offline  # the server is away for this span
        served = [r for r in site.resources if r.resource_id in devices]
        self.devices = {
            r.resource_id: SunSpecDevice(
                r,
                devices[r.resource_id],
                unit_id=i,
                now=now,
                meter_noise_pct=meter_noise_pct,
                seed=seed,
                stuck_meter=faults.stuck_meter.get(r.resource_id),
            )
            for i, r in enumerate(served, start=1)
        }
        self.port: int | None = None
        self.restarts = 0
        self._server: ModbusTcpServer | None = None

    async def start(self, port: int = 0) -> int:
        """Listen on ``port`` (0: a free one); the port listened on."""
        server = ModbusTcpServer([d.simdevice for d in self.devices.values()], address=(HOST, port))
        await server.serve_forever(background=True)
        sockets: Any = server.transport.sockets  # type: ignore[attr-defined]
        self.port = int(sockets[0].getsockname()[1])
        self._server = server
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]
            self._server = None

    @property
    def listening(self) -> bool:
        return self._server is not None

    def step(self, now: datetime) -> None:
        for device in self.devices.values():
            device.advance(now)

    async def play_faults(self, now: datetime) -> None:
        """Take the server away while the site's ``offline`` span covers ``now``, and back
        on its own port after it (the devices keep running on their own timers)."""
        if self.offline is None or self.port is None:
            return
        if self.offline.covers(now) and self.listening:
            logger.warning("%s: Modbus server offline at %s", self.site.site_id, now)
            await self.stop()
        elif not self.offline.covers(now) and not self.listening:
            logger.warning("%s: Modbus server back at %s", self.site.site_id, now)
            await self.start(self.port)
            self.restarts += 1

    def connection(self, resource_id: str, poll_period_s: float = 60.0) -> dict[str, object]:
        """The ``connection`` block that registers the resource on this server."""
        assert self.port is not None, "start() the site first"
        return {
            "host": HOST,
            "port": self.port,
            "unit_id": self.devices[resource_id].unit_id,
            "map": "sunspec",
            "poll_period_s": poll_period_s,
        }


def on_modbus(
    district: District, sites: Mapping[str, ModbusSite], poll_period_s: float = 60.0
) -> District:
    """The district with these (started) sites' devices registered on Modbus at their
    servers; a site all of whose resources are served moves to Modbus as a whole."""
    data = district.model_dump(mode="json")
    for enterprise in data["enterprises"]:
        for site in enterprise["sites"]:
            served = sites.get(site["site_id"])
            if served is None:
                continue
            if all(r["resource_id"] in served.devices for r in site["resources"]):
                site["protocol"] = "modbus"
            for resource in site["resources"]:
                if resource["resource_id"] not in served.devices:
                    continue
                resource["protocol"] = "modbus"
                resource["connection"] = served.connection(resource["resource_id"], poll_period_s)
    return District.model_validate(data)


class ModbusSites:
    """The scenario's sites on Modbus (``protocols: {site_id: modbus}``): each one's
    batteries and PV on a :class:`ModbusSite` in front of their physics; the rest of the
    site stays with its MQTT gateway."""

    def __init__(
        self,
        district: District,
        site_ids: list[str],
        now: Callable[[], datetime],
        *,
        meter_noise_pct: float = 0.2,
        seed: int = 0,
        faults: FaultPlan | None = None,
        poll_period_s: float = 60.0,
    ) -> None:
        self.district = district
        self.site_ids = sorted(site_ids)
        self._now = now
        self._noise_pct, self._seed = meter_noise_pct, seed
        self._faults = faults
        self.poll_period_s = poll_period_s
        self.sites: dict[str, ModbusSite] = {}

    def take_devices(self, site_id: str, devices: dict[str, Device]) -> dict[str, Device]:
        """The site's devices its MQTT gateway keeps; its batteries' and PV's are served here."""
        if site_id not in self.site_ids:
            return devices
        site = next(s for e in self.district.enterprises for s in e.sites if s.site_id == site_id)
        served = {r.resource_id for r in site.resources if isinstance(r, Battery | Pv)}
        if not served:
            raise ValueError(f"protocols: site {site_id} has no battery or PV to put on Modbus")
        faults = self._faults.for_site(site_id) if self._faults is not None else None
        self.sites[site_id] = ModbusSite(
            site,
            {rid: devices[rid] for rid in served},
            now=self._now,
            meter_noise_pct=self._noise_pct,
            seed=self._seed,
            faults=faults,
        )
        return {rid: d for rid, d in devices.items() if rid not in served}

    async def start(self) -> District:
        """Start every server; the district with their devices registered on them."""
        for site in self.sites.values():
            await site.start()
        return on_modbus(self.district, self.sites, self.poll_period_s)

    async def play_faults(self, now: datetime) -> None:
        """Servers away or back as of ``now``: called before the clock shows ``now``, so no
        poll due at ``now`` can run before the server is where the script puts it."""
        for site in self.sites.values():
            await site.play_faults(now)

    def step(self, now: datetime) -> None:
        for site in self.sites.values():
            site.step(now)

    async def stop(self) -> None:
        for site in self.sites.values():
            await site.stop()

    def traces(self) -> dict[str, ResourceTrace]:
        """Each served resource's trace, by ``site_id/resource_id``."""
        return {
            f"{site_id}/{rid}": device.trace
            for site_id, site in self.sites.items()
            for rid, device in site.devices.items()
        }

    def summary(self) -> dict[str, Any]:
        """What the devices saw (the adapter's own counts are in the report beside it)."""
        devices = [d for site in self.sites.values() for d in site.devices.values()]
        return {
            "servers": len(self.sites),
            "devices": len(devices),
            "writes_taken": sum(d.writes for d in devices),
            "writes_refused": sum(d.refused_writes for d in devices),
            "reverts": sum(d.reverts for d in devices),
            "server_restarts": sum(s.restarts for s in self.sites.values()),
        }
