"""Tests for vpp.domain.plausibility: each kind's envelope, the tolerance and the clock rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vpp.domain import (
    Battery,
    CurtailableLoad,
    EvChargerPool,
    GatewayState,
    GatewayStatus,
    HvacLoad,
    PlausibilitySettings,
    Pv,
    Refusal,
    Resource,
    Telemetry,
    envelope_kw,
    plausible_range_kw,
    status_refusal,
    telemetry_refusal,
)

NOW = datetime(2026, 7, 15, 3, 0, tzinfo=UTC)
DEFAULTS = PlausibilitySettings()
STALE_S = 180.0

BATTERY = Battery(resource_id="bess", capacity_kwh=1000, max_charge_kw=400, max_discharge_kw=500)
MILL = CurtailableLoad.model_validate(
    {
        "resource_id": "mill",
        "typical_load_kw": [800.0] * 23 + [1000.0],
        "steps": [{"power_kw": 200, "price_cny_per_kwh": 1.0}],
        "max_duration_min": 120,
        "rebound_fraction": 0.5,
        "rebound_duration_min": 60,
    }
)
CHARGERS = EvChargerPool.model_validate(
    {
        "resource_id": "ev",
        "chargers": [{"charger_id": "c1", "max_kw": 60}, {"charger_id": "c2", "max_kw": 120}],
    }
)
HVAC = HvacLoad(
    resource_id="hvac",
    rated_power_kw=300,
    thermal_resistance_c_per_kw=0.05,
    thermal_capacitance_kwh_per_c=200,
    outdoor_temperature_c=(30.0,) * 24,
)
PV = Pv(resource_id="pv", capacity_kw=250, generation_kw=(0.0,) * 12 + (200.0,) * 12)
ALL: tuple[Resource, ...] = (BATTERY, MILL, CHARGERS, HVAC, PV)


def reading(power_kw: float, *, ts: datetime = NOW, soc: float | None = None) -> Telemetry:
    return Telemetry(ts=ts, power_kw=power_kw, soc=soc)


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        (BATTERY, (-500.0, 400.0)),
        # 1.3 x 1000 kW typical peak, plus 0.5 x 200 kW shed for 2 h paid back in 1 h
        (MILL, (0.0, 1500.0)),
        (CHARGERS, (0.0, 180.0)),
        (HVAC, (0.0, 300.0)),
        (PV, (-250.0, 0.0)),
    ],
    ids=["battery", "curtailable", "ev_pool", "hvac", "pv"],
)
def test_envelope_kw_follows_the_registered_limits(
    resource: Resource, expected: tuple[float, float]
) -> None:
    assert envelope_kw(resource) == pytest.approx(expected)


def test_plausible_range_kw_widens_each_side_by_tolerance_share_plus_kw() -> None:
    """Defaults: 10% of each side plus 5 kW, so a 500/400 kW battery reads -555..445 kW."""
    assert plausible_range_kw(BATTERY, DEFAULTS) == pytest.approx((-555.0, 445.0))
    assert plausible_range_kw(PV, DEFAULTS) == pytest.approx((-280.0, 5.0))
    tight = PlausibilitySettings(tolerance_pct=0, tolerance_kw=0)
    assert plausible_range_kw(BATTERY, tight) == pytest.approx((-500.0, 400.0))


def test_telemetry_refusal_accepts_a_reading_at_the_widened_limit() -> None:
    assert telemetry_refusal(reading(-555.0), BATTERY, NOW, DEFAULTS, STALE_S) is None
    assert telemetry_refusal(reading(445.0), BATTERY, NOW, DEFAULTS, STALE_S) is None


@pytest.mark.parametrize("power_kw", [-99999999.0, -555.1, 445.1, 1e12], ids=str)
def test_telemetry_refusal_refuses_power_outside_the_envelope(power_kw: float) -> None:
    refusal = telemetry_refusal(reading(power_kw), BATTERY, NOW, DEFAULTS, STALE_S)
    assert refusal is Refusal.POWER_OUTSIDE_ENVELOPE


def test_telemetry_refusal_refuses_negative_consumption_of_a_load() -> None:
    assert telemetry_refusal(reading(-6.0), HVAC, NOW, DEFAULTS, STALE_S) is not None
    assert telemetry_refusal(reading(-4.0), HVAC, NOW, DEFAULTS, STALE_S) is None


def test_telemetry_refusal_refuses_a_reading_stamped_beyond_the_skew() -> None:
    ahead = NOW + timedelta(seconds=30.001)
    far = datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC)
    for ts in (ahead, far):
        refusal = telemetry_refusal(reading(0.0, ts=ts), BATTERY, NOW, DEFAULTS, STALE_S)
        assert refusal is Refusal.AHEAD_OF_CLOCK
    at_skew = reading(0.0, ts=NOW + timedelta(seconds=30))
    assert telemetry_refusal(at_skew, BATTERY, NOW, DEFAULTS, STALE_S) is None


def test_telemetry_refusal_refuses_a_reading_older_than_the_staleness_window() -> None:
    old = reading(0.0, ts=NOW - timedelta(seconds=STALE_S + 1))
    assert telemetry_refusal(old, BATTERY, NOW, DEFAULTS, STALE_S) is Refusal.STALE
    edge = reading(0.0, ts=NOW - timedelta(seconds=STALE_S))
    assert telemetry_refusal(edge, BATTERY, NOW, DEFAULTS, STALE_S) is None


def test_telemetry_refusal_refuses_soc_outside_zero_to_one() -> None:
    """The contract's parser refuses such a payload already; the rule holds on its own for
    readings built without validation (another adapter)."""
    bad = Telemetry.model_construct(ts=NOW, power_kw=0.0, soc=1.5, available=True)
    assert telemetry_refusal(bad, BATTERY, NOW, DEFAULTS, STALE_S) is Refusal.SOC_OUTSIDE_RANGE


@pytest.mark.parametrize("indoor_c", [2999.0, -273.0, 80.01, -1e8])
def test_telemetry_refusal_refuses_an_indoor_temperature_no_building_has(indoor_c: float) -> None:
    """A well-formed lie about a building's temperature would move its planned recovery."""
    bad = Telemetry(ts=NOW, power_kw=100.0, indoor_temperature_c=indoor_c)
    assert telemetry_refusal(bad, HVAC, NOW, DEFAULTS, STALE_S) is Refusal.TEMPERATURE_OUTSIDE_RANGE


@pytest.mark.parametrize("indoor_c", [-50.0, 24.5, 35.0, 80.0])
def test_telemetry_refusal_accepts_an_indoor_temperature_a_building_can_have(
    indoor_c: float,
) -> None:
    good = Telemetry(ts=NOW, power_kw=100.0, indoor_temperature_c=indoor_c)
    assert telemetry_refusal(good, HVAC, NOW, DEFAULTS, STALE_S) is None


@pytest.mark.parametrize("owed_kwh", [-1.0, -1e8, 1e8])
def test_telemetry_refusal_refuses_energy_owed_no_pool_of_these_chargers_can_owe(
    owed_kwh: float,
) -> None:
    """A well-formed lie about what a pool's vehicles still need would move its catch-up
    after an event: below 0, or beyond a day of every charger at full power."""
    bad = Telemetry(ts=NOW, power_kw=10.0, energy_owed_kwh=owed_kwh)
    refusal = telemetry_refusal(bad, CHARGERS, NOW, DEFAULTS, STALE_S)
    assert refusal is Refusal.ENERGY_OWED_OUTSIDE_RANGE


def test_telemetry_refusal_accepts_energy_owed_up_to_a_day_of_the_chargers() -> None:
    day_kwh = CHARGERS.max_kw * 24.0
    for owed_kwh in (0.0, 55.5, day_kwh, day_kwh * 1.1):  # widened by tolerance_pct
        good = Telemetry(ts=NOW, power_kw=10.0, energy_owed_kwh=owed_kwh)
        assert telemetry_refusal(good, CHARGERS, NOW, DEFAULTS, STALE_S) is None
    beyond = Telemetry(ts=NOW, power_kw=10.0, energy_owed_kwh=day_kwh * 1.11)
    assert telemetry_refusal(beyond, CHARGERS, NOW, DEFAULTS, STALE_S) is not None


def test_telemetry_refusal_refuses_energy_owed_from_a_kind_that_owes_none() -> None:
    """Only an EV pool owes its users energy: a battery saying so is not believed (0 is)."""
    assert (
        telemetry_refusal(
            Telemetry(ts=NOW, power_kw=0.0, energy_owed_kwh=0.0), BATTERY, NOW, DEFAULTS, STALE_S
        )
        is None
    )
    owes = Telemetry(ts=NOW, power_kw=0.0, energy_owed_kwh=40.0)
    refusal = telemetry_refusal(owes, BATTERY, NOW, DEFAULTS, STALE_S)
    assert refusal is Refusal.ENERGY_OWED_OUTSIDE_RANGE


def test_status_refusal_refuses_only_a_status_ahead_of_the_clock() -> None:
    """A last will carries the time its gateway connected, so an old status can be true."""
    future = GatewayStatus(state=GatewayState.OFFLINE, ts=datetime(2999, 12, 31, tzinfo=UTC))
    old = GatewayStatus(state=GatewayState.OFFLINE, ts=NOW - timedelta(days=30))
    assert status_refusal(future, NOW, DEFAULTS) is Refusal.STATUS_AHEAD_OF_CLOCK
    assert status_refusal(old, NOW, DEFAULTS) is None


@given(
    resource=st.sampled_from(ALL),
    share=st.floats(min_value=0.0, max_value=1.0),
    age_s=st.floats(min_value=-30.0, max_value=STALE_S),
    soc=st.none() | st.floats(min_value=0.0, max_value=1.0),
)
def test_telemetry_refusal_accepts_every_timely_reading_inside_the_envelope(
    resource: Resource, share: float, age_s: float, soc: float | None
) -> None:
    """Invariant: a reading inside the registered envelope, stamped within the skew and the
    staleness window, with SoC in 0..1, always passes."""
    low, high = envelope_kw(resource)
    sample = reading(low + share * (high - low), ts=NOW - timedelta(seconds=age_s), soc=soc)
    assert telemetry_refusal(sample, resource, NOW, DEFAULTS, STALE_S) is None


@given(
    resource=st.sampled_from(ALL),
    beyond_kw=st.floats(min_value=1e-3, max_value=1e9),
    below=st.booleans(),
)
def test_telemetry_refusal_refuses_every_reading_beyond_the_widened_envelope(
    resource: Resource, beyond_kw: float, below: bool
) -> None:
    low, high = plausible_range_kw(resource, DEFAULTS)
    power_kw = low - beyond_kw if below else high + beyond_kw
    refusal = telemetry_refusal(reading(power_kw), resource, NOW, DEFAULTS, STALE_S)
    assert refusal is Refusal.POWER_OUTSIDE_ENVELOPE
