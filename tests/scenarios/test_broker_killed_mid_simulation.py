"""A real broker killed mid-event under ``simulate --mqtt``: the simulated clock waits for it.

The broker is SIGKILLed for seconds of wall time, then started again on the same port. The
simulated clock must not run on while the run's own links are down (before, 14 s of wall
time became 4 h 41 min of simulated outage and both events failed): the outage costs at
most the ticks in which it really was down, the event is met, the leases go out again.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from mosquitto_broker import MosquittoBroker
from vpp.hil_sim.runner import LinksDownError, simulate
from vpp.hil_sim.scenario import load_scenario

pytestmark = pytest.mark.broker

DATA = Path(__file__).parent.parent / "data"

#: Wall time the broker stays dead; long enough that, before the fix, hours passed [s].
DOWN_WALL_S = 3.0

#: Ticks at most between the kill and the first tick the clock waits at (the kill lands
#: mid-tick; the tick after it may still run while the sockets report the loss).
TICKS_TO_NOTICE = 2


async def test_simulate_broker_killed_mid_event_costs_only_the_ticks_it_was_down(
    mosquitto: MosquittoBroker,
) -> None:
    """SIGKILL for 3 s of wall time mid-event: the event is met, leases are re-sent, and the
    simulated outage (ticks whose telemetry could not go out) is at most two ticks."""
    scenario = load_scenario(DATA / "tiny_scenario.yaml")
    tick = timedelta(seconds=scenario.tick_s)
    district = scenario.load_district()
    kill_at = datetime(2026, 7, 15, 11, 10, tzinfo=district.tz)  # event 11:00-11:30
    loop = asyncio.get_running_loop()
    killed: list[datetime] = []
    restarts: list[asyncio.Future[MosquittoBroker]] = []

    def restart() -> None:
        restarts.append(loop.run_in_executor(None, mosquitto.start))

    def progress(now: datetime, _end: datetime) -> None:
        if not killed and now >= kill_at:
            mosquitto.kill()
            killed.append(now)
            loop.call_later(DOWN_WALL_S, restart)

    result = await simulate(scenario, mqtt_url=mosquitto.url, progress=progress)
    for restarted in restarts:
        await restarted

    assert killed, "the broker should have been killed"
    assert restarts, "the broker should have been started again"
    assert [o.met for o in result.outcomes] == [True], result.outcomes
    assert result.adapter_stats.reconnects >= 1
    assert result.adapter_stats.resent > 0, "leases in force go out again on reconnection"
    assert result.clock_holds, "the clock should have waited for the broker"
    assert all(
        killed[0] <= hold.at <= killed[0] + TICKS_TO_NOTICE * tick for hold in result.clock_holds
    ), result.clock_holds
    resources = sum(len(g.devices) for g in result.gateways.values())
    failed = sum(g.stats.publish_failed for g in result.gateways.values())
    assert failed <= TICKS_TO_NOTICE * (resources + 1), (
        f"{failed} publishes failed: more simulated outage than {TICKS_TO_NOTICE} ticks"
    )
    assert all(not i.missing_meters for o in result.outcomes for i in o.intervals)


async def test_simulate_broker_gone_for_good_ends_the_run_with_links_down_error(
    mosquitto: MosquittoBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broker that never comes back ends the run with one error naming the links down,
    instead of a clock that waits for ever (the limit shortened here to 1 s of wall time)."""
    monkeypatch.setattr("vpp.hil_sim.runner.LINKS_DOWN_LIMIT_S", 1.0)
    scenario = load_scenario(DATA / "tiny_scenario.yaml")
    kill_at = datetime(2026, 7, 15, 11, 10, tzinfo=scenario.load_district().tz)

    def progress(now: datetime, _end: datetime) -> None:
        if now >= kill_at and mosquitto.running:
            mosquitto.kill()

    with pytest.raises(LinksDownError, match="--mqtt: the broker went away"):
        await simulate(scenario, mqtt_url=mosquitto.url, progress=progress)
