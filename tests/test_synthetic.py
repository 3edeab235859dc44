"""The seeded meter-history generator: determinism, calendar, shape, abnormal days."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from vpp.baseline.calendar import CalendarFallbackWarning, is_working_day
from vpp.config import load_district
from vpp.domain import CurtailableLoad, District, Sector, SyntheticHistory
from vpp.synthetic import (
    ABNORMAL_DAY_PROBABILITY,
    is_abnormal_day,
    meter_hash,
    meter_history,
    smooth_profile,
)

DEMO = Path(__file__).resolve().parents[1] / "configs" / "districts" / "demo.yaml"
END = date(2026, 7, 15)


@pytest.fixture(scope="module")
def district() -> District:
    return load_district(DEMO)


@pytest.fixture(scope="module")
def source(district: District) -> SyntheticHistory:
    assert isinstance(district.meter_history, SyntheticHistory)
    return district.meter_history


@pytest.fixture(scope="module")
def history(district, source):
    return meter_history(district, END, source)


def _loads(district: District) -> dict[str, tuple[Sector, CurtailableLoad]]:
    return {
        ref.key: (ref.enterprise.sector, ref.resource)
        for ref in district.resources()
        if isinstance(ref.resource, CurtailableLoad)
    }


def test_one_meter_per_curtailable_load_with_the_event_day_included(district, source, history):
    assert set(history) == set(_loads(district))
    for meter_id, load in history.items():
        assert load.meter_id == meter_id
        assert load.interval_min == 15
        assert load.days[0] == END - timedelta(days=source.days)
        assert load.days[-1] == END
        assert len(load.days) == source.days + 1
        assert load.values_kw.shape == (source.days + 1, 96)


def test_same_seed_gives_the_same_values(district, source, history):
    again = meter_history(district, END, source)
    for meter_id, load in history.items():
        np.testing.assert_array_equal(again[meter_id].values_kw, load.values_kw)


def test_a_sub_range_equals_the_same_days_of_a_longer_range(district, source, history):
    short = meter_history(district, date(2026, 7, 1), source.model_copy(update={"days": 10}))
    for meter_id, load in short.items():
        for day in load.days:
            longer = history[meter_id].day(day)
            assert longer is not None
            np.testing.assert_array_equal(load.day(day), longer)


def test_different_seeds_differ(district, source, history):
    other = meter_history(district, END, source.model_copy(update={"seed": source.seed + 1}))
    for meter_id, load in history.items():
        assert not np.allclose(other[meter_id].values_kw, load.values_kw)


def test_meter_hash_is_stable_across_processes():
    # Python's hash() of a str changes with PYTHONHASHSEED; the generator must not use it.
    assert meter_hash("plant/process") == meter_hash("plant/process")
    assert meter_hash("plant/process") == 0xF7AEA45E958E314A
    assert meter_hash("plant/process") != meter_hash("plant/process2")


def test_loads_are_never_negative_even_with_heavy_noise(district, source):
    noisy = meter_history(district, END, source.model_copy(update={"noise_pct": 50.0, "days": 30}))
    for load in noisy.values():
        assert np.all(np.isfinite(load.values_kw))
        assert load.values_kw.min() >= 0.0


def test_noise_has_the_stated_size(district, source, history):
    """Normal days: value / (shape x the day's level) scatters with sd ~ noise_pct."""
    spreads = []
    for meter_id, load in history.items():
        _, resource = _loads(district)[meter_id]
        shape = smooth_profile(resource.typical_load_kw, 15)
        for day, values in zip(load.days, load.values_kw, strict=True):
            if is_abnormal_day(source.seed, meter_id, day):
                continue
            ratio = values / shape
            spreads.append(np.std(ratio / np.mean(ratio)))
    # AR(1) noise is correlated within a day, so a day's own spread is a bit below sigma.
    assert 0.5 * source.noise_pct / 100 < np.median(spreads) < 1.2 * source.noise_pct / 100


def test_working_days_are_higher_than_non_working_days_for_industrial_meters(district, history):
    loads = _loads(district)
    industrial = [m for m, (sector, _) in loads.items() if sector is Sector.INDUSTRIAL]
    assert industrial
    for meter_id in industrial:
        load = history[meter_id]
        daily = load.values_kw.mean(axis=1)
        working = np.array([is_working_day(d) for d in load.days])
        assert working.any()
        assert (~working).any()
        assert np.median(daily[working]) > 1.15 * np.median(daily[~working])


def test_statutory_holidays_count_as_non_working_days(district, source):
    """Dragon Boat Festival 2026 (19 June, a Friday) is a holiday in the Chinese calendar."""
    festival = date(2026, 6, 19)
    assert not is_working_day(festival)
    loads = meter_history(district, date(2026, 6, 22), source.model_copy(update={"days": 10}))
    meter_id = next(m for m, (s, _) in _loads(district).items() if s is Sector.INDUSTRIAL)
    load = loads[meter_id]
    thursday, friday = load.day(date(2026, 6, 18)), load.day(festival)
    assert thursday is not None
    assert friday is not None
    assert friday.mean() < 0.9 * thursday.mean()


def test_shape_follows_the_typical_load(district, history):
    for meter_id, (_, resource) in _loads(district).items():
        load = history[meter_id]
        working = np.array([is_working_day(d) for d in load.days])
        mean_day = np.median(load.values_kw[working], axis=0)
        expected = smooth_profile(resource.typical_load_kw, 15)
        if np.ptp(expected) < 1e-9:
            continue
        assert np.corrcoef(mean_day, expected)[0, 1] > 0.95, meter_id
        # The level is the typical load's within the few-percent drift.
        assert 0.9 < mean_day.mean() / expected.mean() < 1.1, meter_id


def test_quarter_hours_are_interpolated_not_a_staircase():
    hourly = tuple(float(h) for h in range(24))
    quarter = smooth_profile(hourly, 15)
    steps = np.diff(quarter[4:88])  # away from the wrap-around at midnight
    np.testing.assert_allclose(steps, 0.25)
    assert quarter[2] == pytest.approx(0.125)  # 00:30-00:45 midpoint: a quarter of the way


def test_abnormal_days_occur_at_about_the_stated_rate(district, source):
    meters = list(_loads(district))
    days = [END - timedelta(days=n) for n in range(365)]
    flags = [is_abnormal_day(source.seed, m, d) for m in meters for d in days]
    n = len(flags)
    rate = sum(flags) / n
    sd = (ABNORMAL_DAY_PROBABILITY * (1 - ABNORMAL_DAY_PROBABILITY) / n) ** 0.5
    assert abs(rate - ABNORMAL_DAY_PROBABILITY) < 4 * sd
    assert pytest.approx(1 / 30) == ABNORMAL_DAY_PROBABILITY


def test_abnormal_days_show_a_partial_outage(district, source, history):
    """An abnormal day drops to 30-60 % for some hours; a normal day never dips that low."""
    seen = 0
    for meter_id, load in history.items():
        _, resource = _loads(district)[meter_id]
        shape = smooth_profile(resource.typical_load_kw, 15)
        for day, values in zip(load.days, load.values_kw, strict=True):
            ratio = values / shape
            dip = ratio.min() / np.median(ratio)
            if is_abnormal_day(source.seed, meter_id, day):
                seen += 1
                assert dip < 0.7, (meter_id, day)
                low = ratio < 0.7 * np.median(ratio)
                assert 8 <= low.sum() <= 32 + 4, (meter_id, day)  # 2-8 h of 15-min intervals
            else:
                assert dip > 0.75, (meter_id, day)
    assert seen > 0  # 28 meters x 61 days: ~57 expected


def test_other_interval_lengths(district, source):
    hourly = meter_history(district, END, source.model_copy(update={"days": 7}), interval_min=60)
    for load in hourly.values():
        assert load.values_kw.shape == (8, 24)
    with pytest.raises(ValueError, match="divide a day"):
        meter_history(district, END, source, interval_min=7)


def test_days_outside_the_holiday_calendar_give_one_warning(district, source):
    """chinese_calendar 1.11 stops at 2026: later days fall back to Monday-Friday, said once."""
    with pytest.warns(CalendarFallbackWarning) as caught:
        loads = meter_history(district, date(2027, 1, 20), source.model_copy(update={"days": 30}))
    assert len([w for w in caught if w.category is CalendarFallbackWarning]) == 1
    assert "20 of 31 days" in str(caught[0].message)
    assert all(load.days[-1] == date(2027, 1, 20) for load in loads.values())
