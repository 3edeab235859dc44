"""Tests for vpp.domain.kinds: each resource kind's validation and derived values."""

from __future__ import annotations

from datetime import time
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from vpp.domain import (
    ALL_DAY,
    Battery,
    Charger,
    CurtailableLoad,
    DailyWindow,
    EvChargerPool,
    EvSession,
    HvacLoad,
    Pv,
    Resource,
)

FLAT_1000 = [1000.0] * 24


def _errors(exc: ValidationError) -> list[tuple[str, str]]:
    """(dotted location, message) for each error pydantic reports."""
    return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors(include_url=False)]


def _curtailable(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "resource_id": "rolling-mill",
        "typical_load_kw": FLAT_1000,
        "steps": [
            {"power_kw": 200, "price_cny_per_kwh": 1.0},
            {"power_kw": 300, "price_cny_per_kwh": 2.0},
        ],
    }
    return data | overrides


def _battery(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "resource_id": "bess",
        "capacity_kwh": 1000,
        "max_charge_kw": 500,
        "max_discharge_kw": 500,
    }
    return data | overrides


def _pool(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "resource_id": "dc-chargers",
        "chargers": [{"charger_id": "c1", "max_kw": 120}, {"charger_id": "c2", "max_kw": 60}],
        "sessions": [
            {"charger_id": "c1", "arrival": "10:30", "departure": "14:00", "energy_kwh": 150},
            {"charger_id": "c2", "arrival": "11:00", "departure": "12:30", "energy_kwh": 60},
        ],
    }
    return data | overrides


def _hvac(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "resource_id": "chiller",
        "rated_power_kw": 400,
        "thermal_resistance_c_per_kw": 0.02,
        "thermal_capacitance_kwh_per_c": 150,
        "outdoor_temperature_c": [30.0] * 24,
    }
    return data | overrides


def _pv(**overrides: Any) -> dict[str, Any]:
    generation = (
        [0.0] * 6 + [50.0, 100, 150, 200, 250, 300, 300, 250, 200, 150, 100, 50] + [0.0] * 6
    )
    data: dict[str, Any] = {
        "resource_id": "roof-pv",
        "capacity_kw": 300,
        "generation_kw": generation,
    }
    return data | overrides


def _session(charger: str, arrival: str, departure: str) -> dict[str, Any]:
    return {"charger_id": charger, "arrival": arrival, "departure": departure, "energy_kwh": 10}


# --- good examples -------------------------------------------------------------------------


def test_curtailable_load_valid_example():
    """A two-step curtailable load validates, keeps defaults and sums its steps."""
    load = CurtailableLoad.model_validate(_curtailable())
    assert load.kind == "curtailable_load"
    assert load.max_curtailment_kw == 500.0
    assert load.typical_load_kw == tuple(FLAT_1000)
    assert load.availability == (ALL_DAY,)
    assert (load.min_notice_min, load.max_duration_min, load.max_events_per_day) == (30, 240, 1)


def test_battery_valid_example():
    """A battery validates with its documented SoC and efficiency defaults."""
    battery = Battery.model_validate(_battery())
    assert battery.kind == "battery"
    assert (battery.soc_min, battery.soc_max, battery.soc_initial) == (0.1, 0.9, 0.5)
    assert (battery.charge_efficiency, battery.discharge_efficiency) == (0.95, 0.95)
    assert battery.capacity_kwh == 1000.0


def test_ev_charger_pool_valid_example():
    """A pool validates, parses session times and sums charger power."""
    pool = EvChargerPool.model_validate(_pool())
    assert pool.kind == "ev_charger_pool"
    assert pool.max_kw == 180.0
    assert pool.sessions[0].arrival == time(10, 30)
    assert pool.sessions[0].connected_min == 210


def test_hvac_load_valid_example():
    """An HVAC load validates with a 22..26 °C band around 24 °C."""
    hvac = HvacLoad.model_validate(_hvac())
    assert hvac.kind == "hvac_load"
    assert (hvac.comfort_min_c, hvac.setpoint_c, hvac.comfort_max_c) == (22.0, 24.0, 26.0)
    assert hvac.cop == 3.0


def test_pv_valid_example():
    """PV generation up to capacity validates."""
    pv = Pv.model_validate(_pv())
    assert pv.kind == "pv"
    assert max(pv.generation_kw) == 300.0


def test_resource_union_selects_model_by_kind():
    """The Resource union picks the model named by 'kind'."""
    adapter: TypeAdapter[Any] = TypeAdapter(Resource)
    assert type(adapter.validate_python(_battery(kind="battery"))) is Battery
    assert type(adapter.validate_python(_pv(kind="pv"))) is Pv
    with pytest.raises(ValidationError) as exc_info:
        adapter.validate_python(_pv(kind="flywheel"))
    assert exc_info.value.errors()[0]["type"] == "union_tag_invalid"


def test_resource_availability_parses_windows():
    """Availability strings become DailyWindows."""
    battery = Battery.model_validate(_battery(availability=["08:00-22:00"]))
    assert battery.availability == (DailyWindow(start_min=480, end_min=1320),)


# --- unknown fields ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "data", "extra"),
    [
        (CurtailableLoad, _curtailable(max_duraton_min=60), "max_duraton_min"),
        (Battery, _battery(soc_intial=0.5), "soc_intial"),
        (EvChargerPool, _pool(charger=[]), "charger"),
        (HvacLoad, _hvac(setpoint=24), "setpoint"),
        (Pv, _pv(capacity_kwp=300), "capacity_kwp"),
    ],
)
def test_resources_reject_unknown_fields(model, data, extra):
    """A misspelt field is an error on that field, not silently ignored."""
    with pytest.raises(ValidationError) as exc_info:
        model.model_validate(data)
    assert _errors(exc_info.value) == [(extra, "Extra inputs are not permitted")]


# --- battery -------------------------------------------------------------------------------


@pytest.mark.parametrize(("soc_min", "soc_max"), [(0.9, 0.9), (0.95, 0.9)])
def test_battery_rejects_soc_min_not_below_soc_max(soc_min, soc_max):
    """soc_min must be strictly below soc_max."""
    with pytest.raises(ValidationError) as exc_info:
        Battery.model_validate(_battery(soc_min=soc_min, soc_max=soc_max))
    assert _errors(exc_info.value) == [
        ("", f"Value error, soc_min: {soc_min} must be below soc_max ({soc_max})")
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [("soc_initial", 0.95), ("soc_initial", 0.05), ("soc_final_min", 0.95)],
)
def test_battery_rejects_soc_outside_bounds(field, value):
    """soc_initial and soc_final_min must lie in soc_min..soc_max; the message names the field."""
    with pytest.raises(ValidationError) as exc_info:
        Battery.model_validate(_battery(**{field: value}))
    assert _errors(exc_info.value) == [
        ("", f"Value error, {field}: {value} must lie within soc_min..soc_max (0.1..0.9)")
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [(0.0, "Input should be greater than 0"), (1.05, "Input should be less than or equal to 1")],
)
@pytest.mark.parametrize("field", ["charge_efficiency", "discharge_efficiency"])
def test_battery_rejects_bad_efficiency(field, value, message):
    """Efficiencies lie in (0, 1]."""
    with pytest.raises(ValidationError) as exc_info:
        Battery.model_validate(_battery(**{field: value}))
    assert _errors(exc_info.value) == [(field, message)]


def test_battery_accepts_efficiency_one():
    """A lossless battery (efficiency 1) is allowed."""
    assert Battery.model_validate(_battery(charge_efficiency=1.0)).charge_efficiency == 1.0


@pytest.mark.parametrize("field", ["capacity_kwh", "max_charge_kw", "max_discharge_kw"])
def test_battery_rejects_non_positive_sizes(field):
    """Capacity and power limits must be positive."""
    with pytest.raises(ValidationError) as exc_info:
        Battery.model_validate(_battery(**{field: -100}))
    assert _errors(exc_info.value) == [(field, "Input should be greater than 0")]


def test_battery_rejects_infinite_capacity():
    """Infinite capacity is not a number a model can use."""
    with pytest.raises(ValidationError) as exc_info:
        Battery.model_validate(_battery(capacity_kwh=float("inf")))
    assert _errors(exc_info.value) == [("capacity_kwh", "Input should be a finite number")]


# --- curtailable load ----------------------------------------------------------------------


def test_curtailable_load_rejects_steps_above_largest_load():
    """Steps that shed more than the largest typical load are rejected, naming 'steps'."""
    steps = [{"power_kw": 600, "price_cny_per_kwh": 1}, {"power_kw": 500, "price_cny_per_kwh": 2}]
    with pytest.raises(ValidationError) as exc_info:
        CurtailableLoad.model_validate(_curtailable(steps=steps))
    assert _errors(exc_info.value) == [
        (
            "",
            "Value error, steps: shed 1100 kW in total, more than the largest typical load 1000 kW",
        )
    ]


def test_curtailable_load_accepts_steps_equal_to_largest_load():
    """Shedding exactly the largest typical load is allowed."""
    steps = [{"power_kw": 1000, "price_cny_per_kwh": 1}]
    assert CurtailableLoad.model_validate(_curtailable(steps=steps)).max_curtailment_kw == 1000.0


def test_curtailable_load_rejects_empty_steps():
    """A curtailable load needs at least one step."""
    with pytest.raises(ValidationError) as exc_info:
        CurtailableLoad.model_validate(_curtailable(steps=[]))
    assert _errors(exc_info.value) == [
        ("steps", "Tuple should have at least 1 item after validation, not 0")
    ]


def test_curtailable_load_rejects_23_hour_profile():
    """typical_load_kw needs 24, 48 or 96 values."""
    with pytest.raises(ValidationError) as exc_info:
        CurtailableLoad.model_validate(_curtailable(typical_load_kw=[1000.0] * 23))
    assert _errors(exc_info.value) == [
        ("typical_load_kw", "Value error, a daily profile needs 24, 48 or 96 values, got 23")
    ]


def test_curtailable_load_rejects_negative_load():
    """A negative typical load is rejected on typical_load_kw."""
    with pytest.raises(ValidationError) as exc_info:
        CurtailableLoad.model_validate(_curtailable(typical_load_kw=[1000.0] * 23 + [-1.0]))
    assert _errors(exc_info.value) == [
        ("typical_load_kw", "Value error, a load cannot be negative")
    ]


def test_curtailable_load_rejects_non_positive_step():
    """A step must shed a positive power."""
    steps = [{"power_kw": 0, "price_cny_per_kwh": 1}]
    with pytest.raises(ValidationError) as exc_info:
        CurtailableLoad.model_validate(_curtailable(steps=steps))
    # pydantic adds a "too short" error for the tuple whose only item failed; the config
    # loader drops that noise (see tests/test_config.py).
    assert _errors(exc_info.value) == [
        ("steps.0.power_kw", "Input should be greater than 0"),
        ("steps", "Tuple should have at least 1 item after validation, not 0"),
    ]


# --- EV chargers ---------------------------------------------------------------------------


def test_ev_charger_pool_rejects_session_on_unknown_charger():
    """A session on a charger the pool does not have is rejected, naming the session."""
    with pytest.raises(ValidationError) as exc_info:
        EvChargerPool.model_validate(_pool(sessions=[_session("c9", "08:00", "09:00")]))
    assert _errors(exc_info.value) == [
        ("", "Value error, sessions.0.charger_id: unknown charger 'c9'")
    ]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("10:00", "12:00"), ("11:00", "13:00")),
        (("18:00", "08:00"), ("07:00", "09:00")),
        (("07:00", "09:00"), ("18:00", "08:00")),
        (("22:00", "02:00"), ("23:00", "01:00")),
        (("09:00", "09:00"), ("12:00", "13:00")),
    ],
    ids=["daytime", "overnight-first", "overnight-second", "both-overnight", "all-day"],
)
def test_ev_charger_pool_rejects_overlapping_sessions(first, second):
    """Two sessions on one charger may not overlap on any day, overnight ones included."""
    sessions = [_session("c1", *first), _session("c1", *second)]
    with pytest.raises(ValidationError) as exc_info:
        EvChargerPool.model_validate(_pool(sessions=sessions))
    assert _errors(exc_info.value) == [
        ("", "Value error, sessions.1: overlaps another session on charger 'c1'")
    ]


def test_ev_charger_pool_allows_back_to_back_and_other_chargers():
    """Sessions that touch, or overlap on different chargers, are fine."""
    sessions = [
        _session("c1", "18:00", "08:00"),
        _session("c1", "08:00", "12:00"),
        _session("c1", "12:00", "18:00"),
        _session("c2", "07:00", "09:00"),
    ]
    pool = EvChargerPool.model_validate(_pool(sessions=sessions))
    assert len(pool.sessions) == 4


def test_ev_charger_pool_rejects_duplicate_chargers():
    """Charger ids in a pool must be unique."""
    chargers = [{"charger_id": "c1", "max_kw": 60}, {"charger_id": "c1", "max_kw": 60}]
    with pytest.raises(ValidationError) as exc_info:
        EvChargerPool.model_validate(_pool(chargers=chargers, sessions=[]))
    assert _errors(exc_info.value) == [
        ("", "Value error, chargers: charger_id values must be unique")
    ]


def test_charger_rejects_min_above_max():
    """A charger's min_kw may not exceed its max_kw."""
    with pytest.raises(ValidationError) as exc_info:
        Charger(charger_id="c1", max_kw=7, min_kw=11)
    assert _errors(exc_info.value) == [("", "Value error, min_kw: 11.0 exceeds max_kw (7.0)")]


def test_charger_accepts_min_equal_max():
    """An on/off charger (min_kw == max_kw) is allowed."""
    assert Charger(charger_id="c1", max_kw=7, min_kw=7).min_kw == 7.0


@pytest.mark.parametrize(
    ("arrival", "departure", "minutes"),
    [
        (time(10, 30), time(14, 0), 210),
        (time(18, 0), time(8, 0), 840),
        (time(23, 45), time(0, 15), 30),
        (time(9, 0), time(9, 0), 1440),
    ],
    ids=["daytime", "overnight", "across-midnight", "whole-day"],
)
def test_ev_session_connected_min(arrival, departure, minutes):
    """A departure at or before arrival is the next day."""
    session = EvSession(charger_id="c1", arrival=arrival, departure=departure, energy_kwh=1)
    assert session.connected_min == minutes


# --- HVAC ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("low", "high"), [(26.0, 26.0), (27.0, 26.0)])
def test_hvac_load_rejects_comfort_min_not_below_max(low, high):
    """comfort_min_c must be below comfort_max_c."""
    with pytest.raises(ValidationError) as exc_info:
        HvacLoad.model_validate(_hvac(comfort_min_c=low, comfort_max_c=high, setpoint_c=26))
    assert _errors(exc_info.value) == [
        ("", f"Value error, comfort_min_c: {low} must be below comfort_max_c ({high})")
    ]


@pytest.mark.parametrize("setpoint", [21.5, 26.5])
def test_hvac_load_rejects_setpoint_outside_band(setpoint):
    """The setpoint must lie in the comfort band."""
    with pytest.raises(ValidationError) as exc_info:
        HvacLoad.model_validate(_hvac(setpoint_c=setpoint))
    assert _errors(exc_info.value) == [
        ("", f"Value error, setpoint_c: {setpoint} must lie in the comfort band 22.0..26.0")
    ]


# --- PV ------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [301.0, -1.0])
def test_pv_rejects_generation_outside_capacity(bad):
    """Generation above capacity (or negative) is rejected, naming generation_kw."""
    generation = [0.0] * 23 + [bad]
    with pytest.raises(ValidationError) as exc_info:
        Pv.model_validate(_pv(generation_kw=generation))
    assert _errors(exc_info.value) == [
        ("", "Value error, generation_kw: must lie within 0..capacity_kw (300.0)")
    ]


# --- resource ids --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "resource_id", ["BESS", "my bess", "b" * 65, "-bess", "bess.1", ""], ids=repr
)
def test_resource_id_must_be_slug(resource_id):
    """Ids become MQTT topic parts: lower-case letters, digits, '-' and '_', at most 64."""
    with pytest.raises(ValidationError) as exc_info:
        Battery.model_validate(_battery(resource_id=resource_id))
    errors = exc_info.value.errors(include_url=False)
    assert [(e["loc"], e["type"]) for e in errors] == [
        (("resource_id",), "string_pattern_mismatch")
    ]


@pytest.mark.parametrize("resource_id", ["b" * 64, "bess_2", "0-pv"])
def test_resource_id_accepts_slugs(resource_id):
    """Longest allowed and mixed slugs are accepted."""
    assert Battery.model_validate(_battery(resource_id=resource_id)).resource_id == resource_id


def test_resources_are_frozen():
    """Resources are immutable once validated."""
    battery = Battery.model_validate(_battery())
    with pytest.raises(ValidationError) as exc_info:
        battery.soc_min = 0.2  # type: ignore[misc]
    assert exc_info.value.errors()[0]["type"] == "frozen_instance"
