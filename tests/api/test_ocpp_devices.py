"""``vpp serve --ocpp-port``: a pool registered on ``ocpp`` is reached through the service's
central system, its charge points logging in with passwords from ``vpp ocpp password``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from api_helpers import open_api, settings_for
from websockets.exceptions import InvalidStatus

from ocpp_peer import charge_point
from vpp.device_adapters.ocpp import OcppServerSettings, issue_password

from builders import enterprise

POOL: dict[str, Any] = {
    "kind": "ev_charger_pool",
    "resource_id": "ev",
    "protocol": "ocpp",
    "chargers": [{"charger_id": "c1", "max_kw": 22.0}],
    "connection": {
        "charge_points": [
            {"charge_point_id": "ACME-1", "connectors": [{"connector_id": 1, "max_kw": 22.0}]}
        ]
    },
}


async def test_a_registered_ocpp_pool_is_reached_through_the_central_system(
    tmp_path: Path,
) -> None:
    password_file = tmp_path / "ocpp" / "passwd"
    password = issue_password(password_file, "ACME-1")
    ocpp = OcppServerSettings(host="127.0.0.1", port=0, password_file=password_file)
    async with open_api(settings_for(tmp_path, ocpp=ocpp)) as api:
        fabric = api.service.fabric
        assert fabric is not None
        response = await api.client.put(
            "/v1/enterprises/acme", json=enterprise("acme", [POOL]), headers=api.auth("acme")
        )
        assert response.status_code in (200, 201), response.text
        assert fabric.ocpp is not None  # listening from the first registered district on
        url = f"ws://127.0.0.1:{fabric.ocpp.system.port}"
        with pytest.raises(InvalidStatus):  # not registered
            async with charge_point(url, "OTHER-1", password):
                pass
        async with charge_point(url, "ACME-1", password) as cp:
            assert (await cp.boot()).status == "Accepted"
        assert fabric.router is not None
        assert fabric.router.routes == {"acme-site/ev": "ocpp"}
