"""EV charger pool: recurring sessions with seeded jitter, a pool limit shared by least laxity.

Sessions recur daily (the pool's ``sessions``); on each day every session's arrival moves by
a seeded whole number of minutes within +/- ``arrival_jitter_min`` and its energy scales by
a factor within ``1 +/- energy_jitter``; the departure stays put. A session that would arrive
before its charger's previous session left waits for it.

Normal operation is uncontrolled charging (the optimiser's baseline,
optimizer/resources/ev_charger.py): every connected vehicle that still needs energy draws
its charger's ``max_kw`` until it has it. Under a pool ``limit`` the gateway allocates the
limit by least laxity,

    laxity = (departure - now) - remaining_energy / max_kw        [h]

lowest first: each session gets up to ``min(max_kw, remaining / dt)``; one that would get
less than its charger's ``min_kw`` gets nothing (unless that finishes it). Each charger's
power approaches its allocation under a rate limit (0 to ``max_kw`` in ``ramp_s``). At
departure the energy still missing is recorded (:class:`EvDeparture`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

import numpy as np

from vpp.domain import EvChargerPool, ResourceRef, SetpointMode
from vpp.hil_sim.physics.base import (
    SALT_EV,
    SECONDS_PER_HOUR,
    Command,
    DayClock,
    DeviceContext,
    DeviceState,
    FloatArray,
    device_rng,
    ramp_array,
    substep_bounds,
)

KIND = "ev_charger_pool"
_EPS_KWH = 1e-6


@dataclass(frozen=True)
class PlannedSession:
    """One plug-in on the simulated timeline (seconds after local midnight of the day)."""

    charger_id: str
    arrival_s: float
    departure_s: float
    energy_kwh: float


@dataclass(frozen=True)
class EvDeparture:
    """What a vehicle got by the time it left."""

    charger_id: str
    arrival: datetime
    departure: datetime
    need_kwh: float
    delivered_kwh: float
    uncontrolled_kwh: float  # what full-power charging from arrival would have given it

    @property
    def unmet_kwh(self) -> float:
        """Energy the vehicle wanted and did not get [kWh]."""
        return max(0.0, self.need_kwh - self.delivered_kwh)

    @property
    def shortfall_kwh(self) -> float:
        """Energy lost to control: uncontrolled charging would have given it [kWh]."""
        return max(0.0, self.uncontrolled_kwh - self.delivered_kwh)


def plan_sessions(
    pool: EvChargerPool,
    day: date,
    tz: tzinfo,
    rng_for_day: dict[date, np.random.Generator],
    *,
    arrival_jitter_min: int = 15,
    energy_jitter: float = 0.10,
) -> list[PlannedSession]:
    """The pool's sessions on the day before, the day and the day after, jittered.

    ``rng_for_day`` gives each of those days its own stream, so a session spanning
    midnight looks the same whichever day is simulated.
    """
    clock = DayClock(day, tz)
    planned: list[PlannedSession] = []
    for offset in (-1, 0, 1):
        on = day + timedelta(days=offset)
        rng = rng_for_day[on]
        for session in pool.sessions:
            shift_min = int(rng.integers(-arrival_jitter_min, arrival_jitter_min + 1))
            factor = float(rng.uniform(1.0 - energy_jitter, 1.0 + energy_jitter))
            nominal = datetime.combine(on, session.arrival, tzinfo=tz).astimezone(UTC)
            departure_s = clock.seconds(nominal + timedelta(minutes=session.connected_min))
            arrival_s = clock.seconds(nominal + timedelta(minutes=shift_min))
            arrival_s = min(arrival_s, departure_s - 60.0)
            planned.append(
                PlannedSession(
                    session.charger_id, arrival_s, departure_s, session.energy_kwh * factor
                )
            )
    planned.sort(key=lambda p: (p.charger_id, p.arrival_s))
    out: list[PlannedSession] = []
    for plug in planned:
        previous = out[-1] if out and out[-1].charger_id == plug.charger_id else None
        if previous is not None and plug.arrival_s < previous.departure_s:
            if previous.departure_s >= plug.departure_s - 60.0:
                continue  # no time left for it once the charger is free
            plug = PlannedSession(
                plug.charger_id, previous.departure_s, plug.departure_s, plug.energy_kwh
            )
        out.append(plug)
    return out


def allocate_least_laxity(
    limit_kw: float, cap_kw: FloatArray, min_kw: FloatArray, laxity_h: FloatArray
) -> FloatArray:
    """Share a pool limit [kW] among sessions, least laxity first.

    Parameters
    ----------
    limit_kw
        The pool's cap [kW].
    cap_kw
        What each session can take now [kW]: ``min(max_kw, remaining / dt)``, 0 if none.
    min_kw
        Lowest power a charger runs at when on [kW].
    laxity_h
        Slack before each session must charge flat out to finish [h].

    Returns
    -------
    FloatArray
        Allocated power per session [kW]; the sum is at most ``limit_kw``.
    """
    out = np.zeros(cap_kw.size)
    left = max(0.0, limit_kw)
    for i in np.argsort(laxity_h, kind="stable"):
        if cap_kw[i] <= 0.0:
            continue
        give = min(float(cap_kw[i]), left)
        if give < min_kw[i] and give < cap_kw[i]:
            continue  # the charger cannot run this low; the limit goes to the next session
        out[i] = give
        left -= give
        if left <= 0.0:
            break
    return out


class EvPoolDevice(DeviceState[EvChargerPool]):
    """A pool of chargers obeying a pool-level ``limit`` (consumption <= power_kw)."""

    kind = KIND

    def __init__(
        self,
        pool: EvChargerPool,
        sessions: list[PlannedSession],
        *,
        day: date,
        tz: tzinfo,
        ramp_s: float = 60.0,
        substep_s: float = 60.0,
    ) -> None:
        self.resource = pool
        self.resource_id = pool.resource_id
        self.clock = DayClock(day, tz)
        self.substep_s = substep_s
        chargers = {c.charger_id: c for c in pool.chargers}
        self.sessions = sessions
        self.charger_ids = [s.charger_id for s in sessions]
        self.arrival_s = np.array([s.arrival_s for s in sessions], dtype=np.float64)
        self.departure_s = np.array([s.departure_s for s in sessions], dtype=np.float64)
        self.need_kwh = np.array([s.energy_kwh for s in sessions], dtype=np.float64)
        self.max_kw = np.array([chargers[s.charger_id].max_kw for s in sessions], dtype=np.float64)
        self.min_kw = np.array([chargers[s.charger_id].min_kw for s in sessions], dtype=np.float64)
        self.rate_kw_per_s = self.max_kw / ramp_s
        self.delivered_kwh = np.zeros(len(sessions))
        self.power_kw = np.zeros(len(sessions))  # instantaneous, per session
        self.left = np.zeros(len(sessions), dtype=bool)  # departed (or before the run)
        self.departures: list[EvDeparture] = []
        events = np.unique(np.concatenate([self.arrival_s, self.departure_s]))
        self._events: list[float] = events.tolist()  # sorted [s]
        self.ramp_s = ramp_s
        # scalar tests that spare an idle pool its array arithmetic: until ``_quiet_until_s``
        # every car plugged in has what it needs and draws nothing (no car at all before the
        # first arrival); before ``_first_departure_s`` no car leaves [s]
        self._quiet_until_s = -math.inf
        self._first_departure_s = math.inf
        # what the cars owe changes only where energy is delivered or a car leaves (counted
        # here), or a car arrives (not before ``_quiet_until_s``): kept between readings
        self._changes = 0
        self._owed: tuple[int, float, float] | None = None  # (changes, quiet until, kWh)
        self._started = False
        self._minute = 0.0
        self._last_s = 0.0

    def _start(self, s0: float) -> None:
        """Sessions already plugged in at the first step charged uncontrolled since arrival."""
        self._started = True
        self._changes += 1
        self.left = self.departure_s <= s0
        plugged = (self.arrival_s < s0) & ~self.left
        elapsed_h = np.maximum(0.0, s0 - self.arrival_s) / SECONDS_PER_HOUR
        self.delivered_kwh = np.where(
            plugged, np.minimum(self.need_kwh, self.max_kw * elapsed_h), 0.0
        )
        charging = plugged & (self.delivered_kwh < self.need_kwh - _EPS_KWH)
        self.power_kw = np.where(charging, self.max_kw, 0.0)
        self._track_departures()
        self._note_quiet(s0)

    def _track_departures(self) -> None:
        staying = ~self.left
        self._first_departure_s = (
            float(self.departure_s[staying].min()) if staying.any() else math.inf
        )

    def _note_quiet(self, s: float) -> None:
        """Until when from ``s`` on the pool draws nothing: every car plugged in by ``s``
        has its energy and no power, so nothing moves before the next car arrives (a
        sub-step would compute zeros throughout)."""
        staying = ~self.left
        waiting = staying & (self.arrival_s > s)
        owed = staying & ~waiting & (self.need_kwh - self.delivered_kwh > _EPS_KWH)
        if owed.any() or self.power_kw.any():
            self._quiet_until_s = -math.inf
        elif waiting.any():
            self._quiet_until_s = float(self.arrival_s[waiting].min())
        else:
            self._quiet_until_s = math.inf

    def step(self, t0: datetime, t1: datetime, command: Command | None) -> float:
        """Advance to ``t1``; mean pool power [kW] over the step."""
        s0, s1 = self.clock.seconds(t0), self.clock.seconds(t1)
        self._minute = self.clock.minute_of_day(s1)
        self._last_s = s1
        if not self._started:
            self._start(s0)
        if s1 <= s0:
            return float(self.power_kw.sum())
        limit = command.power_kw if command and command.mode is SetpointMode.LIMIT else None
        bounds = substep_bounds(s0, s1, self.substep_s, self._events)
        energy_kwh = 0.0
        for a, b in itertools.pairwise(bounds):
            energy_kwh += self._substep(a, b, limit)
            self._record_departures(b)
        return energy_kwh * SECONDS_PER_HOUR / (s1 - s0)

    def _substep(self, a: float, b: float, limit_kw: float | None) -> float:
        """Charge every connected session over [a, b]; energy drawn by the pool [kWh]."""
        dt_s = b - a
        dt_h = dt_s / SECONDS_PER_HOUR
        if a < self._quiet_until_s:  # nothing to charge: what the sums below give, exactly
            self.power_kw = np.zeros(self.power_kw.size)
            return 0.0
        connected = (self.arrival_s <= a) & (self.departure_s >= b) & ~self.left
        if not connected.any():  # an empty car park: what the sums below give, exactly
            self.power_kw = np.zeros(self.power_kw.size)
            self._note_quiet(b)
            return 0.0
        remaining = np.where(connected, self.need_kwh - self.delivered_kwh, 0.0)
        remaining = np.where(remaining > _EPS_KWH, remaining, 0.0)
        cap = np.minimum(self.max_kw, remaining / dt_h)
        if limit_kw is None:
            target = cap
        else:
            laxity = (self.departure_s - a) / SECONDS_PER_HOUR - remaining / self.max_kw
            target = allocate_least_laxity(limit_kw, cap, self.min_kw, laxity)
        start = np.where(connected, self.power_kw, 0.0)
        end, mean = ramp_array(start, target, self.rate_kw_per_s, dt_s)
        mean = np.minimum(np.maximum(mean, 0.0), remaining / dt_h)
        self.delivered_kwh += mean * dt_h
        self._changes += 1
        self.power_kw = np.where(connected & (remaining - mean * dt_h > _EPS_KWH), end, 0.0)
        self._note_quiet(b)
        return float(mean.sum() * dt_h)

    def _record_departures(self, s: float) -> None:
        if s < self._first_departure_s:
            return
        leaving = np.flatnonzero((self.departure_s <= s) & ~self.left)
        if leaving.size:
            self._changes += 1
        for i in leaving:
            self.left[i] = True
            self.power_kw[i] = 0.0
            connected_s = float(self.departure_s[i] - self.arrival_s[i])
            # full power after the first ramp, which gives half of it
            ramped_s = connected_s - min(connected_s, self.ramp_s) / 2.0
            possible_kwh = float(self.max_kw[i]) * ramped_s / SECONDS_PER_HOUR
            self.departures.append(
                EvDeparture(
                    charger_id=self.charger_ids[i],
                    arrival=self._at(float(self.arrival_s[i])),
                    departure=self._at(float(self.departure_s[i])),
                    need_kwh=float(self.need_kwh[i]),
                    delivered_kwh=float(self.delivered_kwh[i]),
                    uncontrolled_kwh=min(float(self.need_kwh[i]), possible_kwh),
                )
            )
        self._track_departures()

    def _at(self, s: float) -> datetime:
        return (self.clock.start.astimezone(UTC) + timedelta(seconds=s)).astimezone(self.clock.tz)

    @property
    def connected_count(self) -> int:
        """Vehicles plugged in at the end of the last step."""
        return int(((self.arrival_s <= self._last_s) & ~self.left).sum())

    @property
    def unmet_energy_kwh(self) -> float | None:
        return float(sum(d.unmet_kwh for d in self.departures))

    @property
    def energy_owed_kwh(self) -> float | None:
        """What the vehicles plugged in at the end of the last step still need [kWh]: the
        pool's gateway reports it, as chargers report each session's energy so far."""
        kept = self._owed
        if (
            kept is not None
            and kept[0] == self._changes
            and kept[1] == self._quiet_until_s
            and self._last_s < self._quiet_until_s
        ):
            return kept[2]  # quiet since: no car came, left or charged
        plugged = (self.arrival_s <= self._last_s) & ~self.left
        owed = np.where(plugged, self.need_kwh - self.delivered_kwh, 0.0)
        owed_kwh = float(np.maximum(owed, 0.0).sum())
        self._owed = (self._changes, self._quiet_until_s, owed_kwh)
        return owed_kwh


def build_ev_pool(ref: ResourceRef, ctx: DeviceContext) -> EvPoolDevice:
    """The pool of ``ref`` on the context's day, its sessions jittered per day."""
    resource = ref.resource
    assert isinstance(resource, EvChargerPool)
    day, settings = ctx.day, ctx.settings
    rngs = {
        day + timedelta(days=k): device_rng(ctx.seed, ref.key, day + timedelta(days=k), SALT_EV)
        for k in (-1, 0, 1)
    }
    sessions = plan_sessions(
        resource,
        day,
        ctx.tz,
        rngs,
        arrival_jitter_min=settings.ev_arrival_jitter_min,
        energy_jitter=settings.ev_energy_jitter,
    )
    return EvPoolDevice(
        resource,
        sessions,
        day=day,
        tz=ctx.tz,
        ramp_s=settings.ev_ramp_s,
        substep_s=settings.substep_s,
    )
