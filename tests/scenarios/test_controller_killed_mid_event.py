"""The controller dies mid-event: every device returns to normal at the end of its lease."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from mosquitto_broker import MosquittoBroker
from scenarios.harness import TICK, Scene, short_event
from vpp.domain import SetpointMode
from vpp.hil_sim.physics import DEFAULT_SETTINGS

pytestmark = pytest.mark.broker

#: A full-scale ramp of each kind in the simulator's physics [s].
RAMP_S = {
    "battery": DEFAULT_SETTINGS.battery_ramp_s,
    "curtailable_load": DEFAULT_SETTINGS.curtailable_ramp_s,
}


async def test_controller_killed_mid_event_leaves_devices_normal_after_their_leases(
    mosquitto: MosquittoBroker,
) -> None:
    """With nobody left to release them, the gateways end every command at its
    ``valid_until`` themselves; from then on each device draws its normal power."""
    event = short_event(target_kw=600.0)
    async with Scene(mqtt_url=mosquitto.url) as scene:
        run = scene.submit(event)
        await scene.run_until(event.start + timedelta(minutes=16))
        killed_at = scene.now
        in_force = [
            s for s in scene.adapter.in_force(killed_at) if s.mode is not SetpointMode.RELEASE
        ]
        await scene.kill_controller()

        lease_end: dict[str, datetime] = {}
        for setpoint in in_force:
            key = f"{setpoint.site_id}/{setpoint.resource_id}"
            lease_end[key] = max(lease_end.get(key, setpoint.valid_until), setpoint.valid_until)
        assert set(lease_end) == set(run.kept()), "every participant holds a lease"
        for key, until in lease_end.items():
            gateway, resource_id = scene.gateway_of(key), key.split("/")[1]
            assert gateway.active_command(resource_id, until - timedelta(seconds=1)) is not None
            assert gateway.active_command(resource_id, until) is None

        await scene.run_until(event.end + timedelta(minutes=15))

    assert not run.lifecycle.finished, "nobody finished the event"
    kinds = {ref.key: ref.resource.kind for ref in scene.district.resources()}
    for key, kind in kinds.items():
        until = lease_end.get(key, killed_at)
        settled = until + timedelta(seconds=RAMP_S[kind]) + TICK
        samples = [s for s in scene.samples(key) if s.ts > killed_at]
        held = [s for s in samples if s.mid < until]
        after = [s for s in samples if s.mid >= until]
        assert all(s.command_kw is not None for s in held), f"{key}: lease cut short"
        assert after, f"{key}: no trace after its lease"
        assert all(s.command_kw is None for s in after), f"{key}: command outlived its lease"
        normal = [s for s in after if s.ts >= settled]
        assert len(normal) >= 10
        for s in normal:
            assert s.power_kw == pytest.approx(s.counterfactual_kw, abs=1e-6), (
                f"{key} at {s.ts:%H:%M}: {s.power_kw:.3f} kW, normally {s.counterfactual_kw:.3f}"
            )
