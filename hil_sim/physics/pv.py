"""Rooftop PV: the generation profile times a seeded cloud factor; takes no commands.

    power(t) = -generation(t) c(t)

``generation`` is the resource's daily profile interpolated between step midpoints (the
optimiser uses the profile as its forecast, optimizer/resources/pv.py). ``c`` is 1 in clear
sky and ``1 - depth`` under a cloud: a two-state Markov chain on 5-min slots that spends
``cloudy_share`` of the time cloudy with clouds of mean length ``cloud_mean_min``, each
cloud drawing its depth uniformly from ``depth``. So the expected output is a little below
the forecast, by about ``cloudy_share`` times the mean depth.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, tzinfo

import numpy as np

from vpp.domain import Pv, ResourceRef
from vpp.hil_sim.physics.base import (
    SALT_CLOUDS,
    SECONDS_PER_DAY,
    Command,
    DailySeries,
    DayClock,
    DeviceContext,
    DeviceState,
    FloatArray,
    device_rng,
    substep_bounds,
)

KIND = "pv"

#: Length of a cloud-factor slot [min].
CLOUD_SLOT_MIN = 5


def cloud_factor(
    rng: np.random.Generator,
    *,
    cloudy_share: float = 0.1,
    cloud_mean_min: float = 20.0,
    depth: tuple[float, float] = (0.3, 0.8),
) -> FloatArray:
    """Share of clear-sky output reaching the panels [0..1], per 5-min slot of a day."""
    n = 1440 // CLOUD_SLOT_MIN
    p_clear = min(1.0, CLOUD_SLOT_MIN / cloud_mean_min)  # cloudy -> clear per slot
    p_cloud = min(1.0, p_clear * cloudy_share / (1.0 - cloudy_share))  # clear -> cloudy
    draws = rng.random(n)
    depths = rng.uniform(depth[0], depth[1], n)
    cloudy = bool(rng.random() < cloudy_share)
    current = float(depths[0])
    out = np.ones(n)
    for i in range(n):
        if cloudy:
            out[i] = 1.0 - current
            cloudy = bool(draws[i] >= p_clear)
        elif draws[i] < p_cloud:
            cloudy = True
            current = float(depths[i])
    return out


class PvDevice(DeviceState[Pv]):
    """Rooftop PV: generation is negative power; commands change nothing."""

    kind = KIND

    def __init__(
        self,
        resource: Pv,
        *,
        day: date,
        tz: tzinfo,
        clouds: FloatArray | None = None,
        substep_s: float = 60.0,
    ) -> None:
        self.resource = resource
        self.resource_id = resource.resource_id
        self.clock = DayClock(day, tz)
        self.clouds = np.ones(1440 // CLOUD_SLOT_MIN) if clouds is None else clouds
        self._clouds = [float(c) for c in self.clouds]
        self._generation = DailySeries(resource.generation_kw)
        self.substep_s = substep_s
        self._minute = 0.0

    def power_kw_at(self, s: float) -> float:
        """Power [kW, <= 0] at ``s`` seconds after local midnight."""
        wall = self.clock.wall_s(s)
        slot = int((wall % SECONDS_PER_DAY) // (CLOUD_SLOT_MIN * 60))
        return -self._generation.at(wall) * self._clouds[slot]

    def step(self, t0: datetime, t1: datetime, command: Command | None) -> float:
        """Advance to ``t1``; mean power [kW] over the step (``command`` is ignored)."""
        s0, s1 = self.clock.seconds(t0), self.clock.seconds(t1)
        self._minute = self.clock.minute_of_day(s1)
        if s1 <= s0:
            return self.power_kw_at(s1)
        bounds = substep_bounds(s0, s1, self.substep_s)
        energy: float = sum(
            self.power_kw_at(0.5 * (a + b)) * (b - a) for a, b in itertools.pairwise(bounds)
        )
        return energy / (s1 - s0)


def build_pv(ref: ResourceRef, ctx: DeviceContext) -> PvDevice:
    """The array of ``ref`` on the context's day under its own clouds."""
    resource = ref.resource
    assert isinstance(resource, Pv)
    settings = ctx.settings
    clouds = cloud_factor(
        device_rng(ctx.seed, ref.key, ctx.day, SALT_CLOUDS),
        cloudy_share=settings.pv_cloudy_share,
        cloud_mean_min=settings.pv_cloud_mean_min,
        depth=settings.pv_cloud_depth,
    )
    return PvDevice(resource, day=ctx.day, tz=ctx.tz, clouds=clouds, substep_s=settings.substep_s)
