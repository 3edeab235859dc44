"""GET /v1/rotation: the service's rotation ledger over the window, for operators."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api_helpers import EVENT, Api

from vpp.domain import RotationEntry

START = datetime(2026, 7, 15, 3, tzinfo=UTC)


def entry(enterprise_id: str, days: int, called: bool) -> RotationEntry:
    return RotationEntry(
        event_id=f"ev-{days}",
        start=START + timedelta(days=days),
        enterprise_id=enterprise_id,
        called=called,
        asked_kwh=100.0 if called else 0.0,
        delivered_kwh=90.0 if called else 0.0,
        net_cny=45.0 if called else 0.0,
    )


async def test_rotation_shows_calls_energy_earnings_and_fairness(api: Api) -> None:
    """acme called in 2 of 2 events, other in 0: the counts the next plan reads, and a spread."""
    await api.register("acme")
    await api.register("other")
    await api.service.store.rotation.record(
        [entry("acme", 0, True), entry("other", 0, False), entry("acme", 1, True)]
    )
    await api.service.store.rotation.record([entry("other", 1, False)])
    until = (START + timedelta(days=2)).isoformat()
    response = await api.client.get(
        "/v1/rotation", params={"until": until}, headers=api.auth("operator")
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["events"] == 2
    lines = {line["enterprise_id"]: line for line in body["enterprises"]}
    assert (lines["acme"]["calls"], lines["acme"]["rotation_count"]) == (2, 2)
    assert (lines["acme"]["asked_kwh"], lines["acme"]["net_cny"]) == (200.0, 90.0)
    assert (lines["other"]["calls"], lines["other"]["events"]) == (0, 2)
    assert body["calls_per_mw_spread"] > 0
    before = await api.client.get(
        "/v1/rotation", params={"until": START.isoformat()}, headers=api.auth("operator")
    )
    assert before.json()["events"] == 0


async def test_rotation_is_for_operators_only(api: Api) -> None:
    await api.register("acme")
    response = await api.client.get("/v1/rotation", headers=api.auth("acme"))
    assert response.status_code == 403


async def test_a_new_event_is_planned_with_the_ledger_s_calls(api: Api) -> None:
    """Two identical enterprises; the ledger has acme called in 10 past events: the plan of
    a new event spares acme (the rotation adder makes it 0.5 CNY/kWh dearer)."""
    await api.register("acme")
    await api.register("other")
    now = api.service.clock.now()
    await api.service.store.rotation.record(
        [
            RotationEntry(
                event_id=f"past-{i}",
                start=now - timedelta(days=i + 1),
                enterprise_id="acme",
                called=True,
            )
            for i in range(10)
        ]
    )
    body = EVENT | {"target_kw": 150}  # real-time notice: batteries only, 200 kW each
    created = await api.client.post("/v1/events", json=body, headers=api.auth("operator"))
    assert created.status_code == 201, created.text
    plan = created.json()["plan"]
    assert plan["enterprises"] == ["other"], plan
