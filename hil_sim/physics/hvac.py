"""Commercial-building cooling: a 1R1C thermal model, a thermostat and comfort protection.

Indoor temperature follows ``C dT/dt = (T_out - T)/R - COP P``, exact for constant power:

    T(t + dt) = a T(t) + (1 - a) (T_out - R COP P),   a = exp(-dt / (R C))

(the optimiser's model, optimizer/resources/hvac.py). The outdoor temperature is the
resource's forecast, interpolated, plus seeded AR(1) noise.

A thermostat aiming at temperature ``x`` draws the power that would bring ``T`` to ``x``
over its horizon ``H``, clipped to ``0..rated``:

    P_x = (T_out - (x - a_H T) / (1 - a_H)) / (R COP),   a_H = exp(-H / (R C))

Normal operation aims at ``setpoint_c``. A ``power`` command is followed, clipped to
``0..rated``, but the gateway protects comfort: it never draws less than ``P_comfort_max``
(so the building does not warm beyond ``comfort_max_c``) nor more than ``P_comfort_min``.
A ``limit`` caps the thermostat's power, with the same protection. The power approaches
its target under a rate limit (0 to rated in ``ramp_s``).
"""

from __future__ import annotations

import itertools
import math
from datetime import date, datetime, tzinfo

import numpy as np

from vpp.domain import HvacLoad, ResourceRef, SetpointMode
from vpp.hil_sim.physics.base import (
    SALT_WEATHER,
    SECONDS_PER_HOUR,
    Command,
    DailySeries,
    DayClock,
    DeviceContext,
    DeviceState,
    FloatArray,
    device_rng,
    ramp,
    substep_bounds,
)

KIND = "hvac_load"

#: Outdoor-noise knots per day (every 15 min) and their lag-one correlation [-].
NOISE_KNOTS = 96
NOISE_PHI = 0.9


def temperature_after(
    temp_c: float, outdoor_c: float, power_kw: float, dt_h: float, hvac: HvacLoad
) -> float:
    """Indoor temperature [°C] after ``dt_h`` [h] at constant electrical power [kW]."""
    a = math.exp(-dt_h / (hvac.thermal_resistance_c_per_kw * hvac.thermal_capacitance_kwh_per_c))
    gain = hvac.thermal_resistance_c_per_kw * hvac.cop
    return a * temp_c + (1.0 - a) * (outdoor_c - gain * power_kw)


def thermostat_power_kw(
    temp_c: float, outdoor_c: float, aim_c: float, horizon_h: float, hvac: HvacLoad
) -> float:
    """Power [kW] that brings ``temp_c`` to ``aim_c`` over ``horizon_h`` [h], in 0..rated."""
    a = math.exp(
        -horizon_h / (hvac.thermal_resistance_c_per_kw * hvac.thermal_capacitance_kwh_per_c)
    )
    gain = hvac.thermal_resistance_c_per_kw * hvac.cop
    wanted = (outdoor_c - (aim_c - a * temp_c) / (1.0 - a)) / gain
    return min(max(wanted, 0.0), hvac.rated_power_kw)


def outdoor_noise_c(rng: np.random.Generator, std_c: float) -> FloatArray:
    """Stationary AR(1) error of the outdoor forecast [°C] at ``NOISE_KNOTS`` per day."""
    innovations = rng.standard_normal(NOISE_KNOTS)
    out = np.empty(NOISE_KNOTS)
    state = std_c * innovations[0]
    scale = std_c * math.sqrt(1.0 - NOISE_PHI**2)
    for i in range(NOISE_KNOTS):
        if i:
            state = NOISE_PHI * state + scale * innovations[i]
        out[i] = state
    return out


class HvacDevice(DeviceState[HvacLoad]):
    """A chiller plant obeying ``power`` (or ``limit``) commands within the comfort band."""

    kind = KIND

    def __init__(
        self,
        resource: HvacLoad,
        *,
        day: date,
        tz: tzinfo,
        outdoor_noise: FloatArray | None = None,
        temperature_initial_c: float | None = None,
        ramp_s: float = 600.0,
        horizon_s: float = 900.0,
        substep_s: float = 60.0,
    ) -> None:
        self.resource = resource
        self.resource_id = resource.resource_id
        self.clock = DayClock(day, tz)
        self.rate_kw_per_s = resource.rated_power_kw / ramp_s
        self.horizon_h = horizon_s / SECONDS_PER_HOUR
        self.substep_s = substep_s
        self.noise_c = np.zeros(NOISE_KNOTS) if outdoor_noise is None else outdoor_noise
        self._outdoor = DailySeries(resource.outdoor_temperature_c)
        self._noise = DailySeries(self.noise_c)
        self._temp_c = (
            resource.setpoint_c if temperature_initial_c is None else temperature_initial_c
        )
        self.power_kw: float | None = None  # instantaneous, None until the first step
        self._minute = 0.0

    def outdoor_c_at(self, s: float) -> float:
        """Outdoor temperature [°C] at ``s`` seconds after local midnight."""
        wall = self.clock.wall_s(s)
        return self._outdoor.at(wall) + self._noise.at(wall)

    def target_kw(self, outdoor_c: float, command: Command | None) -> float:
        """The power the gateway asks the plant for now [kW]."""
        hvac = self.resource
        normal = thermostat_power_kw(self._temp_c, outdoor_c, hvac.setpoint_c, self.horizon_h, hvac)
        if command is None or command.mode is SetpointMode.RELEASE:
            return normal
        if command.mode is SetpointMode.POWER:
            wanted = min(max(command.power_kw, 0.0), hvac.rated_power_kw)
        else:
            wanted = min(normal, max(command.power_kw, 0.0))
        floor = thermostat_power_kw(
            self._temp_c, outdoor_c, hvac.comfort_max_c, self.horizon_h, hvac
        )
        ceiling = thermostat_power_kw(
            self._temp_c, outdoor_c, hvac.comfort_min_c, self.horizon_h, hvac
        )
        return min(max(wanted, floor), ceiling)

    def step(self, t0: datetime, t1: datetime, command: Command | None) -> float:
        """Advance to ``t1``; mean power [kW] over the step."""
        s0, s1 = self.clock.seconds(t0), self.clock.seconds(t1)
        self._minute = self.clock.minute_of_day(s1)
        bounds = substep_bounds(s0, s1, self.substep_s)
        if self.power_kw is None:
            self.power_kw = self.target_kw(self.outdoor_c_at(s0), None)
        if s1 <= s0:
            return self.power_kw
        energy_kwh = 0.0
        for a, b in itertools.pairwise(bounds):
            dt_s = b - a
            dt_h = dt_s / SECONDS_PER_HOUR
            outdoor_c = self.outdoor_c_at(0.5 * (a + b))
            target = self.target_kw(outdoor_c, command)
            self.power_kw, mean = ramp(self.power_kw, target, self.rate_kw_per_s, dt_s)
            self._temp_c = temperature_after(self._temp_c, outdoor_c, mean, dt_h, self.resource)
            energy_kwh += mean * dt_h
        return energy_kwh * SECONDS_PER_HOUR / (s1 - s0)

    @property
    def temperature_c(self) -> float | None:
        return self._temp_c


def build_hvac(ref: ResourceRef, ctx: DeviceContext) -> HvacDevice:
    """The building of ``ref`` on the context's day, its weather off the forecast."""
    resource = ref.resource
    assert isinstance(resource, HvacLoad)
    settings = ctx.settings
    noise = outdoor_noise_c(
        device_rng(ctx.seed, ref.key, ctx.day, SALT_WEATHER), settings.outdoor_noise_c
    )
    return HvacDevice(
        resource,
        day=ctx.day,
        tz=ctx.tz,
        outdoor_noise=noise,
        ramp_s=settings.hvac_ramp_s,
        horizon_s=settings.thermostat_horizon_s,
        substep_s=settings.substep_s,
    )
