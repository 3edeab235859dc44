"""A mixed day: one site's EV pool on OCPP charge points, another's battery and PV on a
SunSpec Modbus server, every other resource on MQTT gateways, all in one run. The event is
met with setpoints over all three protocols, the report counts each protocol's messages
and times its round trips, and the day is the same on every run."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from mosquitto_broker import MosquittoBroker
from vpp.hil_sim.report import report_dict, write_report
from vpp.hil_sim.runner import SimulationResult, simulate
from vpp.hil_sim.scenario import Scenario, load_scenario

DATA = Path(__file__).parent.parent / "data"

#: Enough of the tiny district's ~1,000 kW that the plan needs a resource on each protocol.
TARGET_KW = 800.0

#: Report blocks that measure the machine, not the simulated day.
WALL_CLOCK_FIELDS = ("wall_s", "speedup", "round_trip_ms")


def _mixed() -> Scenario:
    scenario = load_scenario(DATA / "tiny_scenario.yaml")
    (event,) = scenario.events
    return scenario.model_copy(
        update={
            "events": (event.model_copy(update={"target_kw": TARGET_KW}),),
            "protocols": {"mall": "ocpp", "steel-main": "modbus"},
        }
    )


def _compared(result: SimulationResult) -> dict[str, Any]:
    report = report_dict(result)
    for name in WALL_CLOCK_FIELDS:
        report.pop(name)
    return report


@pytest.mark.slow
@pytest.mark.broker
async def test_a_mixed_day_over_mosquitto_meets_its_target_on_all_three_protocols(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    result = await simulate(_mixed(), mqtt_url=mosquitto.url)
    (outcome,) = result.outcomes
    assert outcome.met, [(i.target_kw, i.delivered_kw) for i in outcome.intervals]
    assert result.settle_timeouts == 0
    assert result.faults_seen == []

    write_report(result, tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    counts = report["messages"]["by_protocol"]
    assert set(counts) == {"mqtt", "ocpp", "modbus"}
    for name, entry in counts.items():
        assert entry["setpoints"] >= 1, name
        assert entry["acks"] == entry["setpoints"], name  # every setpoint answered once
        assert entry["malformed"] == {}, name
    assert counts["mqtt"]["telemetry"] == counts["mqtt"]["gateways"]["telemetry_sent"]
    assert counts["ocpp"]["calls_to_charge_points"]["SetChargingProfile"] >= 1
    assert counts["ocpp"]["telemetry"] == counts["ocpp"]["calls_from_charge_points"]["MeterValues"]
    modbus = counts["modbus"]
    assert modbus["resources"] == 2  # the battery and the PV; the mill stays on MQTT
    assert modbus["polls"] == modbus["telemetry"] >= 2 * 1440  # each device, every tick
    assert modbus["writes"] >= modbus["setpoints"]
    assert modbus["devices"]["writes_taken"] == modbus["writes"]
    assert modbus["devices"]["writes_refused"] == 0
    trips = report["round_trip_ms"]["setpoint_to_ack"]
    for name in ("mqtt", "ocpp", "modbus"):
        assert trips[name]["n"] == counts[name]["acks"], name
        assert 0 < trips[name]["p50"] <= trips[name]["p95"] <= trips[name]["max"], name

    # the battery's physics, behind the Modbus server, is what the report measured
    trace = result.trace("steel-main", "bess")
    assert len(trace.ts) == 1440
    commanded = [
        p for p, c in zip(trace.power_kw, trace.command_kw, strict=True) if not math.isnan(c)
    ]
    assert commanded, "the battery was never commanded"
    assert min(commanded) < -100.0, "the battery never discharged on command"
    assert math.isnan(trace.command_kw[-1])  # released (or lapsed) by the end of the day
    settled = {
        e["enterprise_id"]: e["delivered_kwh"]
        for e in report["events"][0]["settlement"]["enterprises"]
    }
    assert settled["steel"] > 0.0


@pytest.mark.slow
async def test_a_mixed_day_gives_the_same_report_twice() -> None:
    """Modbus polls and writes, OCPP exchanges and MQTT messages all land at the simulated
    time they were due, so nothing but the wall-clock blocks differs between runs."""
    first = _compared(await simulate(_mixed()))
    second = _compared(await simulate(_mixed()))
    assert first == second


async def test_a_site_put_on_modbus_without_a_battery_or_pv_is_refused_before_the_run() -> None:
    scenario = load_scenario(DATA / "tiny_scenario.yaml")
    with pytest.raises(ValueError, match="protocols: site mall has no battery or PV"):
        await simulate(scenario.model_copy(update={"protocols": {"mall": "modbus"}}))


@pytest.mark.slow
async def test_a_modbus_site_that_goes_offline_is_dropped_and_polled_again_when_back() -> None:
    """The scripted ``offline`` fault takes the site's Modbus server away for 10 min: the
    adapter reports the site offline, the controller drops the battery, and once the server
    listens again on its port the adapter reconnects and polls resume."""
    scenario = _mixed()
    faults = scenario.faults.model_validate(
        {"offline": {"share": 1.0, "at": "11:10", "duration_min": 10}}
    )
    result = await simulate(scenario.model_copy(update={"faults": faults}))
    assert result.modbus is not None
    assert result.modbus.summary()["server_restarts"] == 1
    assert result.router is not None
    modbus = result.router.adapters["modbus"]
    assert modbus.stats.reconnects == 1
    dropped = {(f.key, f.reason) for f in result.faults_seen}
    assert ("steel-main/bess", "gateway offline") in dropped
    polls = report_dict(result)["messages"]["by_protocol"]["modbus"]["polls"]
    # both devices at the start and every tick but the outage's ten: the retries, 2 s
    # doubling on simulated time, fall at 11:11, ..., 11:15, 11:17 and 11:20, when it is back
    assert polls == 2 * (1 + 1440 - 10)
    assert len(result.trace("steel-main", "bess").ts) == 1440  # the device ran on regardless
