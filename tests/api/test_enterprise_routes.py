"""Registering enterprises, sites and resources; refusals name the field and store nothing."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from api_helpers import START, STORED_EVENT, Api, acme, delivery_row

from fake_protocol import FakeAdapter, fake_protocol_registered
from vpp.domain import DemandResponseEvent
from vpp.settlement import ResourceDelivery, settle_event


async def test_put_enterprise_creates_then_replaces(api: Api) -> None:
    created = await api.register("acme")
    assert created.status_code == 201
    assert created.json()["created"] is True
    again = await api.register("acme")
    assert again.status_code == 200
    assert again.json()["created"] is False
    stored = await api.client.get("/v1/enterprises/acme", headers=api.auth("acme"))
    assert stored.json() == created.json()["enterprise"]


async def test_invalid_resource_is_422_with_field_path_and_nothing_is_stored(api: Api) -> None:
    body = acme("acme")
    body["sites"][0]["resources"][1]["max_discharge_kw"] = -5
    response = await api.client.put("/v1/enterprises/acme", json=body, headers=api.auth("acme"))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert {
        "field": "sites.0.resources.1.max_discharge_kw",
        "reason": "Input should be greater than 0",
    } in error["details"]
    missing = await api.client.get("/v1/enterprises/acme", headers=api.auth("acme"))
    assert missing.status_code == 404


async def test_registration_that_breaks_the_district_is_refused_whole(api: Api) -> None:
    await api.register("acme")
    clash = acme("other")
    clash["sites"][0]["site_id"] = "acme-site"  # site ids name MQTT topics: unique
    response = await api.client.put("/v1/enterprises/other", json=clash, headers=api.auth("other"))
    assert response.status_code == 422
    details = response.json()["error"]["details"]
    assert details == [{"field": "sites.0.site_id", "reason": "duplicate 'acme-site'"}]
    unknown_feeder = acme("other")
    unknown_feeder["feeder_id"] = "f9"
    response = await api.client.put(
        "/v1/enterprises/other", json=unknown_feeder, headers=api.auth("other")
    )
    assert response.json()["error"]["details"] == [
        {"field": "feeder_id", "reason": "unknown feeder 'f9'"}
    ]
    listed = await api.client.get("/v1/enterprises", headers=api.auth("operator"))
    assert [e["enterprise_id"] for e in listed.json()["items"]] == ["acme"]
    assert api.service.district is not None
    assert [e.enterprise_id for e in api.service.district.enterprises] == ["acme"]


async def test_path_and_body_ids_must_agree(api: Api) -> None:
    response = await api.client.put(
        "/v1/enterprises/acme", json=acme("zeta"), headers=api.auth("acme")
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "enterprise_id"


async def test_put_resource_adds_then_replaces_it_on_its_site(api: Api) -> None:
    await api.register("acme")
    resource = copy.deepcopy(acme("acme")["sites"][0]["resources"][1])
    resource["resource_id"] = "bess-2"
    path = "/v1/enterprises/acme/sites/acme-site/resources/bess-2"
    added = await api.client.put(path, json=resource, headers=api.auth("acme"))
    assert added.status_code == 201
    resource["capacity_kwh"] = 500.0
    replaced = await api.client.put(path, json=resource, headers=api.auth("acme"))
    assert replaced.status_code == 200
    site = replaced.json()["enterprise"]["sites"][0]
    assert [r["resource_id"] for r in site["resources"]] == ["furnace", "bess", "bess-2"]
    assert site["resources"][2]["capacity_kwh"] == 500.0
    assert api.service.district is not None
    keys = {ref.key for ref in api.service.district.resources()}
    assert "acme-site/bess-2" in keys
    assert api.service.controller is not None
    assert "acme-site/bess-2" in {ref.key for ref in api.service.controller.district.resources()}
    missing = await api.client.put(
        "/v1/enterprises/acme/sites/nowhere/resources/bess-2",
        json=resource,
        headers=api.auth("acme"),
    )
    assert missing.status_code == 404


async def test_put_site_adds_a_site_to_the_enterprise(api: Api) -> None:
    await api.register("acme")
    site = copy.deepcopy(acme("acme")["sites"][0])
    site["site_id"] = "acme-east"
    response = await api.client.put(
        "/v1/enterprises/acme/sites/acme-east", json=site, headers=api.auth("acme")
    )
    assert response.status_code == 201
    assert [s["site_id"] for s in response.json()["enterprise"]["sites"]] == [
        "acme-site",
        "acme-east",
    ]


async def test_enterprise_list_pages_in_id_order(api: Api) -> None:
    for enterprise_id in ("acme", "other"):
        await api.register(enterprise_id)
    first = await api.client.get("/v1/enterprises?limit=1", headers=api.auth("operator"))
    assert first.json()["total"] == 2
    assert first.json()["next_offset"] == 1
    second = await api.client.get("/v1/enterprises?limit=1&offset=1", headers=api.auth("operator"))
    assert [e["enterprise_id"] for e in first.json()["items"] + second.json()["items"]] == [
        "acme",
        "other",
    ]
    assert second.json()["next_offset"] is None


async def test_openapi_document_and_interactive_docs_are_served(api: Api) -> None:
    document = (await api.client.get("/openapi.json")).json()
    assert "/v1/enterprises/{enterprise_id}" in document["paths"]
    docs = await api.client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


async def test_settlements_carry_the_enterprise_totals_across_every_page(api: Api) -> None:
    """Two settled events (120 CNY paid; 15 CNY owed) and one it was asked nothing in: the
    first page of one line still totals all three, the unasked one apart."""
    start = datetime(2026, 7, 15, 3, tzinfo=UTC)

    def line(asked_kw: float, response_kw: float, price: float, rule: str) -> dict[str, object]:
        record = ResourceDelivery(
            enterprise_id="acme",
            site_id="acme-site",
            resource_id="furnace",
            kind="curtailable_load",
            asked_kw=(asked_kw,),
            baseline_kw=(500.0,),
            measured_kw=(500.0 - response_kw,),
            price_cny_per_kwh=price,
        )
        settled = settle_event("ev", [record], 1.0, rule).for_enterprise("acme")
        return settled.model_dump(mode="json")

    await api.register("acme")
    lines = [line(100.0, 100.0, 1.2, "default"), line(100.0, 80.0, 1.5, "sichuan")]
    lines.append(line(0.0, 40.0, 1.0, "default"))
    for i, data in enumerate(lines):
        event = DemandResponseEvent(
            event_id=f"ev-{i}",
            start=start + timedelta(days=i),
            end=start + timedelta(days=i, hours=1),
            target_kw=100.0,
            issued_at=start - timedelta(days=1),
        )
        await api.service.store.events.create(event, start)
        await api.service.store.events.save_settlement(event.event_id, {"acme": data}, start)
    page = await api.client.get(
        "/v1/enterprises/acme/settlements", params={"limit": 1}, headers=api.auth("acme")
    )
    assert page.status_code == 200
    body = page.json()
    assert (len(body["items"]), body["total"]) == (1, 3)
    totals = body["totals"]
    assert (totals["events"], totals["unasked_events"]) == (2, 1)
    assert totals["asked_kwh"] == 200.0
    assert totals["delivered_kwh"] == 180.0
    assert totals["unasked_kwh"] == 40.0
    assert (totals["payment_cny"], totals["penalty_cny"]) == (120.0, 15.0)
    assert totals["net_cny"] == 105.0
    assert totals["performance_ratio"] == 0.9


async def test_enterprise_event_counts_past_the_window_only_the_intervals_it_was_asked(
    api: Api,
) -> None:
    """acme shed 100 kW over the 60-min window and was held 100 kW for one quarter-hour
    past it, then rebounded 100 kW above its baseline: its event shows 125 kWh asked and
    125 delivered; the rebound, in an interval it was not asked, is not its (rule 9)."""
    await api.register("acme")
    await api.service.store.events.create(STORED_EVENT, START)
    rows = [
        *(delivery_row(q, "acme", asked_kw=100.0, measured_kw=400.0) for q in range(5)),
        delivery_row(5, "acme", asked_kw=0.0, measured_kw=600.0),
    ]
    await api.service.store.events.record_progress("ev-1", 0, [], [], rows, START)
    events = (await api.client.get("/v1/enterprises/acme/events", headers=api.auth("acme"))).json()
    item = next(i for i in events["items"] if i["event"]["event_id"] == "ev-1")
    assert (item["asked_kwh"], item["delivered_kwh"]) == (125.0, 125.0)


async def test_a_site_on_an_unknown_protocol_or_a_bad_connection_block_is_refused_whole(
    api: Api,
) -> None:
    """Nothing is stored and no device is reached: 422 naming the resource's field."""
    body = acme("acme")
    body["sites"][0]["protocol"] = "pigeon"
    response = await api.client.put("/v1/enterprises/acme", json=body, headers=api.auth("acme"))
    assert response.status_code == 422
    details = response.json()["error"]["details"]
    assert {d["field"] for d in details} == {
        f"sites.0.resources.{n}.protocol" for n in range(len(body["sites"][0]["resources"]))
    }
    assert "'pigeon' is not known" in details[0]["reason"]

    with fake_protocol_registered():
        body["sites"][0]["protocol"] = "fake"
        for n, resource in enumerate(body["sites"][0]["resources"], start=1):
            resource["connection"] = {"device_no": n}
        body["sites"][0]["resources"][1]["connection"] = {"device_no": 0, "colour": "red"}
        response = await api.client.put("/v1/enterprises/acme", json=body, headers=api.auth("acme"))
        assert response.status_code == 422
        fields = {d["field"] for d in response.json()["error"]["details"]}
        assert fields == {
            "sites.0.resources.1.connection.device_no",
            "sites.0.resources.1.connection.colour",
        }
        missing = await api.client.get("/v1/enterprises/acme", headers=api.auth("acme"))
        assert missing.status_code == 404

        body["sites"][0]["resources"][1]["connection"] = {"device_no": 2}
        unset = await api.client.put("/v1/enterprises/acme", json=body, headers=api.auth("acme"))
        assert unset.status_code == 422  # the service has no settings for the protocol
        assert "no fake settings" in unset.json()["error"]["details"][0]["reason"]

        fabric = api.service.fabric
        assert fabric is not None
        created_adapters: list[FakeAdapter] = []
        fabric.settings["fake"] = created_adapters
        created = await api.client.put("/v1/enterprises/acme", json=body, headers=api.auth("acme"))
        assert created.status_code == 201, created.text
        assert fabric.router is not None
        assert set(fabric.router.adapters) == {"mqtt", "fake"}
        (adapter,) = created_adapters
        assert adapter.started
        assert adapter.keys == {
            f"acme-site/{r['resource_id']}" for r in body["sites"][0]["resources"]
        }
