"""Seeded synthetic meter history for the curtailable loads of a district.

Baselines need weeks of interval meter data before an event; a demo district has none, so
this module makes a plausible, reproducible history from what the district file already
says about each load. Every ``curtailable_load`` resource gets one meter, named
``"{site_id}/{resource_id}"`` (the same key the controller uses).

Assumptions (also in docs/demo-district.md)
-------------------------------------------
Shape
    The resource's ``typical_load_kw`` (24, 48 or 96 values, local time) is the load of a
    normal working day. Interval values are interpolated linearly between the midpoints of
    the profile's steps (wrapping around midnight), so a 15-min series ramps smoothly instead
    of following a staircase.
Calendar
    Working days come from :func:`vpp.baseline.calendar.is_working_day` (Chinese statutory
    holidays and make-up working days). A non-working day scales the whole day by a
    sector-dependent factor, :data:`NON_WORKING_DAY_FACTOR` (industrial 0.75, commercial
    0.6, public charging 0.9, residential charging 1.05, storage operators 1.0).
Drift
    A slow multiplicative drift of a few percent that depends on the date alone: a seasonal
    sinusoid (amplitude :data:`SEASONAL_AMPLITUDE`, peaking in mid-July) plus a slow wander
    with a period of several weeks (amplitude :data:`WANDER_AMPLITUDE`, per-meter period and
    phase).
Noise
    Multiplicative AR(1) noise per interval with stationary standard deviation
    ``noise_pct`` [%] and lag-one correlation :data:`AR1_PHI_15MIN` per 15 min (scaled to
    other interval lengths), started from its stationary distribution each day.
Abnormal days
    With probability :data:`ABNORMAL_DAY_PROBABILITY` (about one day in 30) a day carries a
    partial outage: the load drops to 30-60 % for 2-8 consecutive hours. Baseline methods
    are expected to exclude such days.
Floor
    Loads are never negative.

Determinism: each (seed, meter, day) draws its own random numbers from
``numpy.random.default_rng([seed, meter hash, date ordinal])``, with a stable hash of the
meter id (BLAKE2b, not Python's salted ``hash()``), so a day's values do not depend on the
range asked for: a window ending on any day gives the same numbers for the days it shares
with any other window.
"""

from __future__ import annotations

import hashlib
import warnings
from datetime import date, timedelta
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from vpp.baseline.calendar import CalendarFallbackWarning, is_working_day
from vpp.baseline.meter import MINUTES_PER_DAY, DailyLoad
from vpp.domain import CurtailableLoad, District, Sector, SyntheticHistory

NON_WORKING_DAY_FACTOR: dict[Sector, float] = {
    Sector.INDUSTRIAL: 0.75,  # one shift less, maintenance; continuous processes keep running
    Sector.COMMERCIAL: 0.6,  # offices mostly empty; malls would be the exception
    Sector.PUBLIC_CHARGING: 0.9,  # fewer commuters, same taxis and ride-hailing
    Sector.RESIDENTIAL_CHARGING: 1.05,  # cars at home during the day
    Sector.STORAGE_OPERATOR: 1.0,  # auxiliary load only
}
"""Whole-day load on a non-working day as a fraction of the working-day shape [-]."""

SEASONAL_AMPLITUDE = 0.03
"""Amplitude of the yearly sinusoid [fraction of load]; its maximum falls on mid-July."""

SEASONAL_PEAK_DAY_OF_YEAR = 196
"""Day of the year (15 July) on which the seasonal factor peaks [day]."""

WANDER_AMPLITUDE = 0.02
"""Amplitude of the slow, per-meter wander [fraction of load]."""

WANDER_PERIOD_DAYS = (21.0, 45.0)
"""Range from which each meter draws the wander's period [day]."""

AR1_PHI_15MIN = 0.8
"""Lag-one autocorrelation of the noise between consecutive 15-min intervals [-]."""

ABNORMAL_DAY_PROBABILITY = 1.0 / 30.0
"""Chance that a day carries a partial outage [-]."""

ABNORMAL_LEVEL = (0.3, 0.6)
"""Range of the load during an outage, as a fraction of the normal load [-]."""

ABNORMAL_HOURS = (2, 8)
"""Range (inclusive) of an outage's length [h]."""


def meter_history(
    district: District,
    end_day: date,
    source: SyntheticHistory,
    interval_min: int = 15,
) -> dict[str, DailyLoad]:
    """Synthetic history of every curtailable load in a district.

    Parameters
    ----------
    district
        The district; each ``curtailable_load`` resource becomes one meter.
    end_day
        The last local day of the history (usually the event day, whose morning feeds
        day-of adjustments and real-time baselines).
    source
        The generator's settings: ``seed``, ``days`` of history before ``end_day`` and the
        noise level ``noise_pct`` [%].
    interval_min
        Length of a meter interval [min]; must divide a day evenly.

    Returns
    -------
    dict[str, DailyLoad]
        Meter id ``"{site_id}/{resource_id}"`` to its loads [kW] on the local days
        ``end_day - source.days`` .. ``end_day`` inclusive (``source.days + 1`` days).
    """
    if interval_min <= 0 or MINUTES_PER_DAY % interval_min:
        raise ValueError(f"interval_min must divide a day (1440 min) evenly, got {interval_min}")
    days = tuple(end_day - timedelta(days=n) for n in range(source.days, -1, -1))
    working = _working_days(days)
    loads: dict[str, DailyLoad] = {}
    for ref in district.resources():
        resource = ref.resource
        if not isinstance(resource, CurtailableLoad):
            continue
        meter_id = ref.key
        factor = NON_WORKING_DAY_FACTOR[ref.enterprise.sector]
        values = np.stack(
            [
                meter_day(
                    resource,
                    meter_id,
                    day,
                    seed=source.seed,
                    noise_pct=source.noise_pct,
                    working_day=working[day],
                    non_working_factor=factor,
                    interval_min=interval_min,
                )
                for day in days
            ]
        )
        loads[meter_id] = DailyLoad(
            meter_id=meter_id, interval_min=interval_min, days=days, values_kw=values
        )
    return loads


def _working_days(days: tuple[date, ...]) -> dict[date, bool]:
    """Working-day flags, with one calendar-fallback warning for the range, not one per day."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CalendarFallbackWarning)
        working = {day: is_working_day(day) for day in days}
    outside = [w for w in caught if issubclass(w.category, CalendarFallbackWarning)]
    for other in caught:
        if other not in outside:
            warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
    if outside:
        message = (
            f"synthetic history: {len(outside)} of {len(days)} days lie outside the published "
            "Chinese holiday calendar; Monday-Friday were treated as working days there"
        )
        warnings.warn(message, CalendarFallbackWarning, stacklevel=3)
    return working


def meter_day(
    resource: CurtailableLoad,
    meter_id: str,
    day: date,
    *,
    seed: int,
    noise_pct: float,
    working_day: bool,
    non_working_factor: float,
    interval_min: int = 15,
) -> NDArray[np.float64]:
    """One meter's load on one local day [kW], one value per interval.

    Parameters
    ----------
    resource
        The load whose ``typical_load_kw`` [kW] gives the working-day shape.
    meter_id
        The meter's id; part of the random stream's key.
    day
        The local calendar day.
    seed
        The district's history seed.
    noise_pct
        Standard deviation of the multiplicative noise [%].
    working_day
        Whether ``day`` is a working day.
    non_working_factor
        Scale of a non-working day [-].
    interval_min
        Interval length [min].

    Returns
    -------
    NDArray[np.float64]
        ``1440 // interval_min`` non-negative loads [kW].
    """
    n = MINUTES_PER_DAY // interval_min
    rng = _day_rng(seed, meter_id, day)
    # Draw every random number in a fixed order, whatever the day turns out to be; the
    # abnormal-day draw comes first so is_abnormal_day() can read it alone.
    abnormal = _abnormal_from(rng)
    outage_start_draw = rng.random()
    outage_hours_draw = rng.integers(ABNORMAL_HOURS[0], ABNORMAL_HOURS[1] + 1)
    outage_level_draw = rng.uniform(*ABNORMAL_LEVEL)
    innovations = rng.standard_normal(n)

    shape = smooth_profile(resource.typical_load_kw, interval_min)
    level = _drift(seed, meter_id, day) * (1.0 if working_day else non_working_factor)

    phi = AR1_PHI_15MIN ** (interval_min / 15.0)
    sigma = noise_pct / 100.0
    noise = np.empty(n)
    state = sigma * innovations[0]
    noise[0] = state
    scale = sigma * np.sqrt(1.0 - phi * phi)
    for i in range(1, n):
        state = phi * state + scale * innovations[i]
        noise[i] = state

    values = shape * level * (1.0 + noise)
    if abnormal:
        length = int(outage_hours_draw) * 60 // interval_min
        first = int(outage_start_draw * (n - length + 1))
        values[first : first + length] *= outage_level_draw
    return np.maximum(values, 0.0)


def is_abnormal_day(seed: int, meter_id: str, day: date) -> bool:
    """Whether the generator puts a partial outage on this meter and day."""
    return _abnormal_from(_day_rng(seed, meter_id, day))


def _abnormal_from(rng: np.random.Generator) -> bool:
    return bool(rng.random() < ABNORMAL_DAY_PROBABILITY)


def smooth_profile(profile: tuple[float, ...], interval_min: int) -> NDArray[np.float64]:
    """A daily step profile resampled to ``interval_min``, linear between step midpoints.

    Parameters
    ----------
    profile
        24, 48 or 96 values for the local day [kW]; each is the mean of its step.
    interval_min
        The target interval length [min].

    Returns
    -------
    NDArray[np.float64]
        ``1440 // interval_min`` values [kW] at the interval midpoints, periodic over the day.
    """
    values = np.asarray(profile, dtype=np.float64)
    step = MINUTES_PER_DAY / len(values)
    knots = (np.arange(len(values)) + 0.5) * step
    n = MINUTES_PER_DAY // interval_min
    at = (np.arange(n) + 0.5) * interval_min
    return np.asarray(np.interp(at, knots, values, period=MINUTES_PER_DAY), dtype=np.float64)


def meter_hash(meter_id: str) -> int:
    """A stable 64-bit hash of a meter id (the same in every process and Python version)."""
    digest = hashlib.blake2b(meter_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _day_rng(seed: int, meter_id: str, day: date) -> np.random.Generator:
    return np.random.default_rng([seed % 2**64, meter_hash(meter_id), day.toordinal()])


@lru_cache(maxsize=4096)
def _wander_params(seed: int, meter_id: str) -> tuple[float, float]:
    rng = np.random.default_rng([seed % 2**64, meter_hash(meter_id), 0])
    period = float(rng.uniform(*WANDER_PERIOD_DAYS))
    phase = float(rng.uniform(0.0, 2.0 * np.pi))
    return period, phase


def _drift(seed: int, meter_id: str, day: date) -> float:
    """Slow multiplicative drift [-]: seasonal sinusoid plus a per-meter wander."""
    day_of_year = day.timetuple().tm_yday
    seasonal = SEASONAL_AMPLITUDE * np.cos(
        2.0 * np.pi * (day_of_year - SEASONAL_PEAK_DAY_OF_YEAR) / 365.25
    )
    period, phase = _wander_params(seed, meter_id)
    wander = WANDER_AMPLITUDE * np.sin(2.0 * np.pi * day.toordinal() / period + phase)
    return float(1.0 + seasonal + wander)
