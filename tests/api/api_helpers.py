"""The API in-process for tests: the real app (store on a SQLite file, controller, embedded
broker, simulated gateways) behind an httpx client, with one token per role; request bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from vpp.api import Service, ServiceSettings, create_app
from vpp.domain import DemandResponseEvent
from vpp.store import DeliveryRow, Role

from builders import battery, curtailable, enterprise

DATA = Path(__file__).parent.parent / "data"

#: A 60-min event whose deliveries tests write to the store by hand (:func:`delivery_row`).
START = datetime(2026, 7, 15, 3, tzinfo=UTC)
STORED_EVENT = DemandResponseEvent(
    event_id="ev-1",
    start=START,
    end=START + timedelta(minutes=60),
    target_kw=100.0,
    issued_at=START - timedelta(hours=1),
)


def delivery_row(
    quarter: int,
    enterprise_id: str,
    *,
    asked_kw: float,
    measured_kw: float | None,
    refused_samples: int = 0,
) -> DeliveryRow:
    """A stored delivery of ``STORED_EVENT``: a curtailable load on a flat 500 kW baseline,
    in the ``quarter``-th 15-min interval from its start (past the window from 4 on)."""
    return DeliveryRow(
        event_id=STORED_EVENT.event_id,
        site_id=f"{enterprise_id}-site",
        resource_id="load",
        interval_start=START + timedelta(minutes=15 * quarter),
        enterprise_id=enterprise_id,
        kind="curtailable_load",
        asked_kw=asked_kw,
        baseline_kw=500.0,
        measured_kw=measured_kw,
        price_cny_per_kwh=1.0,
        refused_samples=refused_samples,
    )


def acme(enterprise_id: str = "acme") -> dict[str, Any]:
    """An enterprise with a curtailable load and a battery, as a registration body."""
    return enterprise(
        enterprise_id,
        [
            curtailable(
                "furnace", [(150.0, 1.0), (150.0, 1.5)], max_events_per_day=4, min_rest_min=0
            ),
            battery(capacity_kwh=400.0, max_charge_kw=200.0, max_discharge_kw=200.0),
        ],
    )


@dataclass
class Api:
    app: FastAPI
    client: httpx.AsyncClient
    tokens: dict[str, str]

    @property
    def service(self) -> Service:
        service: Service = self.app.state.service
        return service

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def register(self, enterprise_id: str = "acme") -> httpx.Response:
        return await self.client.put(
            f"/v1/enterprises/{enterprise_id}",
            json=acme(enterprise_id),
            headers=self.auth(enterprise_id),
        )


@asynccontextmanager
async def open_api(settings: ServiceSettings) -> AsyncIterator[Api]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        service: Service = app.state.service
        now = datetime.now(UTC)
        tokens = {}
        for who, role, scope in (
            ("admin", Role.ADMIN, None),
            ("operator", Role.OPERATOR, None),
            ("engineer", Role.ENGINEER, None),
            ("acme", Role.ENTERPRISE, "acme"),
            ("other", Role.ENTERPRISE, "other"),
        ):
            tokens[who] = (await service.store.tokens.create(role, now, scope))[1]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://vpp") as client:
            yield Api(app, client, tokens)


def settings_for(tmp_path: Path, **extra: Any) -> ServiceSettings:
    return ServiceSettings(
        db_url=f"sqlite+aiosqlite:///{tmp_path / 'vpp.db'}",
        data_dir=tmp_path / "data",
        scenarios_dir=DATA,
        sync_period_s=0.1,
        **extra,
    )


#: A short peak-shaving event the acme enterprise can meet, 20 min from now.
EVENT: dict[str, Any] = {
    "lead_min": 20,
    "duration_min": 30,
    "target_kw": 200,
    "notice": "real_time",
}
