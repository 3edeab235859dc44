"""What every simulated device shares: commands, settings, ramps, time of day and randomness.

Devices keep their own state and advance it with ``step(t0, t1, command)``, which returns
the mean power over ``(t0, t1]`` [kW] (consumption positive, ARCHITECTURE.md). Inside a
step they sub-step at most every ``substep_s`` seconds; within a sub-step the natural
target is taken at its midpoint and the power approaches it under a rate limit, which
:func:`ramp` integrates exactly.

Times inside the physics are seconds after local midnight of the simulated day (``s``);
:class:`DayClock` converts aware datetimes to them in UTC, so they stay exact on days with a
clock change.
"""

from __future__ import annotations

import bisect
import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Generic, NamedTuple, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray
from pydantic import Field

from vpp.domain import (
    DailyWindow,
    FrozenModel,
    Resource,
    ResourceRef,
    SetpointMode,
    SyntheticHistory,
    TimeGrid,
)
from vpp.synthetic import meter_hash

FloatArray = NDArray[np.float64]

SECONDS_PER_DAY = 86_400.0
SECONDS_PER_HOUR = 3600.0


class Command(NamedTuple):
    """The setpoint in force on a device: its mode and value [kW].

    ``None`` in its place means normal operation (no command, or a release).
    """

    mode: SetpointMode
    power_kw: float


class PhysicsSettings(FrozenModel):
    """Tunable physics of the simulated devices (defaults: realistic field behaviour).

    Ramp times are the time a full-scale change takes [s]; smaller changes take
    proportionally less (a rate limit of ``scale_kw / ramp_s``).
    """

    curtailable_ramp_s: float = Field(default=300.0, gt=0, description="full-scale change [s]")
    hvac_ramp_s: float = Field(default=600.0, gt=0, description="rated power 0 to full [s]")
    ev_ramp_s: float = Field(default=60.0, gt=0, description="charger 0 to max [s]")
    battery_ramp_s: float = Field(default=10.0, gt=0, description="0 to max power [s]")
    substep_s: float = Field(default=60.0, gt=0, le=900, description="longest sub-step [s]")
    meter_interval_min: int = Field(
        default=15, gt=0, le=60, description="interval of the synthetic meter series [min]"
    )
    ev_arrival_jitter_min: int = Field(
        default=15, ge=0, le=120, description="arrivals move uniformly by up to +/- this [min]"
    )
    ev_energy_jitter: float = Field(
        default=0.10, ge=0, lt=1, description="energy scales uniformly by 1 +/- this [-]"
    )
    pv_cloudy_share: float = Field(
        default=0.1, ge=0, lt=1, description="share of the time under a cloud [-]"
    )
    pv_cloud_mean_min: float = Field(default=20.0, gt=0, description="mean cloud length [min]")
    pv_cloud_depth: tuple[float, float] = Field(
        default=(0.3, 0.8), description="range of the output lost under a cloud [-]"
    )
    outdoor_noise_c: float = Field(
        default=0.5, ge=0, description="std of the outdoor temperature error [°C]"
    )
    thermostat_horizon_s: float = Field(
        default=900.0, gt=0, description="time a thermostat aims to reach its setpoint in [s]"
    )
    meter_noise_pct: float = Field(
        default=0.2, ge=0, le=10, description="std of a meter's relative reading error [%]"
    )


DEFAULT_SETTINGS = PhysicsSettings()


class Device(Protocol):
    """One simulated resource: state, and the physics that advances it."""

    resource_id: str
    kind: str

    def step(self, t0: datetime, t1: datetime, command: Command | None) -> float:
        """Advance from ``t0`` to ``t1`` under ``command``; mean power over the step [kW]."""
        ...

    @property
    def available(self) -> bool:
        """Whether the owner allows dispatch now (inside an availability window)."""
        ...

    @property
    def soc(self) -> float | None:
        """State of charge [0..1], for storage."""
        ...

    @property
    def temperature_c(self) -> float | None:
        """Indoor temperature [°C], for buildings."""
        ...

    @property
    def unmet_energy_kwh(self) -> float | None:
        """Energy vehicles needed but did not get by departure [kWh], for EV pools."""
        ...

    @property
    def energy_owed_kwh(self) -> float | None:
        """Energy the vehicles plugged in still need [kWh], for EV pools."""
        ...


ResourceT = TypeVar("ResourceT", bound=Resource)


class DeviceState(Generic[ResourceT]):
    """What most devices report the same way; a kind overrides what it tracks.

    Subclasses set ``resource`` and ``_minute`` (local minute of day at the end of the
    last step).
    """

    resource: ResourceT
    _minute: float

    @property
    def available(self) -> bool:
        return in_windows(self.resource.availability, self._minute)

    @property
    def soc(self) -> float | None:
        return None

    @property
    def temperature_c(self) -> float | None:
        return None

    @property
    def unmet_energy_kwh(self) -> float | None:
        return None

    @property
    def energy_owed_kwh(self) -> float | None:
        return None


_utc_of: dict[int, tuple[datetime, datetime]] = {}


def as_utc(t: datetime) -> datetime:
    """``t`` in UTC. The last few are kept: every device of a city steps from and to the
    same two times each tick, and the conversion was a few per cent of the tick."""
    kept = _utc_of.get(id(t))
    if kept is not None and kept[0] is t:
        return kept[1]
    if len(_utc_of) >= 8:
        _utc_of.clear()
    utc = t.astimezone(UTC)
    _utc_of[id(t)] = (t, utc)  # holding ``t`` keeps its id from being reused
    return utc


class DayClock:
    """Seconds after local midnight of the simulated day, for aware datetimes."""

    def __init__(self, day: date, tz: tzinfo) -> None:
        self.day = day
        self.tz = tz
        grid = TimeGrid.for_day(day, tz)
        self.start = grid.start
        self._start_utc = self.start.astimezone(UTC)
        self._change_s, self._shift_s = _clock_change(self.start, grid.end)
        self._last: tuple[datetime, float] | None = None

    def seconds(self, t: datetime) -> float:
        """``t`` as seconds after the day's local midnight [s] (negative before it).

        The last answer is kept: a device's step starts where its last one ended.
        """
        last = self._last
        if last is not None and last[0] is t:
            return last[1]
        s = (as_utc(t) - self._start_utc).total_seconds()
        self._last = (t, s)
        return s

    def wall_s(self, s: float) -> float:
        """The wall clock [s after midnight] at ``s`` elapsed seconds: they differ by the
        clock change after it on a DST day (profiles and windows are read on the wall)."""
        return s + self._shift_s if s >= self._change_s else s

    def wall_s_many(self, s: FloatArray | float) -> FloatArray:
        """:meth:`wall_s` for an array of elapsed seconds."""
        elapsed = np.asarray(s, dtype=np.float64)
        return elapsed + self._shift_s * (elapsed >= self._change_s)

    def minute_of_day(self, s: float) -> float:
        """Local minute of the day [min, 0..1440) at ``s`` seconds after midnight."""
        return (self.wall_s(s) / 60.0) % 1440.0


def _clock_change(start: datetime, end: datetime) -> tuple[float, float]:
    """When the clocks change on the day [s after midnight] and by how much [s].

    ``(inf, 0)`` on the days they do not, which is every day in most zones.
    """
    before, after = start.utcoffset(), end.utcoffset()
    if before == after or before is None or after is None:
        return math.inf, 0.0
    low, high = 0.0, (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds()
    start_utc = start.astimezone(UTC)
    tz = start.tzinfo
    while high - low > 1.0:  # the first second with the new offset, by bisection
        mid = (low + high) / 2.0
        if (start_utc + timedelta(seconds=mid)).astimezone(tz).utcoffset() == before:
            low = mid
        else:
            high = mid
    return math.ceil(low), (after - before).total_seconds()


def ramp(p0_kw: float, target_kw: float, rate_kw_per_s: float, dt_s: float) -> tuple[float, float]:
    """Power at the end [kW] and mean power [kW] of a rate-limited approach to a target.

    ``p(t) = p0 + sign(g) min(r t, |g|)`` with ``g = target - p0``; once reached, the target
    holds. Mean: ``p0 + r dt sign(g) / 2`` while still ramping, else
    ``target - g t_r / (2 dt)`` with ``t_r = |g| / r``.
    """
    if dt_s <= 0.0:
        return p0_kw, p0_kw
    gap = target_kw - p0_kw
    if rate_kw_per_s * dt_s <= abs(gap):
        moved = math.copysign(rate_kw_per_s * dt_s, gap)
        return p0_kw + moved, p0_kw + moved / 2.0
    reach_s = abs(gap) / rate_kw_per_s
    return target_kw, target_kw - gap * reach_s / (2.0 * dt_s)


def ramp_array(
    p0_kw: FloatArray, target_kw: FloatArray, rate_kw_per_s: FloatArray, dt_s: float
) -> tuple[FloatArray, FloatArray]:
    """:func:`ramp` for arrays of devices (element-wise, same equations)."""
    gap = target_kw - p0_kw
    reach_s = np.abs(gap) / rate_kw_per_s
    moved = np.sign(gap) * rate_kw_per_s * dt_s
    still = reach_s >= dt_s
    end = np.where(still, p0_kw + moved, target_kw)
    mean = np.where(still, p0_kw + moved / 2.0, target_kw - gap * reach_s / (2.0 * dt_s))
    return end, mean


def daily_interp(values: Sequence[float] | FloatArray, s: FloatArray | float) -> FloatArray:
    """A daily profile read at ``s`` seconds after midnight, linear between step midpoints.

    Each value is the mean of its step (24, 48, 96 or any count per day), so it is placed
    at the step's midpoint; the profile wraps around midnight.
    """
    profile = np.asarray(values, dtype=np.float64)
    step_s = SECONDS_PER_DAY / profile.size
    knots = (np.arange(profile.size) + 0.5) * step_s
    at = np.asarray(s, dtype=np.float64) % SECONDS_PER_DAY
    return np.asarray(np.interp(at, knots, profile, period=SECONDS_PER_DAY), dtype=np.float64)


def substep_bounds(s0: float, s1: float, max_s: float, events: Sequence[float] = ()) -> list[float]:
    """Sub-step boundaries from ``s0`` to ``s1``: every ``max_s`` plus ``events`` inside
    (sorted ascending; a list, searched by bisection: numpy's search costs more per call
    than a device's whole step)."""
    # a tick no longer than a sub-step (most steps of most devices) needs no division
    count = 1 if s1 - s0 <= max_s else max(1, math.ceil((s1 - s0) / max_s - 1e-9))
    if count == 1:
        bounds = [s0, s1]
    else:
        width = (s1 - s0) / count
        bounds = [s0 + k * width for k in range(count)] + [s1]
    if events:
        lo, hi = bisect.bisect_right(events, s0), bisect.bisect_right(events, s1)
        inside = [float(e) for e in events[lo:hi] if s0 < e < s1]
        if inside:
            bounds = sorted(set(bounds).union(inside))
    return bounds


class DailySeries:
    """A daily profile read at any second of the day, linear between step midpoints.

    The same reading as :func:`daily_interp`, for one time at a time without numpy's
    per-call overhead (devices read it once per sub-step).
    """

    def __init__(self, values: Sequence[float] | FloatArray) -> None:
        self.values = [float(v) for v in values]
        self.step_s = SECONDS_PER_DAY / len(self.values)

    def at(self, s: float) -> float:
        """The value at ``s`` seconds after local midnight (wrapping around the day)."""
        n = len(self.values)
        x = (s % SECONDS_PER_DAY) / self.step_s - 0.5
        i = math.floor(x)
        frac = x - i
        return self.values[i % n] * (1.0 - frac) + self.values[(i + 1) % n] * frac


def in_windows(windows: Sequence[DailyWindow], minute_of_day: float) -> bool:
    """Whether a local minute of the day lies in one of the daily windows."""
    # a loop, not any(): no generator on every reading of every device
    for window in windows:  # noqa: SIM110
        if window.start_min <= minute_of_day < window.end_min:
            return True
    return False


def device_rng(seed: int, key: str, day: date, salt: int) -> np.random.Generator:
    """A random stream per (seed, resource, day, purpose), independent of everything else.

    ``salt`` separates purposes (EV jitter, clouds, weather) of one resource; the hash of
    the key is stable across processes (:func:`vpp.synthetic.meter_hash`).
    """
    return np.random.default_rng([seed % 2**64, meter_hash(key), day.toordinal(), salt])


#: Purposes of a device's random streams (part of their key).
SALT_EV, SALT_CLOUDS, SALT_WEATHER = 1, 2, 3


@dataclass(frozen=True)
class DeviceContext:
    """What building a simulated device needs besides its resource.

    ``day`` is the simulated local day in the district's time zone ``tz`` (daily profiles
    are local); ``seed`` seeds the device's randomness; ``history`` is the synthetic meter
    history the curtailable loads' natural load continues.
    """

    day: date
    tz: tzinfo
    seed: int
    history: SyntheticHistory
    settings: PhysicsSettings


BuildDevice = Callable[[ResourceRef, DeviceContext], Device]
"""Builds the simulated device of one resource of a kind."""

DEVICE_BUILDERS: dict[str, BuildDevice] = {}
"""The physics model of each resource kind, by kind name (:func:`register_physics`)."""


def register_physics(kind: str, build: BuildDevice) -> None:
    """Make ``kind``'s resources simulable: one line per kind."""
    DEVICE_BUILDERS[kind] = build


def shadow_of(device: Device) -> Device:
    """A copy of a device that runs on its own (the gateway's counterfactual twin).

    What a device never changes is shared, not copied: its registered resource and every
    other frozen model, its clock and daily profiles, and frozen records in its lists
    (an EV pool's planned sessions). A deep copy of all of it was most of a city's set-up.
    """
    memo: dict[int, object] = {}
    for value in getattr(device, "__dict__", {}).values():
        if isinstance(value, FrozenModel | DayClock | DailySeries):
            memo[id(value)] = value
        elif isinstance(value, list) and value and _frozen_record(value[0]):
            for item in value:
                if _frozen_record(item):
                    memo[id(item)] = item
    return copy.deepcopy(device, memo)


def _frozen_record(value: object) -> bool:
    """Whether ``value`` is an instance of a frozen dataclass."""
    params = getattr(type(value), "__dataclass_params__", None)
    return params is not None and bool(params.frozen)
