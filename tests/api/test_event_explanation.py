"""GET /v1/events/{id}/explanation: why the first plan is what it is, stored with the plan."""

from __future__ import annotations

import asyncio
from typing import Any

from api_helpers import EVENT, Api

from vpp.domain import DispatchExplanation


async def planned(api: Api, event_id: str) -> dict[str, Any]:
    response = await api.client.post(
        "/v1/events", json=EVENT | {"event_id": event_id}, headers=api.auth("operator")
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def stored_plan(api: Api, event_id: str, timeout_s: float = 30.0) -> dict[str, Any]:
    """The plan decision once the progress writer has stored it."""
    for _ in range(int(timeout_s / 0.05)):
        plans = [
            d for d in await api.service.store.events.decisions(event_id) if d["kind"] == "plan"
        ]
        if plans:
            return plans[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"{event_id}: no plan decision stored in {timeout_s} s")


async def test_event_explanation_gives_every_resource_one_reason_matching_the_plan(
    api: Api,
) -> None:
    await api.register()
    view = await planned(api, "ev-why")
    response = await api.client.get("/v1/events/ev-why/explanation", headers=api.auth("operator"))
    assert response.status_code == 200, response.text
    explanation = DispatchExplanation.model_validate(response.json())
    assert explanation.event_id == "ev-why"
    participants = set(view["plan"]["participants"])
    assert {r.key for r in explanation.resources} == {"acme-site/furnace", "acme-site/bess"}
    for r in explanation.resources:
        assert r.called == (r.key in participants) == r.reason.called
    assert len(explanation.intervals) == 2  # 30 min at 15 min
    assert explanation.marginal_cost_cny_per_kwh > 0


async def test_event_explanation_is_stored_with_the_plan_decision(api: Api) -> None:
    await api.register()
    await planned(api, "ev-kept")
    plan = await stored_plan(api, "ev-kept")
    served = await api.client.get("/v1/events/ev-kept/explanation", headers=api.auth("engineer"))
    assert served.status_code == 200
    assert plan["explanation"] == served.json()
    # The event view keeps its short plan summary; the explanation has its own route.
    view = await api.client.get("/v1/events/ev-kept", headers=api.auth("operator"))
    assert "explanation" not in view.json()["plan"]


async def test_event_explanation_is_refused_to_enterprises_and_404_for_unknown_events(
    api: Api,
) -> None:
    await api.register()
    await planned(api, "ev-private")
    refused = await api.client.get("/v1/events/ev-private/explanation", headers=api.auth("acme"))
    assert refused.status_code == 403
    missing = await api.client.get("/v1/events/no-such/explanation", headers=api.auth("operator"))
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
