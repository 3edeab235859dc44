"""The dashboard's pages under ``/ui/``: login, the operator's view and event pages (issue,
modify, cancel), the enterprise's view, and their server-sent event streams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from vpp.api.deps import get_service
from vpp.api.errors import ApiError
from vpp.api.routers.capability import get_capability
from vpp.api.service import Service
from vpp.api.ui import fmt
from vpp.api.ui.feed import ACTIVE, UPCOMING, enterprise_feed, event_feed
from vpp.api.ui.i18n import labels, pick_lang
from vpp.api.ui.session import (
    LANG_COOKIE,
    SESSION_COOKIE,
    UI_PREFIX,
    Session,
    UiError,
    check_csrf,
    current_session,
    read_form,
)
from vpp.api.views import CancelRequest, EventChange, EventRequest
from vpp.config import describe_validation_error
from vpp.domain import daily_window_on
from vpp.store import Role

#: How often an event's stream looks for news [s, wall]; it pushes only what changed.
STREAM_POLL_S = 0.2
#: The same for an enterprise's stream, which reads every event it took part in [s, wall].
ENTERPRISE_POLL_S = 1.0
#: A comment line this often keeps proxies from closing an idle stream [s, wall].
STREAM_KEEPALIVE_S = 15.0

templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))
router = APIRouter(prefix=UI_PREFIX, include_in_schema=False)


def _render(
    request: Request,
    name: str,
    session: Session | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    service = get_service(request)
    lang = pick_lang(request.cookies.get(LANG_COOKIE))
    tz = service.frame.tz
    return templates.TemplateResponse(
        request,
        name,
        {
            "L": labels(lang),
            "lang": lang,
            "session": session,
            "tz_name": service.frame.timezone,
            "local": lambda ts, with_date=True: fmt.local_time(ts, tz, with_date),
            "kw": fmt.kw,
            "kwh": fmt.kwh,
            "cny": fmt.cny,
            "path": request.url.path,
            **context,
        },
        status_code=status_code,
    )


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# -- login -------------------------------------------------------------------------------


@router.get("/")
async def home(request: Request) -> Response:
    session = await current_session(request)
    principal = session.principal
    if principal.role in (Role.ADMIN, Role.OPERATOR):
        return _see_other(f"{UI_PREFIX}/operator")
    if principal.role is Role.ENTERPRISE and principal.enterprise_id is not None:
        return _see_other(f"{UI_PREFIX}/enterprises/{quote(principal.enterprise_id)}")
    raise UiError(403, labels(pick_lang(request.cookies.get(LANG_COOKIE)))["no_view"])


@router.get("/login")
async def login_form(request: Request) -> HTMLResponse:
    return _render(request, "login.html")


@router.post("/login")
async def login(request: Request) -> Response:
    form = await read_form(request)
    bearer = form.get("token", "").strip()
    service = get_service(request)
    principal = await service.store.tokens.authenticate(bearer) if bearer else None
    if principal is None:
        return _render(request, "login.html", status_code=401, failed=True)
    response = _see_other(f"{UI_PREFIX}/")
    response.set_cookie(
        SESSION_COOKIE,
        bearer,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=UI_PREFIX,
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = await current_session(request)
    check_csrf(session, await read_form(request))
    response = _see_other(f"{UI_PREFIX}/login")
    response.delete_cookie(SESSION_COOKIE, path=UI_PREFIX)
    return response


@router.get("/lang/{lang}")
async def set_lang(lang: str, request: Request, next: str = f"{UI_PREFIX}/") -> Response:
    """Switch the labels' language; only a path inside the dashboard is followed."""
    target = next if next.startswith(f"{UI_PREFIX}/") and "//" not in next else f"{UI_PREFIX}/"
    response = _see_other(target)
    response.set_cookie(LANG_COOKIE, pick_lang(lang), samesite="lax", path=UI_PREFIX)
    return response


# -- operator ----------------------------------------------------------------------------


async def _operator(request: Request) -> tuple[Session, Service]:
    session = await current_session(request)
    await session.require_operator()
    return session, get_service(request)


@router.get("/operator")
async def operator_view(request: Request) -> HTMLResponse:
    session, service = await _operator(request)
    records, _ = await service.store.events.page(0, 100)
    groups: dict[str, list[dict[str, Any]]] = {"upcoming": [], "active": [], "completed": []}
    for record in records:
        run = service.live_run(record.event.event_id)
        state = run.lifecycle.state.value if run is not None else record.state
        group = "upcoming" if state in UPCOMING else "active" if state in ACTIVE else "completed"
        groups[group].append({"event": record.event, "state": state})
    return _render(request, "operator.html", session, groups=groups)


@router.get("/operator/capability")
async def operator_capability(request: Request) -> dict[str, Any]:
    """Today's capability over the district's peak hours against its target (JSON for
    the page's script: the solve takes seconds, the page does not wait for it)."""
    session, service = await _operator(request)
    frame = service.frame
    today = service.clock.now().astimezone(frame.tz).date()
    start, end = daily_window_on(today, frame.peak_hours, frame.tz)
    try:
        report = await get_capability(start, end, service, session.principal)
    except ApiError as exc:
        return {"error": exc.message}
    return {
        "window": f"{fmt.local_time(start, frame.tz)}–{fmt.local_time(end, frame.tz, False)}",
        "deliverable_kw": fmt.kw(report.deliverable_kw),
        "target_kw": fmt.kw(report.target_kw),
        "target_pct": f"{report.target_pct:g}",
        "percent_of_peak": f"{report.percent_of_peak:.1f}",
        "meets_target": report.meets_target,
    }


def _problems(exc: ValidationError | ApiError) -> str:
    if isinstance(exc, ApiError):
        details = "; ".join(f"{f}: {r}" for f, r in exc.details)
        return f"{exc.message}" + (f" ({details})" if details else "")
    return "; ".join(f"{f}: {r}" for f, r in describe_validation_error(exc))


def _refused(exc: ValidationError | ApiError) -> UiError:
    """A form the API refused, as the page that says why (422 for invalid input)."""
    status = 422 if isinstance(exc, ValidationError) else exc.status
    return UiError(status, _problems(exc))


def _number(form: dict[str, str], name: str) -> float | None:
    raw = form.get(name, "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise UiError(422, f"{name}: not a number") from None


@router.post("/operator/events")
async def issue_event(request: Request) -> Response:
    session, service = await _operator(request)
    form = await read_form(request)
    check_csrf(session, form)
    try:
        event_request = EventRequest.model_validate(
            {
                "event_id": form.get("event_id", "").strip() or None,
                "kind": form.get("kind") or "peak_shaving",
                "lead_min": _number(form, "lead_min"),
                "duration_min": _number(form, "duration_min"),
                "target_kw": _number(form, "target_kw"),
                "notice": form.get("notice") or "real_time",
            }
        )
        record, _ = await service.create_event(event_request, None)
    except (ValidationError, ApiError) as exc:
        raise _refused(exc) from None
    return _see_other(f"{UI_PREFIX}/operator/events/{quote(record.event.event_id)}")


@router.get("/operator/events/{event_id}")
async def event_page(event_id: str, request: Request) -> HTMLResponse:
    session, service = await _operator(request)
    feed = await _event_feed(service, event_id)
    return _render(request, "event.html", session, feed=feed)


async def _event_feed(service: Service, event_id: str) -> dict[str, Any]:
    try:
        return await event_feed(service, event_id)
    except ApiError as exc:
        raise UiError(exc.status, exc.message) from None


@router.post("/operator/events/{event_id}/modify")
async def modify_event(event_id: str, request: Request) -> Response:
    session, service = await _operator(request)
    form = await read_form(request)
    check_csrf(session, form)
    try:
        change = EventChange.model_validate({"target_kw": _number(form, "target_kw")})
        await service.modify_event(event_id, change)
    except (ValidationError, ApiError) as exc:
        raise _refused(exc) from None
    return _see_other(f"{UI_PREFIX}/operator/events/{quote(event_id)}")


@router.post("/operator/events/{event_id}/cancel")
async def cancel_event(event_id: str, request: Request) -> Response:
    session, service = await _operator(request)
    form = await read_form(request)
    check_csrf(session, form)
    try:
        reason = CancelRequest.model_validate(
            {"reason": form.get("reason") or "cancelled by operator"}
        ).reason
        await service.cancel_event(event_id, reason)
    except (ValidationError, ApiError) as exc:
        raise _refused(exc) from None
    return _see_other(f"{UI_PREFIX}/operator/events/{quote(event_id)}")


@router.get("/operator/events/{event_id}/stream")
async def event_stream(event_id: str, request: Request) -> StreamingResponse:
    _, service = await _operator(request)
    await _event_feed(service, event_id)  # 404 before the stream starts
    return _stream(request, lambda: event_feed(service, event_id))


# -- enterprise --------------------------------------------------------------------------


@router.get("/enterprises/{enterprise_id}")
async def enterprise_view(enterprise_id: str, request: Request) -> HTMLResponse:
    session = await current_session(request)
    session.require_enterprise(enterprise_id)
    service = get_service(request)
    enterprise = await service.store.enterprises.get(enterprise_id)
    if enterprise is None:
        raise UiError(404, f"enterprise {enterprise_id!r}: not registered")
    feed = await enterprise_feed(service, enterprise_id)
    lines = await service.store.events.settlements(enterprise_id=enterprise_id)
    settlements = [{"event_id": e, **line} for e, _, line in lines]
    totals = {
        name: sum(float(s.get(name) or 0.0) for s in settlements)
        for name in ("asked_kwh", "delivered_kwh", "payment_cny", "penalty_cny")
    }
    return _render(
        request,
        "enterprise.html",
        session,
        enterprise=enterprise,
        feed=feed,
        settlements=settlements,
        totals=totals,
    )


@router.get("/enterprises/{enterprise_id}/stream")
async def enterprise_stream(enterprise_id: str, request: Request) -> StreamingResponse:
    session = await current_session(request)
    session.require_enterprise(enterprise_id)
    service = get_service(request)
    return _stream(request, lambda: enterprise_feed(service, enterprise_id), ENTERPRISE_POLL_S)


# -- streams -----------------------------------------------------------------------------


def _stream(
    request: Request,
    build: Callable[[], Awaitable[dict[str, Any]]],
    poll_s: float = STREAM_POLL_S,
) -> StreamingResponse:
    """Server-sent events: the feed whenever it changes, until the browser goes away."""

    async def events() -> AsyncIterator[str]:
        last = ""
        idle_s = 0.0
        while not await request.is_disconnected():
            try:
                payload = json.dumps(await build())
            except ApiError as exc:
                yield f"event: gone\ndata: {json.dumps(exc.message)}\n\n"
                return
            if payload != last:
                last, idle_s = payload, 0.0
                yield f"data: {payload}\n\n"
            elif idle_s >= STREAM_KEEPALIVE_S:
                idle_s = 0.0
                yield ": keep-alive\n\n"
            await asyncio.sleep(poll_s)
            idle_s += poll_s

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
