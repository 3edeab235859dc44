"""What a (re)started service does with the store it finds: registrations come back, an
event whose window passed while it was down is settled from what was measured, an event
still ahead is planned again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from api_helpers import DATA, acme, open_api, settings_for

from vpp.domain import DemandResponseEvent, Enterprise
from vpp.store import DeliveryRow, open_store


async def test_start_settles_passed_events_and_replans_pending_ones(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    passed_start = now.replace(minute=0) - timedelta(hours=3)
    passed = DemandResponseEvent(
        event_id="passed",
        start=passed_start,
        end=passed_start + timedelta(minutes=30),
        target_kw=100.0,
        issued_at=passed_start - timedelta(hours=1),
    )
    ahead_start = now.replace(minute=0) + timedelta(hours=2)
    ahead = passed.model_copy(
        update={
            "event_id": "ahead",
            "start": ahead_start,
            "end": ahead_start + timedelta(minutes=30),
            "issued_at": now - timedelta(minutes=5),
        }
    )
    async with open_store(settings.db_url) as store:
        await store.enterprises.save([Enterprise.model_validate(acme())], now)
        for event in (passed, ahead):
            await store.events.create(event, event.issued_at)
        await store.events.record_progress(
            "passed",
            0,
            [(1, passed_start, "active", "")],
            [],
            [
                DeliveryRow(
                    event_id="passed",
                    site_id="acme-site",
                    resource_id="bess",
                    interval_start=passed_start,
                    enterprise_id="acme",
                    kind="battery",
                    asked_kw=100.0,
                    baseline_kw=0.0,
                    measured_kw=-100.0,
                    price_cny_per_kwh=0.5,
                )
            ],
            passed_start,
        )

    async with open_api(settings) as api:
        await api.service.sync_once()
        assert api.service.district is not None
        assert [e.enterprise_id for e in api.service.district.enterprises] == ["acme"]
        view = (await api.client.get("/v1/events/passed", headers=api.auth("operator"))).json()
        assert view["state"] == "completed"
        assert view["history"][-1]["note"] == "the window passed while the service was down"
        assert [i["delivered_kw"] for i in view["intervals"]] == [100.0, None]
        assert view["settlement"]["asked_kwh"] == 25.0  # 100 kW for one 15-min interval
        assert view["settlement"]["delivered_kwh"] == 25.0

        ahead_view = (await api.client.get("/v1/events/ahead", headers=api.auth("operator"))).json()
        assert ahead_view["state"] in ("received", "scheduled")
        assert api.service.controller is not None
        assert "ahead" in api.service.controller.runs
        assert ahead_view["history"][-1]["incarnation"] == 1


async def test_district_file_enterprises_are_registered_on_first_start_only(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path, district_file=DATA / "tiny_district.yaml")
    async with open_api(settings) as api:
        listed = await api.client.get("/v1/enterprises", headers=api.auth("operator"))
        assert [e["enterprise_id"] for e in listed.json()["items"]] == ["mall", "steel"]
        changed = Enterprise.model_validate(listed.json()["items"][0]).model_copy(
            update={"name": "Renamed mall"}
        )
        await api.service.register(changed)
    async with open_api(settings) as api:  # the store, not the file, owns them now
        mall = await api.client.get("/v1/enterprises/mall", headers=api.auth("operator"))
        assert mall.json()["name"] == "Renamed mall"
