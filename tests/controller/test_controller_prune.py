"""A controller that runs for months forgets finished events and old telemetry."""

from __future__ import annotations

from datetime import timedelta

from scenarios.harness import Scene, short_event
from vpp.controller import ControllerSettings


async def test_prune_forgets_events_finished_before_the_retention_and_keeps_live_ones() -> None:
    """With a one-hour retention, an event that ended more than an hour ago is forgotten
    with its telemetry intervals; a live event and the recent intervals are kept."""
    settings = ControllerSettings(retention_h=1.0)
    old = short_event(target_kw=300.0)
    async with Scene(settings=settings) as scene:
        controller = scene.controller
        scene.submit(old)
        await scene.run_until(old.end + timedelta(minutes=75))
        await controller.wait(old.event_id)
        later = short_event(target_kw=300.0, start_h=14.0).model_copy(
            update={"event_id": "later", "issued_at": scene.now}
        )
        scene.submit(later)
        await scene.settle()
        key = next(iter(k for k in scene.district.resources())).key
        recent = controller.monitor.interval_start(scene.now - timedelta(minutes=15))
        assert controller.monitor.mean_kw(key, old.start) is not None

        controller.prune(scene.now)

        assert set(controller.runs) == {"later"}
        assert controller.monitor.mean_kw(key, old.start) is None
        assert controller.monitor.mean_kw(key, recent) is not None
        assert controller.monitor.last_seen(key) is not None
        await scene.run_until(later.end + timedelta(minutes=15))
        await controller.wait("later")
    assert controller.runs["later"].lifecycle.finished
