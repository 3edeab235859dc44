"""The shipped district files: they load, cover every sector and are sized as documented.

The deliverable estimate here is the hand rule of docs/demo-district.md, computed from the
loaded model independently of the generator (scripts/generate_districts.py) and of the
optimiser:

- a curtailable load counts its full step total if its typical load stays at or above that
  total through the peak hours, it is available for all of them and can hold them;
- a battery gives min(max discharge, (SoC_initial - SoC_min) x capacity x eta_d / window);
- an EV pool gives the charging it can move out of the window (uncontrolled charging in
  the window less what must stay there to deliver the energy by departure) / window;
- a chiller plant gives 30 % of its thermostat baseline; PV gives nothing.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from vpp.config import load_district
from vpp.domain import (
    Battery,
    CurtailableLoad,
    District,
    EvChargerPool,
    HvacLoad,
    Pv,
    Sector,
)

ROOT = Path(__file__).resolve().parents[1]
DISTRICTS = ROOT / "configs" / "districts"
HVAC_SHARE = 0.3


@functools.cache
def load(name: str) -> District:
    """Each file parsed once per test session (a few thousand lines of YAML)."""
    return load_district(DISTRICTS / name)


@pytest.fixture
def demo() -> District:
    return load("demo.yaml")


@pytest.fixture
def stressed() -> District:
    return load("stressed.yaml")


# --- the hand estimate -------------------------------------------------------------------


def _window(district: District) -> tuple[int, int]:
    return district.peak_hours.start_min, district.peak_hours.end_min


def _steps_in(profile: tuple[float, ...], window: tuple[int, int]) -> list[float]:
    step = 1440 // len(profile)
    return [v for i, v in enumerate(profile) if i * step < window[1] and (i + 1) * step > window[0]]


def _curtailable(load: CurtailableLoad, window: tuple[int, int]) -> float:
    total = load.max_curtailment_kw
    holds = min(_steps_in(load.typical_load_kw, window)) >= total
    available = any(w.start_min <= window[0] and w.end_min >= window[1] for w in load.availability)
    long_enough = load.max_duration_min >= window[1] - window[0]
    return total if holds and available and long_enough else 0.0


def _battery(battery: Battery, window: tuple[int, int]) -> float:
    hours = (window[1] - window[0]) / 60
    energy = (battery.soc_initial - battery.soc_min) * battery.capacity_kwh
    return min(battery.max_discharge_kw, energy * battery.discharge_efficiency / hours)


def _ev_minutes(pool: EvChargerPool) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Per session: uncontrolled power per minute of the day [kW], plugged-in mask, max kW."""
    max_kw = {c.charger_id: c.max_kw for c in pool.chargers}
    out = []
    for session in pool.sessions:
        p = max_kw[session.charger_id]
        start = session.arrival.hour * 60 + session.arrival.minute
        minutes = (start + np.arange(session.connected_min)) % 1440
        delivered = np.diff(
            np.minimum(np.arange(1, session.connected_min + 1) * p / 60, session.energy_kwh),
            prepend=0.0,
        )
        power = np.zeros(1440)
        np.add.at(power, minutes, delivered * 60)
        plugged = np.zeros(1440, dtype=bool)
        plugged[minutes] = True
        out.append((power, plugged, p))
    return out


def _ev(pool: EvChargerPool, window: tuple[int, int]) -> float:
    inside = np.zeros(1440, dtype=bool)
    inside[window[0] : window[1]] = True
    movable = 0.0
    for power, plugged, p in _ev_minutes(pool):
        energy = power.sum() / 60
        in_window = power[inside].sum() / 60
        room_outside = p * np.count_nonzero(plugged & ~inside) / 60
        movable += max(0.0, in_window - max(0.0, energy - room_outside))
    return movable / ((window[1] - window[0]) / 60)


def _hvac_baseline(hvac: HvacLoad) -> np.ndarray:
    outdoor = np.asarray(hvac.outdoor_temperature_c)
    need = (outdoor - hvac.setpoint_c) / (hvac.thermal_resistance_c_per_kw * hvac.cop)
    return np.clip(need, 0.0, hvac.rated_power_kw)


def _hvac(hvac: HvacLoad, window: tuple[int, int]) -> float:
    base = tuple(float(v) for v in _hvac_baseline(hvac))
    return HVAC_SHARE * float(np.mean(_steps_in(base, window)))


def hand_estimate(district: District) -> dict[str, float]:
    window = _window(district)
    totals = dict.fromkeys(
        ("curtailable_load", "battery", "ev_charger_pool", "hvac_load", "pv"), 0.0
    )
    for ref in district.resources():
        r = ref.resource
        if isinstance(r, CurtailableLoad):
            totals[r.kind] += _curtailable(r, window)
        elif isinstance(r, Battery):
            totals[r.kind] += _battery(r, window)
        elif isinstance(r, EvChargerPool):
            totals[r.kind] += _ev(r, window)
        elif isinstance(r, HvacLoad):
            totals[r.kind] += _hvac(r, window)
    return totals


def customer_load_hourly(district: District) -> dict[str, np.ndarray]:
    """Uncontrolled hourly load of the VPP customers on each feeder [kW]."""
    out = {f.feeder_id: np.zeros(24) for f in district.feeders}
    for ref in district.resources():
        r = ref.resource
        if isinstance(r, CurtailableLoad):
            load = np.asarray(r.typical_load_kw, dtype=float)
        elif isinstance(r, HvacLoad):
            load = _hvac_baseline(r)
        elif isinstance(r, EvChargerPool):
            minutes = sum((p for p, _, _ in _ev_minutes(r)), np.zeros(1440))
            load = minutes.reshape(24, 60).mean(axis=1)
        elif isinstance(r, Pv):
            load = -np.asarray(r.generation_kw, dtype=float)
        else:
            continue
        out[ref.enterprise.feeder_id] += load
    return out


# --- tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["demo.yaml", "stressed.yaml"])
def test_district_files_load(name):
    district = load(name)
    assert district.timezone == "Asia/Shanghai"
    assert str(district.peak_hours) == "11:00-13:00"
    assert district.response_target_pct == 5
    assert district.meter_history is not None
    assert district.meter_history.source == "synthetic"
    assert 3 <= len(district.feeders) <= 6
    assert district.rotation_counts


def test_demo_covers_every_sector_with_enough_enterprises(demo):
    sectors = {e.sector for e in demo.enterprises}
    assert sectors == set(Sector)
    assert len(demo.enterprises) >= 30
    kinds = {ref.resource.kind for ref in demo.resources()}
    assert kinds == {"curtailable_load", "battery", "ev_charger_pool", "hvac_load", "pv"}


@pytest.mark.parametrize("name", ["demo.yaml", "stressed.yaml"])
def test_site_ids_are_unique_across_the_district(name):
    district = load(name)
    site_ids = [s.site_id for e in district.enterprises for s in e.sites]
    assert len(site_ids) == len(set(site_ids))
    keys = [ref.key for ref in district.resources()]
    assert len(keys) == len(set(keys))


def test_demo_can_deliver_the_target_with_margin(demo):
    totals = hand_estimate(demo)
    ratio = sum(totals.values()) / demo.target_kw
    assert ratio >= 1.2, totals
    assert ratio <= 1.6, totals  # margin, not an oversized portfolio
    # No single kind carries the district.
    assert max(totals.values()) < 0.5 * sum(totals.values()), totals


def test_stressed_cannot_deliver_the_target(stressed):
    totals = hand_estimate(stressed)
    ratio = sum(totals.values()) / stressed.target_kw
    assert ratio <= 0.9, totals
    assert ratio >= 0.5, totals  # short, but not hopeless


def test_demo_sizes_follow_the_domain_notes(demo):
    for ref in demo.resources():
        r = ref.resource
        if isinstance(r, CurtailableLoad) and ref.enterprise.sector is Sector.INDUSTRIAL:
            peak = max(r.typical_load_kw)
            assert 300 <= peak <= 6000, ref.key
            assert 1 <= len(r.steps) <= 3, ref.key
            assert 0.05 <= r.max_curtailment_kw / peak <= 0.2 + 1e-9, ref.key
            assert all(0.8 <= s.price_cny_per_kwh <= 3.0 for s in r.steps), ref.key
            assert 15 <= r.min_notice_min <= 1440, ref.key
            assert 0.2 <= r.rebound_fraction <= 0.6, ref.key
        elif isinstance(r, Battery):
            assert 2 * r.max_discharge_kw == pytest.approx(r.capacity_kwh), ref.key
            assert (r.soc_min, r.soc_max) == (0.1, 0.9), ref.key
            assert r.soc_final_min <= r.soc_initial, ref.key
        elif isinstance(r, HvacLoad):
            tau_h = r.thermal_resistance_c_per_kw * r.thermal_capacitance_kwh_per_c
            assert 2 - 0.05 <= tau_h <= 6 + 0.05, ref.key
            assert 100 <= r.rated_power_kw <= 1000, ref.key
            assert 26 <= min(r.outdoor_temperature_c) <= 28
            assert 35 <= max(r.outdoor_temperature_c) <= 37
            assert np.argmax(r.outdoor_temperature_c) in (14, 15, 16)
            assert _hvac_baseline(r).max() <= r.rated_power_kw
        elif isinstance(r, EvChargerPool):
            if ref.enterprise.sector is Sector.PUBLIC_CHARGING:
                assert 10 <= len(r.chargers) <= 40
                assert all(60 <= c.max_kw <= 120 for c in r.chargers)
                window = _window(demo)
                across = [
                    s
                    for s in r.sessions
                    if (s.arrival.hour * 60 + s.arrival.minute) < window[1]
                    and (s.arrival.hour * 60 + s.arrival.minute + s.connected_min) > window[0]
                ]
                assert len(across) >= 3, ref.key
            else:
                assert all(c.max_kw == 7 for c in r.chargers)
                evening = [s for s in r.sessions if s.arrival.hour >= 17]
                assert len(evening) > 0.7 * len(r.sessions), ref.key


@pytest.mark.parametrize("name", ["demo.yaml", "stressed.yaml"])
def test_feeders_and_stated_peak_are_consistent(name):
    district = load(name)
    customers = customer_load_hourly(district)
    total = np.zeros(24)
    rebound_bites = False
    for feeder in district.feeders:
        feeder_kw = customers[feeder.feeder_id] + np.asarray(feeder.background_load_kw)
        total += feeder_kw
        # The uncontrolled day fits, with modest headroom (at most 20 %).
        assert feeder_kw.max() <= feeder.capacity_kw, feeder.feeder_id
        assert feeder.capacity_kw <= 1.2 * feeder_kw.max(), feeder.feeder_id
        # After the peak hours, is there less room than the feeder's loads would rebound?
        rebound = sum(
            _curtailable(ref.resource, _window(district))
            * ref.resource.rebound_fraction
            * (district.peak_hours.end_min - district.peak_hours.start_min)
            / ref.resource.rebound_duration_min
            for ref in district.resources()
            if isinstance(ref.resource, CurtailableLoad)
            and ref.enterprise.feeder_id == feeder.feeder_id
        )
        if feeder.capacity_kw - feeder_kw[13:16].max() < rebound:
            rebound_bites = True
    assert rebound_bites, "no feeder where rebound after the peak hours hits the capacity"
    # The stated peak is the district's load at its peak hours (within rounding).
    assert total.max() == pytest.approx(district.peak_load_kw, rel=0.01)
    assert int(np.argmax(total)) in (11, 12)


def _generator() -> ModuleType:
    path = ROOT / "scripts" / "generate_districts.py"
    spec = importlib.util.spec_from_file_location("generate_districts", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


#: numpy release (major.minor) the committed district files were generated with; a
#: feature release may change random streams (NEP 19), which is no sign of a stale file.
GENERATED_WITH_NUMPY = "2.4"


def test_committed_files_are_what_the_generator_writes():
    """The committed YAML is exactly what scripts/generate_districts.py writes."""
    generator = _generator()
    for spec in generator.SPECS:
        text, totals, _ = generator.render(spec)
        committed = (DISTRICTS / spec.file).read_text(encoding="utf-8")
        if text != committed and not np.__version__.startswith(GENERATED_WITH_NUMPY + "."):
            pytest.skip(f"files made with numpy {GENERATED_WITH_NUMPY}, running {np.__version__}")
        assert text == committed, f"{spec.file} is stale: run scripts/generate_districts.py"
        # The generator's own estimate agrees with the one above.
        district = load(spec.file)
        mine = hand_estimate(district)
        for kind, value in totals.items():
            assert math.isclose(value, mine[kind], rel_tol=1e-6, abs_tol=1e-6), kind
