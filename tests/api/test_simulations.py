"""Engineers run a scenario in the background, poll it and download its report."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from api_helpers import DATA, Api


async def until_done(api: Api, simulation_id: str, timeout_s: float = 60.0) -> dict[str, Any]:
    seen = []
    for _ in range(int(timeout_s / 0.1)):
        response = await api.client.get(
            f"/v1/simulations/{simulation_id}", headers=api.auth("engineer")
        )
        view = response.json()
        seen.append(view["progress"])
        if view["status"] != "running":
            view["seen_progress"] = seen
            return view
        await asyncio.sleep(0.1)
    raise AssertionError(f"simulation {simulation_id} still running after {timeout_s} s")


@pytest.mark.slow
async def test_simulation_runs_in_background_and_serves_its_report(api: Api) -> None:
    started = await api.client.post(
        "/v1/simulations", json={"scenario": "tiny_scenario"}, headers=api.auth("engineer")
    )
    assert started.status_code == 202
    assert started.json()["status"] == "running"
    simulation_id = started.json()["simulation_id"]
    # the service answers while the simulation runs
    assert (await api.client.get("/v1/clock", headers=api.auth("engineer"))).status_code == 200
    view = await until_done(api, simulation_id)
    assert view["status"] == "succeeded", view["error"]
    assert view["progress"] == 1.0
    assert view["seen_progress"] == sorted(view["seen_progress"])
    assert view["summary"]["events"][0]["event_id"] == "noon-peak"
    assert view["summary"]["events"][0]["met"] is True
    assert {"report.json", "event_delivery.png", "settlement.csv"} <= set(view["files"])

    report = await api.client.get(
        f"/v1/simulations/{simulation_id}/report", headers=api.auth("engineer")
    )
    on_disk = json.loads(
        (api.service.simulations.out_dir(simulation_id) / "report.json").read_text()
    )
    assert report.json() == on_disk
    plot = await api.client.get(
        f"/v1/simulations/{simulation_id}/files/event_delivery.png", headers=api.auth("engineer")
    )
    assert plot.headers["content-type"] == "image/png"
    assert plot.content.startswith(b"\x89PNG")
    missing = await api.client.get(
        f"/v1/simulations/{simulation_id}/files/..%2Fvpp.db", headers=api.auth("engineer")
    )
    assert missing.status_code in (404, 422)


async def test_scenario_yaml_resolves_its_district_in_the_scenarios_folder(api: Api) -> None:
    text = (DATA / "tiny_scenario.yaml").read_text().replace("target_kw: 150", "target_kw: -1")
    response = await api.client.post(
        "/v1/simulations", json={"scenario_yaml": text}, headers=api.auth("engineer")
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"].startswith("events.0")
    listed = await api.client.get("/v1/simulations", headers=api.auth("engineer"))
    assert listed.json()["total"] == 0
