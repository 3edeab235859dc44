"""A charge point from the field's own library (``ocpp.v16.ChargePoint``) for tests: it
connects to vpp's central system over a real websocket and records what it is told."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.client import connect

from vpp.device_adapters.ocpp import basic_auth_header


class PeerChargePoint(ChargePoint):  # type: ignore[misc]
    """Answers SetChargingProfile with ``answer`` and queues every profile it gets."""

    def __init__(self, cp_id: str, connection: Any) -> None:
        super().__init__(cp_id, connection, response_timeout=5)
        self.answer = "Accepted"
        self.profiles: asyncio.Queue[tuple[int, dict[str, Any]]] = asyncio.Queue()
        self.clears: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    @on(Action.set_charging_profile)  # type: ignore[untyped-decorator]
    def _on_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any]) -> Any:
        self.profiles.put_nowait((connector_id, cs_charging_profiles))
        return call_result.SetChargingProfile(status=self.answer)

    @on(Action.clear_charging_profile)  # type: ignore[untyped-decorator]
    def _on_clear(self, **kwargs: Any) -> Any:
        self.clears.put_nowait(kwargs)
        return call_result.ClearChargingProfile(status="Accepted")

    async def boot(self) -> Any:
        return await self.call(
            call.BootNotification(charge_point_model="T1", charge_point_vendor="Test")
        )

    async def start_tx(self, connector_id: int, at: datetime) -> int:
        result = await self.call(
            call.StartTransaction(
                connector_id=connector_id, id_tag="TAG1", meter_start=0, timestamp=at.isoformat()
            )
        )
        return int(result.transaction_id)

    async def meter(
        self, connector_id: int, power_w: float, at: datetime, transaction_id: int | None = None
    ) -> Any:
        sample = {"value": f"{power_w:.1f}", "measurand": "Power.Active.Import", "unit": "W"}
        return await self.call(
            call.MeterValues(
                connector_id=connector_id,
                transaction_id=transaction_id,
                meter_value=[{"timestamp": at.isoformat(), "sampledValue": [sample]}],
            )
        )


@asynccontextmanager
async def charge_point(
    url: str, cp_id: str, password: str | None, *, scheme: str = "ws", ssl: Any = None
) -> AsyncIterator[PeerChargePoint]:
    """A connected peer running its receive loop; disconnected on exit."""
    headers = {} if password is None else {"Authorization": basic_auth_header(cp_id, password)}
    async with connect(
        f"{url}/{cp_id}",
        subprotocols=["ocpp1.6"],
        additional_headers=headers,
        ssl=ssl,  # type: ignore[list-item]
    ) as ws:
        peer = PeerChargePoint(cp_id, ws)
        task = asyncio.create_task(peer.start())
        try:
            yield peer
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
