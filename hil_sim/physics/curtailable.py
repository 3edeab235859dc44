"""Industrial curtailable load: the metered natural load, a consumption limit and rebound.

The natural load on the simulated day is the synthetic meter series that
:func:`vpp.synthetic.meter_day` makes for that meter and day, so baselines computed from the
previous days' history relate to it as they would in the field. Between interval values it
is interpolated linearly (values at interval midpoints, as the generator's shape is).

    target(t) = min(natural(t), limit)                 while a limit is in force
    target(t) = natural(t) + rebound(t)                otherwise

The power follows the target under a rate limit (a full-scale change takes ``ramp_s``).
Energy curtailed under a limit (and on the ramp back up after it),
``E_c = integral(natural - power) dt``, partly comes back when the limit ends:
``rebound_fraction E_c`` at the even rate ``rebound_fraction E_c / rebound_duration_min``
until paid back (the optimiser's rebound model, optimizer/resources/curtailable.py).
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, tzinfo

import numpy as np

from vpp.baseline.calendar import is_working_day
from vpp.domain import CurtailableLoad, ResourceRef, SetpointMode, SyntheticHistory
from vpp.hil_sim.physics.base import (
    SECONDS_PER_HOUR,
    Command,
    DailySeries,
    DayClock,
    DeviceContext,
    DeviceState,
    FloatArray,
    daily_interp,
    ramp,
    substep_bounds,
)
from vpp.synthetic import NON_WORKING_DAY_FACTOR, meter_day

KIND = "curtailable_load"


def natural_load_kw(
    ref: ResourceRef, day: date, history: SyntheticHistory, interval_min: int = 15
) -> FloatArray:
    """The load's true natural consumption on ``day`` [kW], one value per meter interval.

    Exactly the series :func:`vpp.synthetic.meter_history` gives for this meter and day.
    """
    resource = ref.resource
    if not isinstance(resource, CurtailableLoad):
        raise TypeError(f"{ref.key}: not a curtailable load")
    return meter_day(
        resource,
        ref.key,
        day,
        seed=history.seed,
        noise_pct=history.noise_pct,
        working_day=is_working_day(day),
        non_working_factor=NON_WORKING_DAY_FACTOR[ref.enterprise.sector],
        interval_min=interval_min,
    )


class CurtailableDevice(DeviceState[CurtailableLoad]):
    """A curtailable load obeying ``limit`` commands (consumption <= power_kw)."""

    kind = KIND

    def __init__(
        self,
        resource: CurtailableLoad,
        natural_kw: FloatArray,
        *,
        day: date,
        tz: tzinfo,
        ramp_s: float = 300.0,
        substep_s: float = 60.0,
    ) -> None:
        self.resource = resource
        self.resource_id = resource.resource_id
        self.natural_series_kw = np.asarray(natural_kw, dtype=np.float64)
        self._natural = DailySeries(self.natural_series_kw)
        self.clock = DayClock(day, tz)
        self.rate_kw_per_s = max(resource.typical_load_kw) / ramp_s
        self.substep_s = substep_s
        self.power_kw: float | None = None  # instantaneous, None until the first step
        self.curtailed_kwh = 0.0  # under the limit in force, not yet turned into rebound
        self.rebound_left_kwh = 0.0
        self._rebound_kw = 0.0
        self._recovering = False  # back from a limit, not yet up to the natural load
        self._minute = 0.0

    def natural_kw_at(self, s: FloatArray | float) -> FloatArray:
        """Natural load [kW] at ``s`` seconds after local midnight."""
        return daily_interp(self.natural_series_kw, self.clock.wall_s_many(s))

    def step(self, t0: datetime, t1: datetime, command: Command | None) -> float:
        """Advance to ``t1``; mean power [kW] over the step."""
        s0, s1 = self.clock.seconds(t0), self.clock.seconds(t1)
        self._minute = self.clock.minute_of_day(s1)
        if s1 <= s0:
            return self.power_kw or 0.0
        bounds = substep_bounds(s0, s1, self.substep_s)
        if self.power_kw is None:
            self.power_kw = self._natural.at(self.clock.wall_s(s0))
        limit = command.power_kw if command and command.mode is SetpointMode.LIMIT else None
        energy_kwh = 0.0
        for a, b in itertools.pairwise(bounds):
            dt_s = b - a
            dt_h = dt_s / SECONDS_PER_HOUR
            base = self._natural.at(self.clock.wall_s(0.5 * (a + b)))
            if limit is not None:
                target = min(base, max(limit, 0.0))
                self.power_kw, mean = ramp(self.power_kw, target, self.rate_kw_per_s, dt_s)
                self.curtailed_kwh += max(0.0, base - mean) * dt_h
                self._recovering = True
            else:
                self._start_rebound()
                extra_kw = min(self._rebound_kw, self.rebound_left_kwh / dt_h)
                self.power_kw, mean = ramp(self.power_kw, base + extra_kw, self.rate_kw_per_s, dt_s)
                self._settle((mean - base) * dt_h)
            energy_kwh += mean * dt_h
        return energy_kwh * SECONDS_PER_HOUR / (s1 - s0)

    def _start_rebound(self) -> None:
        """Turn energy curtailed so far into rebound owed, spread over the rebound duration."""
        if self.curtailed_kwh <= 0.0:
            return
        self.rebound_left_kwh += self.resource.rebound_fraction * self.curtailed_kwh
        self.curtailed_kwh = 0.0
        self._rebound_kw = self.rebound_left_kwh / (self.resource.rebound_duration_min / 60.0)

    def _settle(self, above_natural_kwh: float) -> None:
        """Book a sub-step without a limit: still short of natural after one is curtailment
        too (the ramp back up); above natural pays rebound off."""
        if above_natural_kwh < 0.0 and self._recovering:
            self.curtailed_kwh -= above_natural_kwh
            return
        self._recovering = False
        if above_natural_kwh > 0.0:
            self.rebound_left_kwh = max(0.0, self.rebound_left_kwh - above_natural_kwh)


def build_curtailable(ref: ResourceRef, ctx: DeviceContext) -> CurtailableDevice:
    """The load of ``ref`` on the context's day, its natural load continuing its history."""
    resource = ref.resource
    assert isinstance(resource, CurtailableLoad)
    natural = natural_load_kw(ref, ctx.day, ctx.history, ctx.settings.meter_interval_min)
    return CurtailableDevice(
        resource,
        natural,
        day=ctx.day,
        tz=ctx.tz,
        ramp_s=ctx.settings.curtailable_ramp_s,
        substep_s=ctx.settings.substep_s,
    )
