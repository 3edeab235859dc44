"""What to read and write on one device: readings from registers, commands to registers.

Two kinds of map resolve to one :class:`DeviceMap`: a SunSpec device (by the models its
scan found) and a custom YAML map. Every command is checked twice before it is written: the
registers must be able to express it (their range, after scale factors) and the resource's
registered limits must allow it; either failure raises :class:`OutOfRangeError` and nothing
is written.

Signs: vpp's ``power_kw`` is consumption (ARCHITECTURE.md); SunSpec's ``W`` is power out
of the inverter, so ``power_kw = -W / 1000``; a battery discharging or PV generating reads
negative.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from vpp.device_adapters.modbus.maps import CustomMap, Register
from vpp.device_adapters.modbus.sunspec import (
    MODELS,
    SIZE,
    STORCTL_CHARGE,
    STORCTL_DISCHARGE,
    Layout,
    PointType,
    decode,
    encode,
    raw_range,
    to_raw,
)
from vpp.domain import Battery, Pv, Resource, SetpointMode

#: Slack on registered limits, so a value rounded on its way is not refused [kW].
LIMIT_TOL_KW = 1e-6

#: Longest read in one request [registers] (Modbus allows 125).
MAX_READ = 125


class OutOfRangeError(ValueError):
    """A command the registers cannot hold or the registration does not allow."""


class NotImplementedPointError(ValueError):
    """The device reports a point it needs as not implemented."""


class Write(NamedTuple):
    address: int
    registers: tuple[int, ...]


class Reading(NamedTuple):
    power_kw: float
    soc: float | None


Registers = Mapping[int, int]
"""The device's registers as last read, by address."""


class DeviceMap(Protocol):
    """One device's registers as vpp uses them."""

    @property
    def has_revert_timer(self) -> bool:
        """Whether the device falls back by itself after a timeout vpp writes."""
        ...

    def blocks(self) -> list[tuple[int, int]]:
        """(address, count) ranges a poll reads."""
        ...

    def reading(self, registers: Registers) -> Reading: ...

    def command(
        self, registers: Registers, mode: SetpointMode, power_kw: float, revert_s: int
    ) -> list[Write]:
        """Writes that command ``power_kw`` [kW] until the device reverts after ``revert_s``."""
        ...

    def release(self) -> list[Write]:
        """Writes that return the device to normal operation."""
        ...


def _value(registers: Registers, address: int, point_type: PointType, what: str) -> int:
    words = [registers[address + i] for i in range(SIZE[point_type])]
    raw = decode(point_type, words)
    if raw is None:
        raise NotImplementedPointError(f"{what} at {address} is not implemented")
    return raw


def registered_range_kw(resource: Resource, mode: SetpointMode) -> tuple[float, float]:
    """What the registration allows a command's ``power_kw`` to be [kW, consumption > 0].

    A battery ``power`` command: ``-max_discharge_kw .. max_charge_kw``. A PV ``limit``
    caps generation: ``power_kw`` in ``-capacity_kw .. 0`` (the least consumption allowed,
    so ``-30`` lets the inverter generate at most 30 kW).
    """
    if isinstance(resource, Battery) and mode is SetpointMode.POWER:
        return -resource.max_discharge_kw, resource.max_charge_kw
    if isinstance(resource, Pv) and mode is SetpointMode.LIMIT:
        return -resource.capacity_kw, 0.0
    raise OutOfRangeError(f"{resource.kind} takes no {mode.value} commands over Modbus")


def check_registered(resource: Resource, mode: SetpointMode, power_kw: float) -> None:
    low, high = registered_range_kw(resource, mode)
    if not low - LIMIT_TOL_KW <= power_kw <= high + LIMIT_TOL_KW:
        raise OutOfRangeError(f"power_kw {power_kw:g} outside the registered {low:g}..{high:g} kW")


@dataclass(frozen=True)
class SunSpecMap:
    """A SunSpec device: measurement from 701 or 101-103, SoC from 124 or 802, battery
    control by 124 (charge/discharge rates) or 704 (``WSet``), PV limit by 123 or 704."""

    layout: Layout
    resource: Resource

    def _address(self, model_id: int, point: str) -> int:
        return self.layout.address(model_id, point)

    def _point(self, registers: Registers, model_id: int, point: str) -> float:
        """A point's value with its scale factor applied."""
        spec = MODELS[model_id].points[point]
        raw = _value(registers, self._address(model_id, point), spec.type, f"{model_id}.{point}")
        return raw * 10.0 ** self._sf(registers, model_id, spec.sf)

    def _sf(self, registers: Registers, model_id: int, sf_point: str | None) -> int:
        if sf_point is None:
            return 0
        return _value(registers, self._address(model_id, sf_point), "sunssf", sf_point)

    def _power_model(self) -> int:
        for model_id in (701, 103, 102, 101):
            if self.layout.has(model_id):
                return model_id
        raise NotImplementedPointError("no AC measurement model (701, 101-103) in the map")

    def _control_model(self) -> int | None:
        wanted = (124, 704) if isinstance(self.resource, Battery) else (123, 704)
        return next((m for m in wanted if self.layout.has(m)), None)

    @property
    def has_revert_timer(self) -> bool:
        return self._control_model() is not None

    def blocks(self) -> list[tuple[int, int]]:
        used = {
            self._power_model(),
            *(m for m in (120, 123, 124, 702, 704, 802) if self.layout.has(m)),
        }
        out = []
        for model_id in sorted(used):
            start = self.layout.models[model_id]
            length = 2 + MODELS[model_id].length
            for offset in range(0, length, MAX_READ):
                out.append((start + offset, min(MAX_READ, length - offset)))
        return out

    def reading(self, registers: Registers) -> Reading:
        power_kw = -self._point(registers, self._power_model(), "W") / 1000.0
        soc: float | None = None
        if isinstance(self.resource, Battery):
            if self.layout.has(124):
                soc = self._point(registers, 124, "ChaState") / 100.0
            elif self.layout.has(802):
                soc = self._point(registers, 802, "SoC") / 100.0
        return Reading(power_kw, soc)

    def _encode(self, registers: Registers, model_id: int, point: str, value: float) -> Write:
        """A write of ``value`` (in the point's units) to a point, within its register."""
        spec = MODELS[model_id].points[point]
        raw = to_raw(value, self._sf(registers, model_id, spec.sf))
        low, high = raw_range(spec.type)
        if not low <= raw <= high:
            raise OutOfRangeError(f"{model_id}.{point}: {value:g} does not fit its register")
        return Write(self._address(model_id, point), tuple(encode(spec.type, raw)))

    def _set(self, model_id: int, point: str, raw: int) -> Write:
        spec = MODELS[model_id].points[point]
        return Write(self._address(model_id, point), tuple(encode(spec.type, raw)))

    def command(
        self, registers: Registers, mode: SetpointMode, power_kw: float, revert_s: int
    ) -> list[Write]:
        check_registered(self.resource, mode, power_kw)
        model = self._control_model()
        if model is None:
            raise OutOfRangeError("the map has no control model for this kind")
        if model == 124:
            return self._storage_124(registers, power_kw, revert_s)
        if model == 123:
            return self._limit_123(registers, power_kw, revert_s)
        if isinstance(self.resource, Battery):
            return self._wset_704(registers, power_kw, revert_s)
        return self._limit_704(registers, power_kw, revert_s)

    def _pct(self, part_kw: float, whole_kw: float, what: str) -> float:
        pct = 100.0 * part_kw / whole_kw
        if not 0.0 <= pct <= 100.0 + 1e-9:
            raise OutOfRangeError(f"{what}: {part_kw:g} kW is {pct:.1f}% of {whole_kw:g} kW")
        return min(pct, 100.0)

    def _storage_124(self, registers: Registers, power_kw: float, revert_s: int) -> list[Write]:
        """Charge at ``InWRte`` or discharge at ``OutWRte`` [% WChaMax] under ``StorCtl_Mod``."""
        basis_kw = self._point(registers, 124, "WChaMax") / 1000.0
        if basis_kw <= 0:
            raise OutOfRangeError("124.WChaMax is 0: the device cannot be commanded")
        charging = power_kw >= 0
        pct = self._pct(abs(power_kw), basis_kw, "124 rate")
        return [
            self._set(124, "InOutWRte_RvrtTms", _seconds(revert_s, "uint16")),
            self._encode(registers, 124, "InWRte", pct if charging else 0.0),
            self._encode(registers, 124, "OutWRte", 0.0 if charging else pct),
            self._set(124, "StorCtl_Mod", STORCTL_CHARGE if charging else STORCTL_DISCHARGE),
        ]

    def _generation_basis_kw(self, registers: Registers, model_id: int, point: str) -> float:
        if self.layout.has(model_id):
            try:
                return self._point(registers, model_id, point) / 1000.0
            except NotImplementedPointError:
                pass
        assert isinstance(self.resource, Pv)
        return self.resource.capacity_kw

    def _limit_123(self, registers: Registers, power_kw: float, revert_s: int) -> list[Write]:
        basis_kw = self._generation_basis_kw(registers, 120, "WRtg")
        pct = self._pct(-power_kw, basis_kw, "123.WMaxLimPct")
        return [
            self._set(123, "WMaxLimPct_RvrtTms", _seconds(revert_s, "uint16")),
            self._encode(registers, 123, "WMaxLimPct", pct),
            self._set(123, "WMaxLim_Ena", 1),
        ]

    def _limit_704(self, registers: Registers, power_kw: float, revert_s: int) -> list[Write]:
        basis_kw = self._generation_basis_kw(registers, 702, "WMax")
        pct = self._pct(-power_kw, basis_kw, "704.WMaxLimPct")
        return [
            self._set(704, "WMaxLimPctRvrtTms", _seconds(revert_s, "uint32")),
            self._encode(registers, 704, "WMaxLimPct", pct),
            self._set(704, "WMaxLimPctEna", 1),
        ]

    def _wset_704(self, registers: Registers, power_kw: float, revert_s: int) -> list[Write]:
        return [
            self._set(704, "WSetRvrtTms", _seconds(revert_s, "uint32")),
            self._encode(registers, 704, "WSet", -power_kw * 1000.0),
            self._set(704, "WSetMod", 1),
            self._set(704, "WSetEna", 1),
        ]

    def release(self) -> list[Write]:
        model = self._control_model()
        if model == 124:
            return [self._set(124, "StorCtl_Mod", 0)]
        if model == 123:
            return [self._set(123, "WMaxLim_Ena", 0)]
        if model == 704:
            point = "WSetEna" if isinstance(self.resource, Battery) else "WMaxLimPctEna"
            return [self._set(704, point, 0)]
        return []


def _seconds(revert_s: int, point_type: PointType) -> int:
    """A revert time in a timer register: at least 1 s, at most what the register holds."""
    return max(1, min(revert_s, raw_range(point_type)[1]))


@dataclass(frozen=True)
class CustomRegisterMap:
    """A device described by a YAML map (:mod:`vpp.device_adapters.modbus.maps`)."""

    spec: CustomMap
    resource: Resource

    @property
    def has_revert_timer(self) -> bool:
        return self.spec.revert_timer is not None

    def blocks(self) -> list[tuple[int, int]]:
        regs: list[Register] = [self.spec.power]
        if self.spec.soc is not None:
            regs.append(self.spec.soc)
        return [(r.address, SIZE[r.type]) for r in regs]

    def reading(self, registers: Registers) -> Reading:
        power = self.spec.power
        raw = _value(registers, power.address, power.type, "power")
        sign = 1.0 if power.positive == "consumption" else -1.0
        soc = None
        if self.spec.soc is not None:
            soc = (
                _value(registers, self.spec.soc.address, self.spec.soc.type, "soc")
                * self.spec.soc.scale
            )
        return Reading(sign * raw * power.scale, soc)

    def command(
        self, registers: Registers, mode: SetpointMode, power_kw: float, revert_s: int
    ) -> list[Write]:
        check_registered(self.resource, mode, power_kw)
        setpoint = self.spec.setpoint
        if setpoint is None:
            raise OutOfRangeError(f"map {self.spec.name!r} has no setpoint register")
        sign = 1.0 if setpoint.positive == "consumption" else -1.0
        raw = round(sign * power_kw / setpoint.scale)
        if not setpoint.min <= raw <= setpoint.max:
            raise OutOfRangeError(
                f"{power_kw:g} kW is raw {raw}, outside the register's "
                f"{setpoint.min}..{setpoint.max}"
            )
        writes: list[Write] = []
        timer = self.spec.revert_timer
        if timer is not None:
            writes.append(
                Write(timer.address, tuple(encode(timer.type, _seconds(revert_s, timer.type))))
            )
        writes.append(Write(setpoint.address, tuple(encode(setpoint.type, raw))))
        return writes

    def release(self) -> list[Write]:
        setpoint = self.spec.setpoint
        if setpoint is None:
            return []
        return [Write(setpoint.address, tuple(encode(setpoint.type, setpoint.default)))]


def changed(writes: Sequence[Write], registers: Registers) -> list[Write]:
    """The writes whose registers do not already read as written (a read-back check)."""
    return [
        w
        for w in writes
        if tuple(registers.get(w.address + i) for i in range(len(w.registers))) != w.registers
    ]
