"""What all device physics share: the day's clock, read on the wall on DST days."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vpp.domain import CurtailableLoad
from vpp.hil_sim.physics import CurtailableDevice
from vpp.hil_sim.physics.base import DayClock, as_utc, substep_bounds

from builders import curtailable

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    "day",
    [date(2026, 3, 29), date(2026, 10, 25), date(2026, 7, 1)],
    ids=["spring", "autumn", "summer"],
)
def test_day_clock_reads_the_wall_clock_on_days_the_clocks_change(day):
    """11:00 local is minute 660 on any day, though 10, 11 or 12 h have elapsed since midnight."""
    clock = DayClock(day, BERLIN)
    for hour in (1, 11, 23):
        s = clock.seconds(datetime(day.year, day.month, day.day, hour, tzinfo=BERLIN))
        assert clock.minute_of_day(s) == hour * 60
        assert clock.wall_s_many(np.array([s]))[0] == hour * 3600


def test_day_clock_without_a_clock_change_counts_elapsed_seconds():
    """In a zone without DST the wall clock is the elapsed time (the simulator's fast path)."""
    clock = DayClock(date(2026, 7, 15), ZoneInfo("Asia/Shanghai"))
    assert [clock.wall_s(s) for s in (0.0, 3600.0, 86_399.0)] == [0.0, 3600.0, 86_399.0]


def test_curtailable_load_follows_its_local_profile_after_spring_forward():
    """A load that runs 12:00-13:00 local runs then on the spring-forward day, not at 13:00."""
    day = date(2026, 3, 29)
    profile = [0.0] * 96
    profile[48:52] = [1000.0] * 4  # 12:00-13:00 local
    load = CurtailableLoad.model_validate(curtailable("line", [(400.0, 1.0)]))
    device = CurtailableDevice(
        load, np.array(profile), day=day, tz=BERLIN, ramp_s=60.0, substep_s=10.0
    )
    noon = datetime(2026, 3, 29, 12, 30, tzinfo=BERLIN)
    assert device.natural_kw_at(device.clock.seconds(noon)) == pytest.approx(1000.0)
    before = noon - timedelta(hours=1)
    assert device.natural_kw_at(device.clock.seconds(before)) == pytest.approx(0.0)


@given(
    s0=st.floats(-1e5, 1e5, allow_nan=False),
    span=st.floats(0.0, 1e4, allow_nan=False),
    max_s=st.floats(1.0, 600.0),
    events=st.lists(st.floats(-1e5, 2e5, allow_nan=False), max_size=6),
)
def test_substep_bounds_cut_a_step_evenly_and_at_every_event_inside(s0, span, max_s, events):
    """From s0 to s1, sub-steps no longer than max_s (1e-9 of slack) and equal but for the
    events inside; a step no longer than one sub-step is one, its ends untouched."""
    s1 = s0 + span
    bounds = substep_bounds(s0, s1, max_s, sorted(events))
    assert bounds[0] == s0
    assert bounds[-1] == s1
    assert bounds == sorted(bounds)
    assert {e for e in events if s0 < e < s1} <= set(bounds)
    if not any(s0 < e < s1 for e in events):
        count = len(bounds) - 1
        assert count == max(1, int(np.ceil((s1 - s0) / max_s - 1e-9)))
        if s1 - s0 <= max_s:
            assert bounds == [s0, s1]


def test_as_utc_gives_the_same_moment_and_keeps_it_for_the_same_time():
    tick = datetime(2026, 7, 15, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    utc = as_utc(tick)
    assert utc == tick
    assert utc.utcoffset() == timedelta(0)
    assert as_utc(tick) is utc
    for k in range(20):  # more times than it keeps: each still right
        t = tick + timedelta(minutes=k)
        assert as_utc(t) == t
