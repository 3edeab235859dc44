"""Battery block: power limits, SoC balance, no simultaneous charge and discharge."""

import numpy as np
import pytest

from vpp.domain import EventKind, Notice
from vpp.optimizer import DispatchSettings, build_model, dispatch
from vpp.optimizer.solve import solve

from builders import at, battery, district, enterprise, event, problem


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


def _intraday(start_h: float, end_h: float, target_kw: float):
    return event(start_h, end_h, target_kw=target_kw).model_copy(
        update={"notice": Notice.INTRADAY, "issued_at": at(start_h - 2)}
    )


def _soc_path(power: np.ndarray, soc_initial: float) -> np.ndarray:
    stored = soc_initial * 1000 + np.cumsum(np.where(power > 0, power * 0.95, power / 0.95) * 0.25)
    return stored / 1000


def test_a_day_ahead_plan_keeps_the_storage_reserve_for_later_calls():
    """With ``storage_reserve`` 0.5 a day-ahead event discharges the battery to half its
    charge and no further, even when that leaves the target short."""
    d = district(enterprise("store", [battery(soc_initial=0.9, soc_min=0.1)]), storage_reserve=0.5)
    result = dispatch(problem(d, event(11, 13, target_kw=500)))
    soc = _soc_path(_schedule(result), 0.9)
    assert soc.min() == pytest.approx(0.5, abs=1e-6)
    assert result.max_shortfall_kw > 100.0


def test_an_intraday_call_may_use_the_storage_reserve():
    """The reserve is kept for intraday and real-time calls: they discharge to soc_min."""
    d = district(enterprise("store", [battery(soc_initial=0.9, soc_min=0.1)]), storage_reserve=0.5)
    result = dispatch(problem(d, _intraday(16, 18, target_kw=500)))
    soc = _soc_path(_schedule(result), 0.9)
    assert soc.min() == pytest.approx(0.1, abs=1e-6)


def test_a_storage_reserve_above_the_initial_charge_holds_the_initial_charge():
    """A battery starting below the reserve is not asked to charge up to it: it may give
    what it charges before the event, but never goes below the charge it started with."""
    d = district(enterprise("store", [battery(soc_initial=0.4, soc_min=0.1)]), storage_reserve=0.5)
    result = dispatch(problem(d, event(11, 13, target_kw=500)))
    soc = _soc_path(_schedule(result), 0.4)
    assert soc.min() == pytest.approx(0.4, abs=1e-6)
    assert result.violations == ()
