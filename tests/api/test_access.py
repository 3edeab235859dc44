"""Access control: every endpoint wants a live token; roles and enterprise scopes hold."""

from __future__ import annotations

import pytest
from api_helpers import EVENT, Api, acme


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer vpp_nope"}, {"Authorization": "Basic dXNlcjpwdw=="}],
    ids=["missing", "unknown", "not-bearer"],
)
async def test_requests_without_a_live_token_get_401_with_bearer_challenge(
    api: Api, headers: dict[str, str]
) -> None:
    response = await api.client.get("/v1/enterprises", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "unauthenticated"


async def test_revoked_token_gets_401(api: Api) -> None:
    token_id = api.tokens["operator"].split("_")[1]
    revoked = await api.client.delete(f"/v1/tokens/{token_id}", headers=api.auth("admin"))
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    response = await api.client.get("/v1/enterprises", headers=api.auth("operator"))
    assert response.status_code == 401


async def test_enterprise_cannot_read_or_change_another_enterprise(api: Api) -> None:
    assert (await api.register("acme")).status_code == 201
    paths = ["", "/events", "/setpoints", "/settlements"]
    for path in paths:
        response = await api.client.get(f"/v1/enterprises/acme{path}", headers=api.auth("other"))
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "forbidden"
    body = acme("acme")
    body["name"] = "taken over"
    response = await api.client.put("/v1/enterprises/acme", json=body, headers=api.auth("other"))
    assert response.status_code == 403
    site = body["sites"][0]
    response = await api.client.put(
        f"/v1/enterprises/acme/sites/{site['site_id']}", json=site, headers=api.auth("other")
    )
    assert response.status_code == 403
    stored = await api.client.get("/v1/enterprises/acme", headers=api.auth("acme"))
    assert stored.json()["name"] == "Acme"
    listed = await api.client.get("/v1/enterprises", headers=api.auth("other"))
    assert listed.json()["items"] == []


@pytest.mark.parametrize(
    ("who", "method", "path", "body"),
    [
        ("acme", "post", "/v1/events", EVENT),
        ("engineer", "post", "/v1/events", EVENT),
        ("acme", "get", "/v1/events", None),
        (
            "engineer",
            "get",
            "/v1/capability?start=2026-07-15T11:00:00%2B08:00&end=2026-07-15T12:00:00%2B08:00",
            None,
        ),
        ("operator", "post", "/v1/simulations", {"scenario": "tiny_scenario"}),
        ("acme", "get", "/v1/simulations", None),
        ("operator", "post", "/v1/tokens", {"role": "admin"}),
        ("operator", "put", "/v1/enterprises/acme", acme("acme")),
        ("engineer", "get", "/v1/enterprises", None),
    ],
    ids=lambda v: v if isinstance(v, str) and not v.startswith("/") else None,
)
async def test_wrong_role_gets_403(
    api: Api, who: str, method: str, path: str, body: object
) -> None:
    response = await api.client.request(method, path, json=body, headers=api.auth(who))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


async def test_operator_reads_every_enterprise_but_changes_none(api: Api) -> None:
    await api.register("acme")
    listed = await api.client.get("/v1/enterprises", headers=api.auth("operator"))
    assert [e["enterprise_id"] for e in listed.json()["items"]] == ["acme"]
    response = await api.client.put(
        "/v1/enterprises/acme", json=acme("acme"), headers=api.auth("operator")
    )
    assert response.status_code == 403
