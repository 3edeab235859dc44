"""Rejected requests leave the store exactly as it was; bodies over the limit get 413."""

from __future__ import annotations

from typing import Any

from api_helpers import EVENT, Api, acme
from sqlalchemy import select

from vpp.store.tables import Base


async def snapshot(api: Api) -> dict[str, list[Any]]:
    """Every row of every table."""
    out = {}
    async with api.service.store.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            rows = (await connection.execute(select(table))).all()
            out[table.name] = sorted(map(repr, rows))
    return out


async def test_rejected_requests_leave_the_store_unchanged(api: Api) -> None:
    await api.register("acme")
    await api.client.post(
        "/v1/events", json=EVENT | {"event_id": "ev-1"}, headers=api.auth("operator")
    )
    await api.service.sync_once()
    before = await snapshot(api)

    bad_resource = acme("acme")["sites"][0]["resources"][0] | {"steps": []}
    bad_site = acme("acme")["sites"][0] | {"resources": []}
    attempts: list[tuple[str, str, str, Any]] = [
        ("acme", "put", "/v1/enterprises/acme", acme("acme") | {"sector": "mining"}),
        ("acme", "put", "/v1/enterprises/acme", acme("acme") | {"unknown_field": 1}),
        ("acme", "put", "/v1/enterprises/acme/sites/acme-site", bad_site),
        ("acme", "put", "/v1/enterprises/acme/sites/acme-site/resources/furnace", bad_resource),
        ("other", "put", "/v1/enterprises/acme", acme("acme")),
        ("operator", "post", "/v1/events", EVENT | {"event_id": "ev-1"}),
        ("operator", "post", "/v1/events", EVENT | {"duration_min": 0}),
        ("operator", "patch", "/v1/events/ev-1", {"target_kw": 0}),
        ("operator", "patch", "/v1/events/ev-1", {"target_kw": 10, "target_pct_of_peak": 1}),
        ("admin", "post", "/v1/tokens", {"role": "enterprise"}),
        ("admin", "post", "/v1/tokens", {"role": "root"}),
        ("engineer", "post", "/v1/simulations", {"scenario": "no_such_scenario"}),
        (
            "engineer",
            "post",
            "/v1/simulations",
            {"scenario_yaml": "name: x\ndistrict: ../../etc/passwd\nday: 2026-07-15"},
        ),
        ("engineer", "post", "/v1/simulations", {"scenario_yaml": "[unclosed"}),
    ]
    for who, method, path, body in attempts:
        response = await api.client.request(method, path, json=body, headers=api.auth(who))
        assert 400 <= response.status_code < 500, (path, body, response.text)
        assert set(response.json()) == {"error"}
    await api.service.sync_once()
    after = await snapshot(api)
    for name in before:
        if name in ("event_states", "setpoints", "events", "dispatch_decisions"):
            continue  # the live event may move on by itself; checked below
        assert after[name] == before[name], name
    events = (await api.client.get("/v1/events", headers=api.auth("operator"))).json()
    assert [e["event"]["event_id"] for e in events["items"]] == ["ev-1"]
    assert events["items"][0]["event"]["target_kw"] == EVENT["target_kw"]


async def test_body_over_the_limit_is_413_and_not_read(api: Api) -> None:
    body = acme("acme") | {"name": "x" * (1 << 20)}
    response = await api.client.put("/v1/enterprises/acme", json=body, headers=api.auth("acme"))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert (
        await api.client.get("/v1/enterprises/acme", headers=api.auth("acme"))
    ).status_code == 404


async def test_streamed_body_over_the_limit_is_413(api: Api) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        yield b'{"name": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    response = await api.client.put(
        "/v1/enterprises/acme",
        content=chunks(),
        headers=api.auth("acme") | {"Content-Type": "application/json"},
    )
    assert response.status_code == 413


async def test_a_body_that_is_not_json_is_400_naming_where_it_breaks(api: Api) -> None:
    """docs/service.md: 400 when the body is not JSON (not 422 for a field called "1")."""
    headers = api.auth("operator") | {"Content-Type": "application/json"}
    for content in (b"{not json", b"\xff\xfe", b'{"target_kw": 5,'):
        response = await api.client.post("/v1/events", content=content, headers=headers)
        assert response.status_code == 400, (content, response.text)
        error = response.json()["error"]
        assert error["code"] == "http_error"
        assert error["message"] == "body is not JSON"
        assert error["details"][0]["field"] == "(body)"
        assert "at character" in error["details"][0]["reason"]


async def test_a_wrong_method_is_405_with_every_allowed_method(api: Api) -> None:
    """405 carries Allow (RFC 9110), listing the methods of every route on the path."""
    expected = {
        "/v1/events": {"GET", "POST"},
        "/v1/events/ev-1": {"GET", "PATCH"},
        "/v1/clock": {"GET"},
    }
    for path, methods in expected.items():
        response = await api.client.delete(path, headers=api.auth("admin"))
        assert response.status_code == 405, path
        assert response.json()["error"]["code"] == "method_not_allowed"
        allowed = {m.strip() for m in response.headers["Allow"].split(",")}
        assert methods <= allowed <= methods | {"HEAD"}, (path, allowed)
