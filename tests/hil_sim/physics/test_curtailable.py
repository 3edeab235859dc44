"""Curtailable load physics: natural load from the synthetic meter, limits, ramps, rebound."""

from datetime import timedelta

import numpy as np
import pytest

from vpp.domain import CurtailableLoad, SetpointMode, SyntheticHistory
from vpp.hil_sim.physics import Command, CurtailableDevice, natural_load_kw
from vpp.synthetic import meter_history

from builders import DAY, TZ, at, curtailable, district, enterprise


def make(natural_kw=1000.0, ramp_s=300.0, **extra) -> CurtailableDevice:
    load = CurtailableLoad.model_validate(curtailable("line", [(400.0, 1.0)], **extra))
    series = np.full(96, natural_kw)
    return CurtailableDevice(load, series, day=DAY.date(), tz=TZ, ramp_s=ramp_s, substep_s=10.0)


def run(device, start, seconds, command, step_s=10):
    t = start
    out = []
    for _ in range(seconds // step_s):
        out.append(device.step(t, t + timedelta(seconds=step_s), command))
        t += timedelta(seconds=step_s)
    return out


def test_natural_load_is_the_synthetic_meter_series_of_the_day():
    """The simulated truth is the generator's series for that meter and day, not a new draw."""
    d = district(
        enterprise("acme", [curtailable("line", [(100.0, 1.0)])]),
        meter_history={"source": "synthetic", "seed": 7, "days": 7},
    )
    ref = next(d.resources())
    history = meter_history(d, DAY.date(), SyntheticHistory(seed=7, days=7))
    truth = natural_load_kw(ref, DAY.date(), SyntheticHistory(seed=7, days=7))
    np.testing.assert_array_equal(truth, history[ref.key].day(DAY.date()))


def test_curtailable_load_follows_natural_load_without_command():
    """With no command the meter reads the natural load."""
    load = make()
    assert run(load, at(10), 600, None) == pytest.approx([1000.0] * 60)


def test_curtailable_load_ramps_to_limit_within_ramp_time():
    """A full-scale drop takes ramp_s; a smaller one proportionally less, then holds."""
    load = make(natural_kw=1000.0, ramp_s=300.0)
    limit = Command(SetpointMode.LIMIT, 400.0)
    powers = run(load, at(10), 600, limit)
    # 600 kW at 1000 kW / 300 s takes 180 s: halfway after 90 s, there after 180 s
    assert powers[8] == pytest.approx(1000.0 - 600.0 * 85.0 / 180.0)  # mean over 80..90 s
    assert all(p == pytest.approx(400.0) for p in powers[18:])
    assert max(powers[18:]) <= 400.0 + 1e-9


def test_curtailable_limit_above_natural_load_changes_nothing():
    """A limit is a cap: when the load already sits below it, nothing moves."""
    load = make(natural_kw=500.0)
    assert run(load, at(10), 300, Command(SetpointMode.LIMIT, 800.0)) == pytest.approx([500.0] * 30)


def test_curtailable_load_rebounds_after_the_limit_ends():
    """rebound_fraction of the curtailed energy comes back over rebound_duration_min."""
    load = make(rebound_fraction=0.5, rebound_duration_min=60)
    curtailed = run(load, at(10), 3600, Command(SetpointMode.LIMIT, 400.0), step_s=60)
    curtailed_kwh = sum(1000.0 - p for p in curtailed) / 60.0
    after = run(load, at(11), 3 * 3600, None, step_s=60)
    rebound_kwh = sum(p - 1000.0 for p in after) / 60.0
    # the ramp back up is curtailment too; the ramp down at the end overshoots a little
    assert rebound_kwh == pytest.approx(0.5 * curtailed_kwh, rel=0.02)
    ramp_up_kwh = 600.0 * 180.0 / 2.0 / 3600.0  # 400 -> 1000 kW in 180 s, below natural
    # spread evenly over 1 h at half the energy curtailed, the ramp back up included
    assert after[30] == pytest.approx(1000.0 + 0.5 * (curtailed_kwh + ramp_up_kwh))
    assert after[-1] == pytest.approx(1000.0)
