"""Battery physics: follows power commands, idles otherwise, and respects its SoC window."""

from datetime import timedelta

import pytest

from vpp.domain import Battery, SetpointMode
from vpp.hil_sim.physics import BatteryDevice, Command
from vpp.hil_sim.physics.battery import soc_limited_power_kw

from builders import DAY, TZ, at


def make(**extra) -> BatteryDevice:
    spec = {
        "resource_id": "bess",
        "capacity_kwh": 1000.0,
        "max_charge_kw": 500.0,
        "max_discharge_kw": 500.0,
        "soc_initial": 0.5,
        "soc_final_min": 0.5,
    }
    spec.update(extra)
    return BatteryDevice(Battery.model_validate(spec), day=DAY.date(), tz=TZ)


def run(device, start, minutes, command):
    """Mean power of each minute [kW]."""
    t = start
    out = []
    for _ in range(minutes):
        out.append(device.step(t, t + timedelta(minutes=1), command))
        t += timedelta(minutes=1)
    return out


def test_battery_idles_without_command():
    """Normal operation is idle: 0 kW and the SoC unchanged."""
    bess = make()
    assert run(bess, at(10), 30, None) == [0.0] * 30
    assert bess.soc == 0.5


def test_battery_follows_power_command_after_its_ramp():
    """A discharge command is reached in under ramp_s; the first minute loses half the ramp."""
    bess = make()
    first, second = run(bess, at(10), 2, Command(SetpointMode.POWER, -400.0))
    # 0 to -400 kW at 50 kW/s takes 8 s: the minute's mean is -400 + 400 * 8 / (2 * 60)
    assert first == pytest.approx(-400.0 + 400.0 * 8.0 / 120.0)
    assert second == pytest.approx(-400.0)


def test_battery_soc_moves_with_efficiency():
    """Charging stores eta_c P dt; discharging draws P dt / eta_d."""
    bess = make()
    bess.step(at(10), at(11), Command(SetpointMode.POWER, 200.0))
    stored = 0.95 * (200.0 - 200.0 * 4.0 / 3600.0 / 2.0)  # ramp of 4 s
    assert bess.soc == pytest.approx(0.5 + stored / 1000.0)
    soc = bess.soc
    bess.step(at(11), at(12), Command(SetpointMode.POWER, -100.0))
    assert bess.soc < soc - 100.0 / 0.95 / 1000.0 * 0.99


def test_battery_stops_discharging_at_soc_min():
    """Told to discharge at empty, the battery delivers what is left and then stops."""
    bess = make(soc_initial=0.2, soc_final_min=0.2, soc_min=0.1)
    minutes = run(bess, at(10), 90, Command(SetpointMode.POWER, -500.0))
    delivered_kwh = -sum(minutes) / 60.0
    assert delivered_kwh == pytest.approx(0.1 * 1000.0 * 0.95)  # 100 kWh less discharge losses
    assert bess.soc == pytest.approx(0.1)
    assert minutes[-1] == 0.0
    assert bess.power_kw == 0.0


def test_battery_stops_charging_at_soc_max():
    """Charging ends at soc_max however long the command lasts."""
    bess = make(soc_initial=0.85, soc_final_min=0.5, soc_max=0.9)
    minutes = run(bess, at(10), 30, Command(SetpointMode.POWER, 500.0))
    assert bess.soc == pytest.approx(0.9)
    assert sum(minutes) / 60.0 == pytest.approx(50.0 / 0.95)
    assert minutes[-1] == 0.0


def test_soc_limited_power_cuts_only_beyond_the_window():
    """Within the window the power passes unchanged; beyond it, only what fits."""
    kwargs = {
        "capacity_kwh": 100.0,
        "charge_efficiency": 0.9,
        "discharge_efficiency": 0.9,
        "soc_min": 0.1,
        "soc_max": 0.9,
    }
    assert soc_limited_power_kw(10.0, 0.5, 1.0, **kwargs) == pytest.approx((10.0, 0.59))
    power, soc = soc_limited_power_kw(-100.0, 0.2, 1.0, **kwargs)
    assert (power, soc) == pytest.approx((-9.0, 0.1))
