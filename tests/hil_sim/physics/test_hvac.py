"""HVAC physics: a 1R1C building whose thermostat holds the setpoint, commands within comfort."""

from datetime import timedelta

import pytest

from vpp.domain import HvacLoad, SetpointMode
from vpp.hil_sim.physics import Command, HvacDevice
from vpp.hil_sim.physics.hvac import temperature_after, thermostat_power_kw

from builders import DAY, TZ, at

HOT_35 = [35.0] * 24


def make(**extra) -> HvacDevice:
    spec = {
        "resource_id": "chillers",
        "rated_power_kw": 800.0,
        "cop": 3.5,
        "thermal_resistance_c_per_kw": 0.005,
        "thermal_capacitance_kwh_per_c": 700.0,
        "comfort_min_c": 23.0,
        "comfort_max_c": 26.0,
        "setpoint_c": 24.0,
        "outdoor_temperature_c": HOT_35,
    }
    spec.update(extra)
    return HvacDevice(HvacLoad.model_validate(spec), day=DAY.date(), tz=TZ)


def run(device, start, minutes, command):
    t = start
    out = []
    for _ in range(minutes):
        out.append(device.step(t, t + timedelta(minutes=1), command))
        t += timedelta(minutes=1)
    return out


def holding_kw(temp_c: float) -> float:
    """Steady power that holds an indoor temperature at 35 °C outside: (T_out - T) / (R COP)."""
    return (35.0 - temp_c) / (0.005 * 3.5)


def test_temperature_after_is_the_exact_1r1c_step():
    """Holding power keeps the temperature; no power relaxes it towards the outdoor one."""
    hvac = make().resource
    assert temperature_after(24.0, 35.0, holding_kw(24.0), 0.5, hvac) == pytest.approx(24.0)
    warmer = temperature_after(24.0, 35.0, 0.0, 3.5, hvac)  # one time constant R C
    assert warmer == pytest.approx(35.0 - 11.0 * 0.36788, rel=1e-4)


def test_thermostat_power_is_clipped_to_rating():
    """A thermostat never asks for negative power or more than rated."""
    hvac = make().resource
    assert thermostat_power_kw(20.0, 35.0, 24.0, 0.25, hvac) == 0.0
    assert thermostat_power_kw(30.0, 35.0, 24.0, 0.25, hvac) == 800.0


def test_hvac_thermostat_holds_setpoint_in_normal_operation():
    """Without commands the building stays at its setpoint, drawing the holding power."""
    hvac = make()
    powers = run(hvac, at(10), 120, None)
    assert hvac.temperature_c == pytest.approx(24.0, abs=0.01)
    assert powers[-1] == pytest.approx(holding_kw(24.0), rel=0.01)


def test_hvac_follows_power_command_within_comfort():
    """A lower power is followed after the ramp while the building stays comfortable."""
    hvac = make()
    run(hvac, at(10), 30, None)
    powers = run(hvac, at(10.5), 30, Command(SetpointMode.POWER, 300.0))
    assert powers[-1] == pytest.approx(300.0)
    assert 24.0 < hvac.temperature_c < 26.0


def test_hvac_power_command_clipped_to_hold_comfort_max():
    """Told to draw nothing for hours, the gateway draws what holds comfort_max_c."""
    hvac = make()
    powers = run(hvac, at(10), 6 * 60, Command(SetpointMode.POWER, 0.0))
    temps = []
    for _ in range(60):
        run(hvac, at(16), 1, Command(SetpointMode.POWER, 0.0))
        temps.append(hvac.temperature_c)
    assert max(temps) <= 26.0 + 0.05
    assert hvac.temperature_c == pytest.approx(26.0, abs=0.05)
    assert powers[-1] == pytest.approx(holding_kw(26.0), rel=0.02)


def test_hvac_power_command_clipped_to_comfort_min():
    """Pre-cooling at full power stops at comfort_min_c."""
    hvac = make()
    run(hvac, at(8), 8 * 60, Command(SetpointMode.POWER, 800.0))
    assert hvac.temperature_c == pytest.approx(23.0, abs=0.05)
