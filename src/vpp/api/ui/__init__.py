"""The web dashboard (``/ui/``) and the offline API docs (``/docs``, ``/redoc``), with every
asset served by vpp itself: no CDN, no web fonts."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from vpp.api.ui import docs, pages
from vpp.api.ui.session import UI_PREFIX, LoginRequiredError, UiError

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent.parent / "static"


def install(app: FastAPI) -> None:
    """Docs, dashboard pages and static files; page refusals answer as pages."""
    app.include_router(docs.router)
    app.include_router(pages.router)
    app.mount(docs.STATIC_URL, StaticFiles(directory=STATIC_DIR), name="static")

    async def login_required(request: Request, exc: Exception) -> Response:
        return RedirectResponse(f"{UI_PREFIX}/login", status_code=303)

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, UiError)
        logger.info(
            "dashboard refused %s %s (%d): %s",
            request.method,
            request.url.path,
            exc.status,
            exc.message,
        )
        return pages.templates.TemplateResponse(
            request,
            "error.html",
            {"status": exc.status, "message": exc.message},
            status_code=exc.status,
        )

    app.add_exception_handler(LoginRequiredError, login_required)
    app.add_exception_handler(UiError, refused)
