"""Interactive API docs (Swagger UI at ``/docs``, ReDoc at ``/redoc``) from assets vpp serves
itself, so they work in a control room without internet (no CDN, no web fonts)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse

#: Where the vendored files are mounted (see ``vpp.api.ui.install``).
STATIC_URL = "/static"
VENDOR_URL = f"{STATIC_URL}/vendor"
OPENAPI_URL = "/openapi.json"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def swagger_ui() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=OPENAPI_URL,
        title="vpp - API",
        swagger_js_url=f"{VENDOR_URL}/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url=f"{VENDOR_URL}/swagger-ui/swagger-ui.css",
        swagger_favicon_url=f"{VENDOR_URL}/swagger-ui/favicon-32x32.png",
        oauth2_redirect_url=OAUTH2_REDIRECT_URL,
        # no online validator badge: it would call validator.swagger.io
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get(OAUTH2_REDIRECT_URL)
async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


#: ReDoc's sidebar shows a logo from Redocly's CDN; this policy keeps the browser from
#: fetching it (the logo hides itself when it fails to load) or anything else off-site.
REDOC_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-eval'; worker-src 'self' blob:; font-src 'self' data:"
)


@router.get("/redoc")
async def redoc() -> HTMLResponse:
    page = get_redoc_html(
        openapi_url=OPENAPI_URL,
        title="vpp - API",
        redoc_js_url=f"{VENDOR_URL}/redoc/redoc.standalone.js",
        redoc_favicon_url=f"{VENDOR_URL}/swagger-ui/favicon-32x32.png",
        with_google_fonts=False,
    )
    page.headers["Content-Security-Policy"] = REDOC_CSP
    return page
