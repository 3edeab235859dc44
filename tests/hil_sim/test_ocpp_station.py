"""A scenario with one site behind OCPP 1.6J charge points (the ``ocpp`` library as the
client) in front of the same EV physics: the event is met through SetChargingProfile."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import pytest

from vpp.hil_sim.ocpp_station import StationProfile
from vpp.hil_sim.runner import simulate
from vpp.hil_sim.scenario import load_scenario

from builders import at

DATA = Path(__file__).parent.parent / "data"


@pytest.mark.slow
async def test_an_event_with_the_ev_pool_on_ocpp_is_met_through_charging_profiles() -> None:
    scenario = load_scenario(DATA / "tiny_scenario.yaml")
    result = await simulate(scenario.model_copy(update={"protocols": {"mall": "ocpp"}}))
    (outcome,) = result.outcomes
    assert outcome.met, [i.delivered_kw for i in outcome.intervals]
    assert result.ocpp is not None
    adapter = result.ocpp.adapter
    assert adapter.ocpp_stats.calls_out["SetChargingProfile"] >= 1
    assert adapter.ocpp_stats.call_failures == {}
    assert adapter.stats.malformed == {}
    assert adapter.awaiting_ack() == []
    assert result.faults_seen == []
    (station,) = result.ocpp.stations.values()
    assert set(station.stats.profiles) == {"Accepted"}
    assert station.stats.calls["StartTransaction"] == station.stats.calls["StopTransaction"] == 2
    trace = station.trace
    held = [  # steps under a limit that was already in force the step before
        (power, limit)
        for power, limit, before in zip(
            trace.power_kw[1:], trace.command_kw[1:], trace.command_kw[:-1], strict=True
        )
        if not math.isnan(limit) and limit == before
    ]
    assert held, "the pool was never limited"
    assert all(power <= limit + 1e-6 for power, limit in held)
    summary = result.ocpp.summary()
    assert summary["calls_from_charge_points"]["MeterValues"] == 2 * 1440  # 2 connectors
    assert summary["round_trip_ms"]["setpoint_to_ack"]["n"] >= 1
    # the other resource of the site stays with its MQTT gateway
    assert result.gateways["mall"].stats.telemetry_sent > 0


def test_a_station_profile_lapses_at_valid_to_by_itself() -> None:
    start = at(11)
    profile = StationProfile(
        purpose="TxProfile",
        transaction_id=1,
        valid_from=start,
        valid_to=start + timedelta(minutes=15),
        start=start,
        duration_s=3600.0,
        periods=((0.0, 10.0), (600.0, 5.0)),
    )
    assert profile.limit_kw(start - timedelta(seconds=1)) is None
    assert profile.limit_kw(start) == 10.0
    assert profile.limit_kw(start + timedelta(minutes=12)) == 5.0
    assert profile.limit_kw(start + timedelta(minutes=15)) is None
