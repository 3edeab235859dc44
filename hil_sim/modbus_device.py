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
"""

from __future__ import annotations

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
from vpp.hil_sim.physics import Command, Device
from vpp.synthetic import meter_hash

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
        # A real meter never reads a real power twice alike (a stuck one does).
        self.reported_kw = self.power_kw * (1.0 + self._noise * float(self._rng.standard_normal()))
        self._last = now
        self._refresh()

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
    """One site's devices on one pymodbus TCP server (unit ids 1, 2, ... in site order)."""

    def __init__(
        self,
        site: Site,
        devices: Mapping[str, Device],
        *,
        now: Callable[[], datetime],
        meter_noise_pct: float = 0.2,
        seed: int = 0,
    ) -> None:
        self.site = site
        self.devices = {
            r.resource_id: SunSpecDevice(
                r,
                devices[r.resource_id],
                unit_id=i,
                now=now,
                meter_noise_pct=meter_noise_pct,
                seed=seed,
            )
            for i, r in enumerate(site.resources, start=1)
        }
        self.port: int | None = None
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

    def step(self, now: datetime) -> None:
        for device in self.devices.values():
            device.advance(now)

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
    """The district with these (started) sites registered on Modbus at their servers."""
    data = district.model_dump(mode="json")
    for enterprise in data["enterprises"]:
        for site in enterprise["sites"]:
            served = sites.get(site["site_id"])
            if served is None:
                continue
            site["protocol"] = "modbus"
            for resource in site["resources"]:
                resource["connection"] = served.connection(resource["resource_id"], poll_period_s)
    return District.model_validate(data)
