"""Battery block: power limits, SoC balance, no simultaneous charge and discharge."""

import numpy as np
import pytest

from vpp.domain import EventKind
from vpp.optimizer import DispatchSettings, build_model, dispatch
from vpp.optimizer.solve import solve

from builders import battery, district, enterprise, event, problem


def _schedule(result):
    (schedule,) = result.schedules
    return np.array(schedule.power_kw)


def test_add_battery_discharges_at_full_power_when_energy_allows():
    """A lone battery with energy for the whole 1-h event discharges at its power limit."""
    d = district(enterprise("store", [battery(soc_initial=0.9)]))
    result = dispatch(problem(d, event(11, 12, target_kw=800)))
    power = _schedule(result)
    assert np.allclose(power[44:48], -500.0)
    assert result.max_shortfall_kw == pytest.approx(300.0)


def test_add_battery_discharges_down_to_soc_floor_and_no_further():
    """With too little energy for the event, the battery empties exactly to soc_min."""
    d = district(enterprise("store", [battery(soc_initial=0.9, soc_min=0.1, soc_final_min=0.1)]))
    result = dispatch(problem(d, event(11, 13, target_kw=800)))
    power = _schedule(result)
    assert power.min() >= -500.0 - 1e-6
    usable_kwh = (0.9 - 0.1) * 1000 * 0.95
    assert -power[44:52].sum() * 0.25 == pytest.approx(usable_kwh, rel=1e-6)
    assert result.violations == ()


def test_add_battery_restores_required_final_soc():
    """Energy discharged below soc_final_min is charged back before the horizon ends."""
    d = district(enterprise("store", [battery(soc_initial=0.5, soc_final_min=0.5)]))
    built = build_model(problem(d, event(11, 12, target_kw=300)), DispatchSettings())
    raw = solve(built.model, DispatchSettings())
    soc = built.model.value(raw.x, "battery.soc_kwh")[0]
    assert soc[-1] >= 500.0 - 1e-6
    assert soc[47] < 500.0 - 100.0


def test_add_battery_never_charges_and_discharges_at_once_when_filling_a_valley():
    """Valley filling adds a mode binary, so losses cannot be burnt to raise load."""
    d = district(enterprise("store", [battery(soc_initial=0.85, soc_max=0.9, soc_final_min=0.1)]))
    settings = DispatchSettings()
    built = build_model(
        problem(d, event(2, 4, target_kw=1000, kind=EventKind.VALLEY_FILLING)), settings
    )
    raw = solve(built.model, settings)
    charge = built.model.value(raw.x, "battery.charge_kw")
    discharge = built.model.value(raw.x, "battery.discharge_kw")
    assert np.all(np.minimum(charge, discharge) < 1e-6)
    assert "battery.charging" in built.model.var_blocks
