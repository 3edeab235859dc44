"""Stationary battery: follows a ``power`` command within its SoC window, idle otherwise.

    E[t + dt] = E[t] + eta_c P dt          (P >= 0, charging)
    E[t + dt] = E[t] + P dt / eta_d        (P < 0, discharging)

with ``E = soc capacity`` kept within ``soc_min .. soc_max``: the battery management system
cuts the power when a limit is reached (a battery told to discharge at empty stops). Normal
operation is idle, 0 kW (the optimiser's baseline, optimizer/resources/battery.py). The
power approaches the command under a rate limit (0 to full power in ``ramp_s``).
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, tzinfo

from vpp.domain import Battery, ResourceRef, SetpointMode
from vpp.hil_sim.physics.base import (
    SECONDS_PER_HOUR,
    Command,
    DayClock,
    DeviceContext,
    DeviceState,
    ramp,
    substep_bounds,
)

KIND = "battery"


def soc_limited_power_kw(
    power_kw: float,
    soc: float,
    dt_h: float,
    *,
    capacity_kwh: float,
    charge_efficiency: float,
    discharge_efficiency: float,
    soc_min: float,
    soc_max: float,
) -> tuple[float, float]:
    """Mean power [kW] the SoC window allows over ``dt_h`` [h], and the SoC after it [0..1].

    Charging stores ``eta_c P dt``; discharging draws ``-P dt / eta_d``; either is cut so
    the SoC ends no further than its limit.
    """
    if power_kw > 0.0:
        room_kwh = max(0.0, (soc_max - soc) * capacity_kwh)
        stored_kwh = charge_efficiency * power_kw * dt_h
        if stored_kwh > room_kwh:
            return room_kwh / (charge_efficiency * dt_h), max(soc, soc_max)
        return power_kw, soc + stored_kwh / capacity_kwh
    if power_kw < 0.0:
        left_kwh = max(0.0, (soc - soc_min) * capacity_kwh)
        drawn_kwh = -power_kw * dt_h / discharge_efficiency
        if drawn_kwh > left_kwh:
            return -left_kwh * discharge_efficiency / dt_h, min(soc, soc_min)
        return power_kw, soc - drawn_kwh / capacity_kwh
    return 0.0, soc


class BatteryDevice(DeviceState[Battery]):
    """A battery obeying ``power`` commands (negative = discharge)."""

    kind = KIND

    def __init__(
        self,
        resource: Battery,
        *,
        day: date,
        tz: tzinfo,
        soc_initial: float | None = None,
        ramp_s: float = 10.0,
        substep_s: float = 60.0,
    ) -> None:
        self.resource = resource
        self.resource_id = resource.resource_id
        self.clock = DayClock(day, tz)
        self.rate_kw_per_s = max(resource.max_charge_kw, resource.max_discharge_kw) / ramp_s
        self.substep_s = substep_s
        self.power_kw = 0.0  # instantaneous
        self._soc = resource.soc_initial if soc_initial is None else soc_initial
        self._minute = 0.0

    def step(self, t0: datetime, t1: datetime, command: Command | None) -> float:
        """Advance to ``t1``; mean power [kW] over the step."""
        s0, s1 = self.clock.seconds(t0), self.clock.seconds(t1)
        self._minute = self.clock.minute_of_day(s1)
        if s1 <= s0:
            return self.power_kw
        bat = self.resource
        target = 0.0
        if command is not None and command.mode is SetpointMode.POWER:
            target = min(max(command.power_kw, -bat.max_discharge_kw), bat.max_charge_kw)
        bounds = substep_bounds(s0, s1, self.substep_s)
        energy_kwh = 0.0
        for a, b in itertools.pairwise(bounds):
            dt_s = b - a
            dt_h = dt_s / SECONDS_PER_HOUR
            end, mean = ramp(self.power_kw, target, self.rate_kw_per_s, dt_s)
            allowed, self._soc = soc_limited_power_kw(
                mean,
                self._soc,
                dt_h,
                capacity_kwh=bat.capacity_kwh,
                charge_efficiency=bat.charge_efficiency,
                discharge_efficiency=bat.discharge_efficiency,
                soc_min=bat.soc_min,
                soc_max=bat.soc_max,
            )
            # The BMS cut the power at a limit: it stays off until the command turns around.
            self.power_kw = end if allowed == mean else 0.0
            energy_kwh += allowed * dt_h
        return energy_kwh * SECONDS_PER_HOUR / (s1 - s0)

    @property
    def soc(self) -> float | None:
        return self._soc


def build_battery(ref: ResourceRef, ctx: DeviceContext) -> BatteryDevice:
    """The battery of ``ref`` on the context's day."""
    resource = ref.resource
    assert isinstance(resource, Battery)
    return BatteryDevice(
        resource,
        day=ctx.day,
        tz=ctx.tz,
        ramp_s=ctx.settings.battery_ramp_s,
        substep_s=ctx.settings.substep_s,
    )
