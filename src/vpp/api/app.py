"""The FastAPI application: routers, error handlers, body limit, and a lifespan that opens
the store and runs the service (controller, devices, progress writer)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from vpp.api import errors
from vpp.api.limits import BodySizeLimit
from vpp.api.routers import (
    capability,
    enterprises,
    events,
    health,
    rotation,
    simulated_devices,
    simulations,
    tokens,
)
from vpp.api.service import Service
from vpp.api.settings import ServiceSettings
from vpp.api.ui import install as install_ui
from vpp.store import open_store

DESCRIPTION = """
The virtual power plant as a service. Every endpoint needs a bearer token
(`vpp token create --role ...`): **enterprise** tokens reach their own enterprise only,
**operator** tokens issue events and read every enterprise, **engineer** tokens run
simulations, **admin** tokens do everything, tokens included.

Times carry their offset; powers are in kW, energies in kWh, money in CNY. Errors share one
body: `{"error": {"code", "message", "details": [{"field", "reason"}]}}`.
"""


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or ServiceSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_store(settings.db_url) as store:
            service = Service(settings, store)
            app.state.service = service
            await service.start()
            try:
                yield
            finally:
                await service.stop()

    app = FastAPI(
        title="vpp",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from vendored assets by vpp.api.ui
        redoc_url=None,
        responses={
            400: {"model": errors.ErrorBody, "description": "body is not JSON"},
            401: {"model": errors.ErrorBody, "description": "missing, unknown or revoked token"},
            403: {"model": errors.ErrorBody, "description": "role or enterprise not allowed"},
            404: {"model": errors.ErrorBody, "description": "no such enterprise, event, ..."},
            409: {"model": errors.ErrorBody, "description": "conflicts with the current state"},
            413: {"model": errors.ErrorBody, "description": "body too large"},
            422: {"model": errors.ErrorBody, "description": "invalid input, by field"},
        },
    )
    errors.install(app)
    for module in (
        enterprises,
        events,
        capability,
        simulations,
        simulated_devices,
        tokens,
        health,
        rotation,
    ):
        app.include_router(module.router)
    install_ui(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    return app
