"""The dashboard's pages from outside: login, session cookie, CSRF, role and enterprise
scoping (the API's rules), malformed forms, the language switch."""

from __future__ import annotations

import re

from api_helpers import EVENT, Api

CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


async def _login(api: Api, who: str) -> None:
    reply = await api.client.post("/ui/login", data={"token": api.tokens[who]})
    assert reply.status_code == 303


async def _csrf(api: Api, page: str) -> str:
    match = CSRF.search((await api.client.get(page)).text)
    assert match is not None
    return match.group(1)


async def test_dashboard_without_session_sends_to_login(api: Api):
    reply = await api.client.get("/ui/operator")
    assert reply.status_code == 303
    assert reply.headers["location"] == "/ui/login"


async def test_login_with_unknown_token_is_refused_without_cookie(api: Api):
    reply = await api.client.post("/ui/login", data={"token": "not-a-token"})
    assert reply.status_code == 401
    assert "set-cookie" not in reply.headers


async def test_login_keeps_token_in_httponly_strict_cookie(api: Api):
    reply = await api.client.post("/ui/login", data={"token": api.tokens["operator"]})
    assert reply.status_code == 303
    cookie = reply.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/ui" in cookie
    assert (await api.client.get(reply.headers["location"])).headers["location"] == ("/ui/operator")


async def test_revoked_token_ends_the_session(api: Api):
    await _login(api, "operator")
    info = await api.service.store.tokens.authenticate(api.tokens["operator"])
    assert info is not None
    await api.service.store.tokens.revoke(info.token_id, api.service.clock.now())
    assert (await api.client.get("/ui/operator")).status_code == 303


async def test_issue_event_without_csrf_token_is_refused_and_creates_nothing(api: Api):
    assert (await api.register()).status_code == 201
    await _login(api, "operator")
    form = {"lead_min": "20", "duration_min": "30", "target_kw": "200", "csrf": "0" * 64}
    reply = await api.client.post("/ui/operator/events", data=form)
    assert reply.status_code == 403
    assert (await api.service.store.events.page(0, 10))[1] == 0


async def test_operator_issues_modifies_and_cancels_an_event_from_forms(api: Api):
    assert (await api.register()).status_code == 201
    await _login(api, "operator")
    csrf = await _csrf(api, "/ui/operator")
    form = {
        "event_id": "ui-ev-1",
        "lead_min": str(EVENT["lead_min"]),
        "duration_min": str(EVENT["duration_min"]),
        "target_kw": "200",
        "notice": "real_time",
        "csrf": csrf,
    }
    reply = await api.client.post("/ui/operator/events", data=form)
    assert reply.status_code == 303
    assert reply.headers["location"] == "/ui/operator/events/ui-ev-1"
    page = await api.client.get("/ui/operator/events/ui-ev-1")
    assert page.status_code == 200
    assert "ui-ev-1" in page.text
    # the rebound cap and the plan's peak after the event, nothing measured yet
    view = (await api.client.get("/v1/events/ui-ev-1", headers=api.auth("operator"))).json()
    cap = f"{view['rebound']['cap_kw']:,.0f}"
    assert re.search(rf'id="rebound-cap"[^>]*>{re.escape(cap)}<', page.text)
    assert re.search(r'id="after-planned"[^>]*>[0-9,]+<', page.text)
    assert re.search(r'id="after-measured"[^>]*>–<', page.text)
    modified = await api.client.post(
        "/ui/operator/events/ui-ev-1/modify", data={"target_kw": "150", "csrf": csrf}
    )
    assert modified.status_code == 303
    record = await api.service.event_record("ui-ev-1")
    assert record.event.target_kw == 150
    cancelled = await api.client.post(
        "/ui/operator/events/ui-ev-1/cancel", data={"reason": "test", "csrf": csrf}
    )
    assert cancelled.status_code == 303
    assert (await api.service.event_record("ui-ev-1")).state == "cancelled"


async def test_invalid_event_form_is_shown_as_an_error_page(api: Api):
    assert (await api.register()).status_code == 201
    await _login(api, "operator")
    csrf = await _csrf(api, "/ui/operator")
    form = {"lead_min": "20", "duration_min": "7", "target_kw": "200", "csrf": csrf}
    reply = await api.client.post("/ui/operator/events", data=form)
    assert reply.status_code == 422
    assert "duration_min" in reply.text


async def test_malformed_form_body_is_refused_and_the_service_goes_on(api: Api):
    await _login(api, "operator")
    reply = await api.client.post(
        "/ui/operator/events",
        content=b"\xff\xfe=\x00&&&" * 10,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert reply.status_code in (400, 403)
    assert (await api.client.get("/ui/operator")).status_code == 200


async def test_enterprise_session_cannot_open_operator_pages(api: Api):
    await _login(api, "acme")
    assert (await api.client.get("/ui/operator")).status_code == 403
    assert (await api.client.get("/ui/operator/capability")).status_code == 403


async def test_enterprise_sees_its_own_page_only(api: Api):
    assert (await api.register("acme")).status_code == 201
    assert (await api.register("other")).status_code == 201
    await _login(api, "acme")
    home = await api.client.get("/ui/")
    assert home.headers["location"] == "/ui/enterprises/acme"
    own = await api.client.get("/ui/enterprises/acme")
    assert own.status_code == 200
    assert "acme" in own.text
    assert (await api.client.get("/ui/enterprises/other")).status_code == 403
    assert (await api.client.get("/ui/enterprises/other/stream")).status_code == 403


async def test_language_switch_follows_only_dashboard_paths(api: Api):
    reply = await api.client.get("/ui/lang/en", params={"next": "//evil.example/"})
    assert reply.headers["location"] == "/ui/"
    reply = await api.client.get("/ui/lang/en", params={"next": "/ui/login"})
    assert reply.headers["location"] == "/ui/login"
    assert "Log in" in (await api.client.get("/ui/login")).text
    await api.client.get("/ui/lang/zh-CN")
    assert "登录" in (await api.client.get("/ui/login")).text


async def test_unknown_event_page_is_a_404_page(api: Api):
    await _login(api, "operator")
    reply = await api.client.get("/ui/operator/events/no-such-event")
    assert reply.status_code == 404
    assert "no-such-event" in reply.text
    assert (await api.client.get("/ui/operator/events/no-such-event/stream")).status_code == 404


async def test_logout_needs_the_csrf_token_and_ends_the_session(api: Api):
    await _login(api, "operator")
    assert (await api.client.post("/ui/logout", data={"csrf": "x"})).status_code == 403
    csrf = await _csrf(api, "/ui/operator")
    reply = await api.client.post("/ui/logout", data={"csrf": csrf})
    assert reply.status_code == 303
    assert (await api.client.get("/ui/operator")).status_code == 303
