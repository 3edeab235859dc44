"""Operators issue, change and cancel events; bad requests are refused by field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from api_helpers import EVENT, Api, acme

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def create(api: Api, body: dict[str, Any], key: str | None = None) -> Any:
    headers = api.auth("operator") | ({"Idempotency-Key": key} if key else {})
    return await api.client.post("/v1/events", json=body, headers=headers)


async def test_create_event_returns_201_with_the_first_plan(api: Api) -> None:
    await api.register()
    response = await create(api, EVENT | {"event_id": "ev-1"})
    assert response.status_code == 201
    view = response.json()
    assert view["event"]["event_id"] == "ev-1"
    assert view["state"] == "scheduled"
    assert view["plan"]["solver_status"] == "optimal"
    assert view["plan"]["expected_shortfall_kw"] == 0
    assert set(view["plan"]["participants"]) == {"acme-site/furnace", "acme-site/bess"}
    assert [i["planned_kw"] >= 200 for i in view["intervals"]] == [True, True]
    start = view["intervals"][0]["start"]
    assert start.endswith("Z") or "+" in start  # explicit offsets


async def test_an_event_view_gives_the_rebound_cap_and_the_plans_peak_after_it(api: Api) -> None:
    """The operator sees the cap the plan holds after the event and how close it comes;
    nothing is measured before the window has passed."""
    await api.register()
    view = (await create(api, EVENT | {"event_id": "ev-cap"})).json()
    plan = view["plan"]
    assert plan["rebound_cap_kw"] == plan["baseline_peak_kw"] > 0
    assert plan["post_event_peak_kw"] <= plan["rebound_cap_kw"] + plan["max_rebound_excess_kw"]
    rebound = view["rebound"]
    assert rebound["cap_kw"] == pytest.approx(plan["rebound_cap_kw"], abs=1e-3)
    assert rebound["planned_peak_kw"] > 0
    end = datetime.fromisoformat(view["event"]["end"])
    assert datetime.fromisoformat(rebound["planned_peak_at"]) >= end
    assert rebound["measured_peak_kw"] is None
    assert rebound["measured_intervals"] == 0


async def test_retry_with_same_idempotency_key_returns_the_first_event(api: Api) -> None:
    await api.register()
    first = await create(api, EVENT, key="retry-1")
    again = await create(api, EVENT, key="retry-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["event"] == first.json()["event"]
    listed = await api.client.get("/v1/events", headers=api.auth("operator"))
    assert listed.json()["total"] == 1
    other = await create(api, EVENT | {"target_kw": 300}, key="retry-1")
    assert other.status_code == 409
    assert other.json()["error"]["details"][0]["field"] == "Idempotency-Key"


async def test_event_before_any_registration_is_409(api: Api) -> None:
    response = await create(api, EVENT)
    assert response.status_code == 409
    assert "no enterprise" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {
                "start": "2020-01-01T11:00:00+08:00",
                "lead_min": None,
                "end": "2020-01-01T12:00:00+08:00",
                "duration_min": None,
            },
            "start",
        ),
        ({"start": "2030-01-01T11:07:00+08:00", "lead_min": None}, "start"),
        ({"start": "2030-01-01T11:00:00", "lead_min": None}, "start"),
        ({"start": "2030-01-01T11:00:00+08:00"}, "start"),
        ({"duration_min": 20}, "duration_min"),
        ({"target_pct_of_peak": 5}, "target_kw"),
        ({"kind": "shave"}, "kind"),
        ({"target_kw": -1}, "target_kw"),
        ({"target_kw": 1e308}, "target_kw"),
        (
            {
                "start": "2030-01-01T11:00:00+08:00",
                "lead_min": None,
                "end": "2030-01-01T03:00:00+00:00",  # 11:00 in Shanghai: an empty window
                "duration_min": None,
            },
            "end",
        ),
        ({"event_id": "Bad Id"}, "event_id"),
        (
            {
                "start": "9999-12-31T22:00:00+08:00",
                "lead_min": None,
                "end": "9999-12-31T23:00:00+08:00",
                "duration_min": None,
            },
            "start",
        ),
    ],
    ids=[
        "past",
        "off-grid",
        "naive-time",
        "start-and-lead",
        "partial-interval",
        "two-targets",
        "unknown-kind",
        "negative-target",
        "huge-target",
        "empty-window",
        "bad-id",
        "year-9999",
    ],
)
async def test_bad_event_is_422_naming_the_field_and_stores_nothing(
    api: Api, change: dict[str, Any], field: str
) -> None:
    await api.register()
    body = {k: v for k, v in (EVENT | change).items() if v is not None}
    response = await create(api, body)
    assert response.status_code == 422, response.text
    fields = [d["field"] for d in response.json()["error"]["details"]]
    assert field in fields
    assert (await api.client.get("/v1/events", headers=api.auth("operator"))).json()["total"] == 0


async def test_patch_changes_the_target_and_cancel_ends_the_event(api: Api) -> None:
    await api.register()
    await create(api, EVENT | {"event_id": "ev-1"})
    patched = await api.client.patch(
        "/v1/events/ev-1", json={"target_kw": 250}, headers=api.auth("operator")
    )
    assert patched.status_code == 200
    assert patched.json()["event"]["target_kw"] == 250
    assert patched.json()["target_kw"] == 250
    assert api.service.controller is not None
    assert api.service.controller.runs["ev-1"].event.target_kw == 250
    cancelled = await api.client.post(
        "/v1/events/ev-1/cancel", json={"reason": "grid relieved"}, headers=api.auth("operator")
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "cancelled", cancelled.json()["history"]
    assert cancelled.json()["history"][-1]["note"].startswith("grid relieved")
    again = await api.client.patch(
        "/v1/events/ev-1", json={"target_kw": 100}, headers=api.auth("operator")
    )
    assert again.status_code == 409
    unknown = await api.client.get("/v1/events/ev-404", headers=api.auth("operator"))
    assert unknown.status_code == 404


async def test_capability_answers_for_a_window(api: Api) -> None:
    await api.register()
    clock = (await api.client.get("/v1/clock", headers=api.auth("operator"))).json()
    start = datetime.fromisoformat(clock["next_interval_start"])
    window = {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}
    empty = window | {"end": window["start"]}
    refused = await api.client.get("/v1/capability", params=empty, headers=api.auth("operator"))
    assert refused.status_code == 422
    response = await api.client.get("/v1/capability", params=window, headers=api.auth("operator"))
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["by_enterprise_kw"]["acme"] == pytest.approx(report["deliverable_kw"])
    assert 200 <= report["deliverable_kw"] <= 500


async def test_a_utc_window_is_planned_on_the_same_local_hours_as_local_time(api: Api) -> None:
    """An event at 06:00Z is the 14:00 Shanghai event: the same plan, times in local time.

    The furnace may only shed 13:00-16:00 local, so a plan read at UTC hours would miss it.
    """
    body = acme() | {"enterprise_id": "acme"}
    body["sites"][0]["resources"][0]["availability"] = ["13:00-16:00"]
    registered = await api.client.put("/v1/enterprises/acme", json=body, headers=api.auth("acme"))
    assert registered.status_code in (200, 201), registered.text
    tomorrow = (datetime.now(SHANGHAI) + timedelta(days=1)).date()
    local_start = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 14, tzinfo=SHANGHAI)
    windows = {
        "utc": (local_start.astimezone(UTC), local_start.astimezone(UTC) + timedelta(hours=1)),
        "local": (local_start, local_start + timedelta(hours=1)),
    }
    views = {}
    for name, (start, end) in windows.items():
        request = {"event_id": f"ev-{name}", "start": start.isoformat(), "end": end.isoformat()}
        response = await create(api, request | {"target_kw": 300, "notice": "real_time"})
        assert response.status_code == 201, response.text
        views[name] = response.json()
        cancelled = await api.client.post(
            f"/v1/events/ev-{name}/cancel", headers=api.auth("operator")
        )
        assert cancelled.status_code == 200
    utc, local = views["utc"], views["local"]
    assert utc["event"]["start"] == local["event"]["start"] == local_start.isoformat()
    assert utc["plan"]["participants"] == local["plan"]["participants"]
    assert "acme-site/furnace" in utc["plan"]["participants"]
    assert [i["planned_kw"] for i in utc["intervals"]] == [
        i["planned_kw"] for i in local["intervals"]
    ]
    assert utc["plan"]["expected_shortfall_kw"] == local["plan"]["expected_shortfall_kw"] == 0


async def test_capability_of_a_utc_window_equals_the_local_window(api: Api) -> None:
    """GET /v1/capability answers the same for 06:00Z-07:00Z as for 14:00-15:00 local."""
    body = acme() | {"enterprise_id": "acme"}
    body["sites"][0]["resources"][0]["availability"] = ["13:00-16:00"]
    await api.client.put("/v1/enterprises/acme", json=body, headers=api.auth("acme"))
    tomorrow = (datetime.now(SHANGHAI) + timedelta(days=1)).date()
    local_start = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 14, tzinfo=SHANGHAI)
    answers = []
    for start in (local_start.astimezone(UTC), local_start):
        params = {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}
        response = await api.client.get(
            "/v1/capability", params=params, headers=api.auth("operator")
        )
        assert response.status_code == 200, response.text
        answers.append(response.json())
    assert answers[0] == answers[1]
    assert answers[0]["start"] == local_start.isoformat()
    assert answers[0]["by_kind_kw"]["curtailable_load"] > 0


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("9999-12-31T22:00:00+08:00", "9999-12-31T23:00:00+08:00"),
        ("0001-01-01T00:00:00+08:00", "0001-01-01T01:00:00+08:00"),
    ],
    ids=["year-9999", "year-1"],
)
async def test_capability_outside_the_plannable_years_is_422_not_500(
    api: Api, start: str, end: str
) -> None:
    await api.register()
    response = await api.client.get(
        "/v1/capability", params={"start": start, "end": end}, headers=api.auth("operator")
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["field"] == "start"


async def test_patch_to_a_huge_target_is_422_and_keeps_the_old_one(api: Api) -> None:
    await api.register()
    await create(api, EVENT | {"event_id": "ev-1"})
    patched = await api.client.patch(
        "/v1/events/ev-1", json={"target_kw": 1e300}, headers=api.auth("operator")
    )
    assert patched.status_code == 422
    assert patched.json()["error"]["details"][0]["field"] == "target_kw"
    view = await api.client.get("/v1/events/ev-1", headers=api.auth("operator"))
    assert view.json()["event"]["target_kw"] == EVENT["target_kw"]


async def test_an_enterprise_token_cannot_read_the_portfolios_rebound(api: Api) -> None:
    """The rebound block is the whole portfolio's load: an operator's figure, not a
    participant's (an enterprise sees its own events under /v1/enterprises/{id})."""
    await api.register()
    await create(api, EVENT | {"event_id": "ev-portfolio"})
    refused = await api.client.get("/v1/events/ev-portfolio", headers=api.auth("acme"))
    assert refused.status_code == 403
    assert "rebound" not in refused.text
    own = await api.client.get("/v1/enterprises/acme/events", headers=api.auth("acme"))
    assert own.status_code == 200
    assert "planned_peak_kw" not in own.text
