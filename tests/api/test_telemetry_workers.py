"""`vpp serve --telemetry-workers`: the service leaves telemetry to worker processes on the
broker (a shared subscription) and merges their batches into its controller's monitor."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_helpers import DATA, open_api, settings_for

from mosquitto_broker import MosquittoBroker, wait_until
from vpp.api.service import Service
from vpp.device_adapters.mqtt import MqttLink
from vpp.telemetry_worker import TelemetryWorker

pytestmark = pytest.mark.broker


@pytest.mark.slow
async def test_the_service_merges_its_workers_telemetry_and_reads_none_itself(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    settings = settings_for(
        tmp_path,
        district_file=DATA / "tiny_district.yaml",
        mqtt_url=mosquitto.url,
        simulated_devices=True,
        device_tick_s=0.5,
        telemetry_workers=True,
    )
    async with open_api(settings) as api:
        service: Service = api.app.state.service
        controller = service.controller
        assert controller is not None
        resources = {ref.key: ref.resource for ref in service.district.resources()}
        worker = TelemetryWorker(
            MqttLink(mosquitto.url, "vpp-telemetry-w1"), resources, worker_id="w1", flush_s=0.1
        )
        await worker.start()
        try:
            await wait_until(
                lambda: all(controller.monitor.last_seen(key) for key in resources),
                "every resource's telemetry merged into the controller's monitor",
                timeout_s=60,
            )
        finally:
            await worker.close()
        stats = service.fabric.adapter.stats if service.fabric else None
        assert stats is not None
        assert stats.received["telemetry"] == 0  # none read by the controller itself
        assert worker.link.stats.received > 0
        assert controller.gate.accepted >= len(resources)  # the workers' gate counts


def test_telemetry_workers_need_a_broker_and_the_wall_clock(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="need a broker"):
        settings_for(tmp_path, telemetry_workers=True)
    with pytest.raises(ValueError, match="wall clock"):
        settings_for(tmp_path, telemetry_workers=True, mqtt_url="mqtt://127.0.0.1:1", time_scale=60)
