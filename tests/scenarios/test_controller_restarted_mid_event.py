"""The controller is killed mid-event and a new one resumes it (as `vpp serve` does after a
restart): the resumed plan starts from the batteries' measured state of charge, not the
registered one, and every interval after the restart meets the target."""

from __future__ import annotations

from datetime import timedelta

import pytest

from scenarios.harness import Scene, short_event
from vpp.controller import EventState, event_outcome
from vpp.controller.planning import remaining_event
from vpp.domain import Battery

from builders import battery, curtailable, district, enterprise

#: Two 300 kWh batteries registered full (soc 0.9), a cheap and a dear one, and a dear mill.
#: A 90-min event of 300 kW drains the cheap battery first; after 40 min it holds far less
#: than its registration says.
TWO_BATTERIES = district(
    enterprise(
        "steel",
        [
            battery(
                "bess-a",
                capacity_kwh=300.0,
                max_charge_kw=200.0,
                max_discharge_kw=200.0,
                price_cny_per_kwh=0.3,
            ),
            battery(
                "bess-b",
                capacity_kwh=300.0,
                max_charge_kw=200.0,
                max_discharge_kw=200.0,
                price_cny_per_kwh=0.6,
            ),
            curtailable("mill", [(200.0, 3.0), (200.0, 4.0)]),
        ],
    ),
    meter_history={"source": "synthetic", "seed": 7, "days": 30, "noise_pct": 2},
)


#: The interval the restart fell in is judged only over the resumed plan's participants
#: (a load the old plan had shed is not one of them), so only the ones after it are checked.
RESTART_INTERVAL = timedelta(minutes=15)


@pytest.mark.parametrize("over", ["memory", pytest.param("mqtt", marks=pytest.mark.broker)])
async def test_restarted_controller_plans_batteries_from_their_measured_soc(
    over: str, request: pytest.FixtureRequest
) -> None:
    """Killed at 11:37 and back at 11:40 with an empty monitor: the resumed plan waits for
    the batteries' first readings, plans from them and meets every later interval. (Planned
    from the registered soc 0.9, the cheap battery ran dry in the last one: 254 of 300 kW.)"""
    mqtt_url = None
    if over == "mqtt":
        mqtt_url = request.getfixturevalue("mosquitto").url
    event = short_event(target_kw=300.0, minutes=90)
    async with Scene(mqtt_url=mqtt_url, district=TWO_BATTERIES) as scene:
        scene.submit(event)
        await scene.run_until(event.start + timedelta(minutes=37))
        await scene.kill_controller()
        await scene.run_until(event.start + timedelta(minutes=40))
        await scene.restart_controller()
        resumed = remaining_event(event, scene.now, RESTART_INTERVAL)
        assert resumed is not None
        run = scene.submit(resumed)
        await scene.run_until(event.end + timedelta(minutes=15))
        await scene.controller.wait(event.event_id)
        outcome = event_outcome(run, scene.controller.monitor, scene.district, "default")

    assert run.lifecycle.state is EventState.COMPLETED
    after = [i for i in outcome.intervals if i.start >= resumed.start + RESTART_INTERVAL]
    assert len(after) == 3
    for interval in after:
        assert interval.met, interval
    assert run.problem is not None
    planned = {
        ref.key: ref.resource.soc_initial
        for ref in run.problem.district.resources()
        if isinstance(ref.resource, Battery)
    }
    assert planned["steel-site/bess-a"] < 0.8, "the resumed plan took the registered soc"
    assert scene.settle_timeouts == 0
