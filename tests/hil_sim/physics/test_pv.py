"""PV physics: the generation profile, as negative power, times a seeded cloud factor."""

from datetime import timedelta

import numpy as np
import pytest

from vpp.domain import Pv, SetpointMode
from vpp.hil_sim.physics import Command, PvDevice
from vpp.hil_sim.physics.pv import cloud_factor

from builders import DAY, TZ, at

PROFILE = [0.0] * 6 + [100.0] * 12 + [0.0] * 6


def make(clouds=None) -> PvDevice:
    pv = Pv.model_validate({"resource_id": "roof", "capacity_kw": 100.0, "generation_kw": PROFILE})
    return PvDevice(pv, day=DAY.date(), tz=TZ, clouds=clouds)


def test_pv_generation_is_negative_power():
    """Clear sky: the profile, negated (generation lowers consumption)."""
    pv = make()
    assert pv.step(at(12), at(12) + timedelta(minutes=15), None) == pytest.approx(-100.0)
    assert pv.step(at(1), at(1) + timedelta(minutes=15), None) == 0.0


def test_pv_ignores_commands():
    """A command changes nothing: PV is not dispatchable."""
    pv = make()
    limited = pv.step(at(12), at(12) + timedelta(minutes=5), Command(SetpointMode.LIMIT, 0.0))
    assert limited == pytest.approx(-100.0)


def test_pv_cloud_factor_scales_output():
    """Under a cloud the output drops by the cloud's depth."""
    clouds = np.ones(288)
    clouds[144:150] = 0.4  # 12:00-12:30
    pv = make(clouds)
    assert pv.step(at(12), at(12.5), None) == pytest.approx(-40.0)


def test_cloud_factor_is_seeded_and_cloudy_for_its_share():
    """The same seed gives the same sky; over many days the cloudy share is as set."""
    first = cloud_factor(np.random.default_rng(3))
    np.testing.assert_array_equal(first, cloud_factor(np.random.default_rng(3)))
    days = np.concatenate(
        [cloud_factor(np.random.default_rng(s), cloudy_share=0.2) for s in range(200)]
    )
    assert np.mean(days < 1.0) == pytest.approx(0.2, abs=0.03)
    assert days.min() >= 0.2 - 1e-12
    assert days.max() == 1.0
