"""Tests for vpp.hil_sim.scenario: the shipped scenario files load and name their events."""

from __future__ import annotations

from pathlib import Path

import pytest

from vpp.hil_sim.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "configs" / "scenarios"


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_scenario_loads_with_events_on_its_day(path: Path) -> None:
    scenario = load_scenario(path)
    district = scenario.load_district()
    events = [spec.to_event(district, scenario.day) for spec in scenario.events]
    assert events
    assert all(e.start.astimezone(district.tz).date() == scenario.day for e in events)


def test_season_scenario_asks_two_percent_of_the_district_peak() -> None:
    """docs/rotation.md's season: one day-ahead event at 3,600 kW, room to choose whom."""
    scenario = load_scenario(SCENARIOS / "demo_season.yaml")
    district = scenario.load_district()
    (event,) = [spec.to_event(district, scenario.day) for spec in scenario.events]
    assert event.target_kw_for(district.peak_load_kw) == pytest.approx(3600.0)
