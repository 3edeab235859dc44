"""POST/GET /v1/simulated-devices/{site_id}/faults: an engineer strikes a fault on a simulated
gateway of ``vpp serve --simulated-devices``; the gateway really plays it and the controller
finds out as it would from a real device."""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from api_helpers import EVENT, Api, open_api, settings_for

#: Simulated seconds per wall second at most (the clock is paced: it waits for the work).
TIME_SCALE = 600.0
#: Longest wait for something the service does on its own: a guard against a hang [s, wall].
GIVE_UP_S = 120.0

URL = "/v1/simulated-devices/acme-site/faults"


@pytest.fixture
async def sim_api(tmp_path: Path) -> AsyncIterator[Api]:
    """The service with simulated gateways on a paced, sped-up clock; acme registered."""
    settings = settings_for(tmp_path, time_scale=TIME_SCALE, simulated_devices=True)
    async with open_api(settings) as opened:
        assert (await opened.register("acme")).status_code == 201
        yield opened


async def until(what: str, check: Callable[[], Any]) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy: state, not
    seconds, decides."""
    deadline = asyncio.get_running_loop().time() + GIVE_UP_S
    while asyncio.get_running_loop().time() < deadline:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {GIVE_UP_S} s: {what}")


def fields(response: Any) -> list[str]:
    return [d["field"] for d in response.json()["error"]["details"]]


@pytest.mark.parametrize("who", ["operator", "acme", "other"])
async def test_operator_and_enterprise_tokens_may_not_strike_or_list_faults(
    sim_api: Api, who: str
) -> None:
    struck = await sim_api.client.post(
        URL, json={"kind": "offline", "duration_min": 5}, headers=sim_api.auth(who)
    )
    assert struck.status_code == 403
    assert struck.json()["error"]["code"] == "forbidden"
    assert (await sim_api.client.get(URL, headers=sim_api.auth(who))).status_code == 403
    assert sim_api.service.fabric is not None
    assert sim_api.service.fabric.active_faults("acme-site") == []


async def test_no_token_is_401(sim_api: Api) -> None:
    assert (await sim_api.client.get(URL)).status_code == 401


async def test_unknown_site_is_404(sim_api: Api) -> None:
    response = await sim_api.client.post(
        "/v1/simulated-devices/nowhere/faults",
        json={"kind": "offline", "duration_min": 5},
        headers=sim_api.auth("engineer"),
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    listed = await sim_api.client.get(
        "/v1/simulated-devices/nowhere/faults", headers=sim_api.auth("engineer")
    )
    assert listed.status_code == 404


async def test_service_without_simulated_devices_answers_409(api: Api) -> None:
    await api.register("acme")
    response = await api.client.post(
        URL, json={"kind": "offline", "duration_min": 5}, headers=api.auth("admin")
    )
    assert response.status_code == 409
    assert "--simulated-devices" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "meltdown", "duration_min": 5}, "kind"),
        ({"kind": "offline", "duration_min": 0}, "duration_min"),
        ({"kind": "offline", "duration_min": 100_000}, "duration_min"),
        ({"kind": "offline"}, "duration_min"),
        ({"kind": "offline", "duration_min": 5, "when": "now"}, "when"),
        ({"kind": "offline", "duration_min": 5, "resource_id": "furnace"}, "resource_id"),
        ({"kind": "telemetry_silent", "duration_min": 5}, "resource_id"),
        ({"kind": "stuck_meter", "duration_min": 5, "resource_id": "Nope!"}, "resource_id"),
        ({"kind": "ignore_commands", "duration_min": 5, "resource_id": "pump"}, "resource_id"),
    ],
)
async def test_bad_fault_is_422_with_the_field(sim_api: Api, body: Any, field: str) -> None:
    response = await sim_api.client.post(URL, json=body, headers=sim_api.auth("engineer"))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"
    assert field in fields(response)
    assert sim_api.service.fabric is not None
    assert sim_api.service.fabric.active_faults("acme-site") == []


async def test_struck_fault_starts_now_is_listed_and_played_then_ends(sim_api: Api) -> None:
    fabric = sim_api.service.fabric
    assert fabric is not None
    gateway = fabric.gateways["acme-site"]
    before = fabric.clock.now()
    struck = await sim_api.client.post(
        URL,
        json={"kind": "telemetry_silent", "resource_id": "furnace", "duration_min": 10},
        headers=sim_api.auth("engineer"),
    )
    assert struck.status_code == 201, struck.text
    fault = struck.json()
    start, end = datetime.fromisoformat(fault["start"]), datetime.fromisoformat(fault["end"])
    assert fault["kind"] == "telemetry_silent"
    assert fault["resource_id"] == "furnace"
    assert before <= start <= fabric.clock.now()
    assert end - start == timedelta(minutes=10)
    listed = await sim_api.client.get(URL, headers=sim_api.auth("admin"))
    assert listed.json() == [fault]

    # the furnace goes quiet while the battery keeps reporting, then the fault runs out
    await until("furnace silenced", lambda: gateway.stats.telemetry_suppressed > 0)
    await until("fault over", lambda: fabric.clock.now() > end)
    assert (await sim_api.client.get(URL, headers=sim_api.auth("engineer"))).json() == []
    quiet = gateway.stats.telemetry_suppressed
    sent = gateway.stats.telemetry_sent
    await until("furnace reports again", lambda: gateway.stats.telemetry_sent > sent + 2)
    assert gateway.stats.telemetry_suppressed == quiet


async def test_offline_gateway_goes_silent_is_dropped_and_comes_back(sim_api: Api) -> None:
    """The gateway vanishes (the broker publishes its will), its telemetry stops, and the
    controller drops the site's resources from the running event after the offline grace."""
    fabric = sim_api.service.fabric
    assert fabric is not None
    gateway = fabric.gateways["acme-site"]
    created = await sim_api.client.post(
        "/v1/events", json=EVENT | {"event_id": "ev-drop"}, headers=sim_api.auth("operator")
    )
    assert created.status_code == 201, created.text

    async def view() -> dict[str, Any]:
        reply = await sim_api.client.get("/v1/events/ev-drop", headers=sim_api.auth("operator"))
        body: dict[str, Any] = reply.json()
        return body

    await until("event active", lambda: _state(view, "active"))
    connects = gateway.stats.connects
    struck = await sim_api.client.post(
        URL, json={"kind": "offline", "duration_min": 5}, headers=sim_api.auth("engineer")
    )
    assert struck.status_code == 201, struck.text
    end = datetime.fromisoformat(struck.json()["end"])

    async def dropped() -> list[str]:
        return sorted((await view())["devices_redispatched"])

    assert await until("site dropped", dropped) == ["acme-site/bess", "acme-site/furnace"]
    assert gateway.stats.telemetry_suppressed > 0
    assert sim_api.service.controller is not None
    reasons = {f.key: f.reason for f in sim_api.service.controller.faults}
    assert reasons == {
        "acme-site/bess": "gateway offline",
        "acme-site/furnace": "gateway offline",
    }
    await until("gateway back", lambda: gateway.stats.connects > connects)
    assert fabric.clock.now() >= end


async def _state(view: Callable[[], Awaitable[dict[str, Any]]], state: str) -> bool:
    return (await view())["state"] == state


async def test_readme_fault_command_is_accepted(sim_api: Api) -> None:
    """README "Show a device dropping out": its path and body, on the example enterprise."""
    root = Path(__file__).parents[2]
    readme = (root / "README.md").read_text()
    block = readme[readme.index("### Show a device dropping out") :]
    block = block[block.index("```sh\n") : block.index("```\n", block.index("```sh\n") + 1)]
    path = re.search(r"http://127\.0\.0\.1:8000(/v1/\S+)", block)
    body = re.search(r"-d '(\{.*\})'", block)
    assert path is not None, block
    assert body is not None, block
    example = json.loads((root / "docs/examples/acme-enterprise.json").read_text())
    registered = await sim_api.client.put(
        "/v1/enterprises/acme", json=example, headers=sim_api.auth("acme")
    )
    assert registered.status_code in (200, 201), registered.text
    struck = await sim_api.client.post(
        path.group(1), json=json.loads(body.group(1)), headers=sim_api.auth("engineer")
    )
    assert struck.status_code == 201, struck.text
    assert struck.json()["kind"] == "offline"
