"""What all device physics share: the day's clock, read on the wall on DST days."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from vpp.domain import CurtailableLoad
from vpp.hil_sim.physics import CurtailableDevice
from vpp.hil_sim.physics.base import DayClock

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
