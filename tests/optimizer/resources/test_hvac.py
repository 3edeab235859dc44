"""HVAC: thermostat baseline, pre-cooling before the event, comfort band kept."""

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from vpp.domain import HvacLoad, TimeGrid
from vpp.optimizer import DispatchSettings, build_model
from vpp.optimizer.resources.hvac import check_hvac_load, thermostat_baseline
from vpp.optimizer.solve import solve

from builders import DAY, HOT_AFTERNOON, TZ, building, district, enterprise, event, problem


def _building(**extra):
    spec = {
        "comfort_min_c": 22.0,
        "comfort_max_c": 26.0,
        "setpoint_c": 24.0,
        "price_cny_per_kwh": 1.0,
    }
    spec.update(extra)
    return building(**spec)


def _simulate(hvac: HvacLoad, power: np.ndarray, outdoor: np.ndarray, dt_h: float) -> np.ndarray:
    a = np.exp(-dt_h / (hvac.thermal_resistance_c_per_kw * hvac.thermal_capacitance_kwh_per_c))
    temps, temp = [], hvac.setpoint_c
    for p, t_out in zip(power, outdoor, strict=True):
        temp = a * temp + (1 - a) * (t_out - hvac.thermal_resistance_c_per_kw * hvac.cop * p)
        temps.append(temp)
    return np.array(temps)


def test_thermostat_baseline_holds_the_setpoint():
    """Baseline power keeps the room at the setpoint when the rated power suffices."""
    hvac = HvacLoad.model_validate(_building())
    grid = TimeGrid.for_day(DAY.date(), TZ)
    outdoor = grid.sample_daily(hvac.outdoor_temperature_c)
    power, temp = thermostat_baseline(hvac, outdoor, grid.dt_h)
    assert np.allclose(temp, 24.0)
    assert power[56] == pytest.approx((36 - 24) / (0.02 * 3.0))  # 14:00: 200 kW


def test_add_hvac_load_precools_and_stays_in_the_comfort_band():
    """For a large afternoon target the building cools below the setpoint first."""
    d = district(enterprise("mall", [_building()], sector="commercial"))
    settings = DispatchSettings()
    built = build_model(problem(d, event(14, 16, target_kw=150)), settings)
    raw = solve(built.model, settings)
    block = built.blocks[0]
    power = raw.x[block.power_idx[0]]
    base = block.baseline_kw[0]
    hvac = d.enterprises[0].sites[0].resources[0]
    temps = _simulate(hvac, power, built.context.grid.sample_daily(HOT_AFTERNOON), 0.25)
    assert power[48:56].max() > base[48:56].max() + 1.0  # pre-cooling in the 2 h before
    assert temps[55] < 24.0 - 0.1
    assert np.all(temps >= 22.0 - 1e-6)
    assert np.all(temps <= 26.0 + 1e-6)
    assert (base[56:64] - power[56:64]).min() > 0  # sheds load through the event


def test_recovery_held_at_baseline_power_stays_commanded():
    """Where the rebound limit keeps a warm building at its baseline power after the window,
    that power is still commanded: left alone, its thermostat would snap back at once."""
    d = district(enterprise("mall", [_building()], sector="commercial"))
    settings = DispatchSettings()
    prob = problem(d, event(14, 16, target_kw=100))
    limit = np.full(prob.grid.count, np.nan)
    limit[64:66] = 0.0  # no room in the half hour after the window (never below baseline)
    built = build_model(replace(prob, rebound_limit_kw=limit), settings)
    raw = solve(built.model, settings)
    block = built.blocks[0]
    power = raw.x[block.power_idx[0]]
    setpoint = block.setpoint_kw(raw.x)[0]
    assert np.allclose(power[64:66], block.baseline_kw[0, 64:66], atol=1e-3)
    assert (power[66:] - block.baseline_kw[0, 66:]).max() > 1.0  # recovers later
    commanded = np.flatnonzero(~np.isnan(setpoint))
    span = slice(commanded[0], commanded[-1] + 1)
    assert commanded[-1] >= 66
    assert np.allclose(setpoint[span], power[span])


def replace_initial(hvac: HvacLoad, initial_c: float) -> HvacLoad:
    return hvac.model_copy(update={"temperature_initial_c": initial_c})


def _warm_start(initial_c: float, issued_hour: int, target_kw: float = 100.0):
    """A building at ``initial_c`` when instructions go out at ``issued_hour``:00."""
    d = district(
        enterprise("mall", [_building(temperature_initial_c=initial_c)], sector="commercial")
    )
    prob = problem(d, event(14, 16, target_kw=target_kw))
    first = prob.grid.first_index_at_or_after(DAY.replace(hour=issued_hour))
    return d, replace(prob, first_free_index=first), first


def test_a_building_started_warm_follows_its_model_from_the_given_temperature():
    """The temperature chain restarts at the first free interval: the model's temperatures
    from there are the building's own trajectory from ``temperature_initial_c``."""
    d, prob, first = _warm_start(25.5, 13)
    settings = DispatchSettings()
    built = build_model(prob, settings)
    raw = solve(built.model, settings)
    power = raw.x[built.blocks[0].power_idx[0]]
    modelled = built.model.value(raw.x, "hvac_load.temperature_c")[0]
    hvac = d.enterprises[0].sites[0].resources[0]
    outdoor = built.context.grid.sample_daily(HOT_AFTERNOON)
    a = np.exp(-0.25 / (0.02 * 150.0))
    temp, expected = 25.5, []
    for t in range(first, outdoor.size):
        temp = a * temp + (1 - a) * (outdoor[t] - 0.02 * 3.0 * power[t])
        expected.append(temp)
    assert np.allclose(modelled[first:], expected, atol=1e-6)
    assert np.allclose(modelled[:first], _simulate(hvac, power, outdoor, 0.25)[:first], atol=1e-6)
    schedule = SimpleNamespace(power_kw=tuple(power))  # the checker reads the power only
    assert check_hvac_load(hvac, schedule, prob, None) == []  # type: ignore[arg-type]
    assert check_hvac_load(replace_initial(hvac, 24.0), schedule, prob, None) != []


def test_a_building_started_warm_is_commanded_from_the_first_free_interval():
    """Its recovery is the plan's: released at its first free interval, its thermostat would
    pull it back at full power, so it is commanded from there through its last command."""
    _, prob, first = _warm_start(25.5, 13)
    settings = DispatchSettings()
    built = build_model(prob, settings)
    raw = solve(built.model, settings)
    setpoint = built.blocks[0].setpoint_kw(raw.x)[0]
    assert np.isnan(setpoint[:first]).all()
    commanded = np.flatnonzero(~np.isnan(setpoint))
    assert commanded[0] == first
    assert np.array_equal(commanded, np.arange(first, commanded[-1] + 1))


def test_a_building_started_beyond_its_comfort_band_still_gets_a_plan():
    """Started warmer than the rated power can bring into the band at once, the band is
    widened to what the building can reach: a plan, not an infeasible model."""
    _, prob, first = _warm_start(30.0, 15)
    settings = DispatchSettings()
    built = build_model(prob, settings)
    raw = solve(built.model, settings)
    assert raw.status.value == "optimal"
    modelled = built.model.value(raw.x, "hvac_load.temperature_c")[0]
    assert modelled[first] > 26.0
    assert modelled[-1] <= 24.0 + 1e-3  # and brought back to normal by the end


def test_a_building_started_warm_after_its_recovery_span_gets_recovery_min_from_there():
    """A recovery re-planned at its planned end from a measured temperature has
    ``recovery_min`` from the new start: commanded back to normal, not left to snap."""
    _, prob, first = _warm_start(25.5, 19)  # the event's recovery ended at 18:00
    settings = DispatchSettings()
    built = build_model(prob, settings)
    raw = solve(built.model, settings)
    block = built.blocks[0]
    setpoint = block.setpoint_kw(raw.x)[0]
    commanded = np.flatnonzero(~np.isnan(setpoint))
    assert commanded[0] == first
    assert commanded[-1] < first + 120 // 15  # within recovery_min of the new start
    modelled = built.model.value(raw.x, "hvac_load.temperature_c")[0]
    _, base_temp = thermostat_baseline(
        HvacLoad.model_validate(_building()), built.context.grid.sample_daily(HOT_AFTERNOON), 0.25
    )
    end = first + 120 // 15 - 1
    assert modelled[end] <= base_temp[end] + 1e-3  # back to normal by then
