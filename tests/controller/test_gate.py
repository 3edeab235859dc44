"""The plausibility gate where telemetry and statuses enter the controller: refused readings
are counted, logged once per meter per period and never reach the monitor; a stray
``offline`` is overruled by the site's next plausible reading.

Messages travel the real path: a gateway's link publishes on the in-memory broker, the
controller's contract adapter decodes them and hands them to the controller.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vpp.controller import Controller, ControllerSettings, SimulatedClock
from vpp.controller.gate import PlausibilityGate
from vpp.device_adapters import ContractAdapter, InMemoryBroker, Link
from vpp.device_adapters.base import TelemetryReceived
from vpp.domain import Battery, District, PlausibilitySettings, Telemetry

from builders import at, battery, curtailable, district, enterprise

NOW = at(11.0)
SITE = "steel-site"
BESS = f"{SITE}/bess"  # 500 kW each way: readings within -555..555 kW are plausible
MILL = f"{SITE}/mill"
DISTRICT = district(
    enterprise("steel", [curtailable("mill", [(200.0, 1.0)]), battery("bess")]),
    meter_history={"source": "synthetic", "seed": 7, "days": 30, "noise_pct": 2},
)


@dataclass
class Bench:
    """A controller on a simulated clock and a gateway link that publishes raw payloads."""

    controller: Controller
    clock: SimulatedClock
    gateway: Link
    published: int = 0

    async def telemetry(self, key: str, **payload: Any) -> None:
        body = {"ts": self.clock.now().isoformat(), "power_kw": 0.0} | payload
        await self._publish(f"vpp/v1/{key}/telemetry", body)

    async def status(self, state: str, ts: datetime | None = None) -> None:
        body = {"state": state, "ts": (ts or self.clock.now()).isoformat()}
        await self._publish(f"vpp/v1/{SITE}/status", body)

    async def _publish(self, topic: str, body: dict[str, Any]) -> None:
        assert await self.gateway.publish(topic, json.dumps(body).encode())
        self.published += 1
        await self.wait_for(lambda: self.arrived == self.published)

    @property
    def arrived(self) -> int:
        return sum(self.controller.adapter.stats.received.values())

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        for _ in range(10_000):
            if predicate():
                return
            await asyncio.sleep(0)
        raise AssertionError("the controller never received what was published")


@asynccontextmanager
async def bench(
    d: District = DISTRICT, settings: ControllerSettings | None = None
) -> AsyncIterator[Bench]:
    broker = InMemoryBroker()
    clock = SimulatedClock(NOW)
    controller = Controller(d, ContractAdapter(broker.link("ctl"), clock.now), clock, settings)
    gateway = broker.link("gw")
    await controller.start()
    await gateway.start()
    try:
        yield Bench(controller, clock, gateway)
    finally:
        await gateway.close()
        await controller.stop(release=False)


async def test_gate_refuses_far_future_reading_and_the_meter_keeps_reporting() -> None:
    """Issue 10: a reading stamped 2999-12-31 used to lock the battery's meter for the day."""
    async with bench() as b:
        await b.telemetry(BESS, ts="2999-12-31T23:59:59+00:00", power_kw=-400.0)
        b.clock.advance_to(NOW + timedelta(minutes=1))
        await b.telemetry(BESS, power_kw=-300.0)
        monitor = b.controller.monitor
        assert monitor.last_seen(BESS) == b.clock.now()
        assert monitor.samples == 1
        assert dict(b.controller.gate.refused) == {"ahead_of_clock": 1}


async def test_gate_refuses_power_outside_the_envelope_so_it_delivers_nothing() -> None:
    """Issue 10: ``power_kw: -99999999`` on a load's topic used to "deliver" millions of kW."""
    async with bench() as b:
        await b.telemetry(MILL, power_kw=-99999999)
        monitor = b.controller.monitor
        assert monitor.samples == 0
        assert monitor.mean_kw(MILL, monitor.interval_start(NOW)) is None
        assert monitor.refused_in(MILL, [monitor.interval_start(NOW)]) == 1
        assert dict(b.controller.gate.refused) == {"power_outside_envelope": 1}


async def test_gate_refuses_readings_of_unregistered_resources() -> None:
    async with bench() as b:
        await b.telemetry("nobody-site/ghost", power_kw=10.0)
        assert b.controller.monitor.samples == 0
        assert dict(b.controller.gate.refused) == {"unknown_resource": 1}


async def test_gate_logs_a_meter_once_per_period_and_counts_every_refusal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A flood of bad readings: each counted, one log line per meter per minute, and the
    first line after a quiet minute says how many were not logged."""
    caplog.set_level(logging.WARNING, logger="vpp.controller.gate")
    async with bench() as b:
        for second in range(0, 120, 10):
            b.clock.advance_to(NOW + timedelta(seconds=second))
            await b.telemetry(MILL, power_kw=1e7)
            await b.telemetry(BESS, power_kw=-1e7)
        assert b.controller.gate.refused_total == 24
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 4, lines  # two meters, at 0 s and at 60 s
    assert sum("5 more refused" in line for line in lines) == 2


async def test_a_battery_claiming_energy_owed_is_refused_and_the_log_says_what_it_claimed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Only an EV pool owes its users energy: a battery's reading saying it owes 40 kWh is
    refused and counted, its power never reaches the monitor, and the log line has the
    claim."""
    caplog.set_level(logging.WARNING, logger="vpp.controller.gate")
    async with bench() as b:
        await b.telemetry(BESS, power_kw=-100.0, energy_owed_kwh=40.0)
        assert b.controller.monitor.samples == 0
        assert dict(b.controller.gate.refused) == {"energy_owed_outside_range": 1}
    [line] = [r.getMessage() for r in caplog.records]
    assert "energy owed 40 kWh" in line


async def test_stray_offline_status_is_overruled_by_the_next_plausible_reading() -> None:
    """A well-formed ``offline`` from a faulty gateway (or anyone) while the site's meters
    keep reporting: the next reading stamped after it puts the site back online."""
    async with bench() as b:
        await b.status("offline")
        assert b.controller.site_online[SITE] is False
        await b.telemetry(BESS, power_kw=-100.0)  # stamped when the offline came: no proof
        assert b.controller.site_online[SITE] is False
        b.clock.advance_to(NOW + timedelta(seconds=30))
        await b.telemetry(BESS, power_kw=-100.0)
        assert b.controller.site_online[SITE] is True


async def test_refused_reading_does_not_overrule_an_offline_status() -> None:
    async with bench() as b:
        await b.status("offline")
        b.clock.advance_to(NOW + timedelta(seconds=30))
        await b.telemetry(BESS, power_kw=-1e8)
        assert b.controller.site_online[SITE] is False


async def test_status_stamped_ahead_of_the_clock_is_ignored() -> None:
    async with bench() as b:
        await b.status("online")
        await b.status("offline", ts=NOW + timedelta(days=1))
        assert b.controller.site_online[SITE] is True
        assert dict(b.controller.gate.refused) == {"status_ahead_of_clock": 1}


async def test_gate_uses_the_skew_and_tolerance_of_the_controller_settings() -> None:
    strict = ControllerSettings(
        plausibility=PlausibilitySettings(max_clock_skew_s=0, tolerance_pct=0, tolerance_kw=0)
    )
    async with bench(settings=strict) as b:
        await b.telemetry(BESS, ts=(NOW + timedelta(seconds=1)).isoformat())
        await b.telemetry(BESS, power_kw=-500.5)
        await b.telemetry(BESS, power_kw=-500.0)
        assert dict(b.controller.gate.refused) == {
            "ahead_of_clock": 1,
            "power_outside_envelope": 1,
        }


# -- invariant: a refused reading never changes what the monitor knows ------------------

_GOOD = st.tuples(
    st.integers(min_value=0, max_value=170),  # age [s], within the staleness window
    st.floats(min_value=-500.0, max_value=500.0),
    st.floats(min_value=0.0, max_value=1.0),
)
_BAD = st.one_of(
    st.builds(lambda s, p: {"ts_s": s, "power_kw": p}, st.integers(31, 10**9), st.just(0.0)),
    st.builds(lambda s, p: {"ts_s": s, "power_kw": p}, st.integers(-(10**6), -181), st.just(0.0)),
    st.builds(
        lambda s, p: {"ts_s": s, "power_kw": p},
        st.integers(-170, 30),
        st.floats(min_value=556.0, max_value=1e12) | st.floats(min_value=-1e12, max_value=-556.0),
    ),
)


def _monitor_view(controller: Controller) -> dict[str, Any]:
    monitor = controller.monitor
    starts = [monitor.interval_start(NOW + timedelta(minutes=m)) for m in (-15, 0, 15)]
    return {
        "means": [monitor.mean_kw(BESS, s) for s in starts],
        "last_seen": monitor.last_seen(BESS),
        "last_soc": monitor.last_soc(BESS),
        "stuck_since": monitor.stuck_since(BESS),
        "samples": monitor.samples,
        "out_of_order": monitor.out_of_order,
        "site_online": dict(controller.site_online),
    }


async def _feed(
    good: list[tuple[int, float, float]], bad: list[tuple[int, dict[str, Any]]]
) -> tuple[dict[str, Any], int]:
    """Publish the good readings (oldest first) with the bad ones slipped in before the
    good reading of each bad one's position; the monitor's view and the refusal count."""
    async with bench() as b:
        ordered = sorted(good, key=lambda g: -g[0])
        for i, (age_s, power_kw, soc) in enumerate(ordered):
            for _, spec in (x for x in bad if x[0] == i):
                ts = NOW + timedelta(seconds=spec["ts_s"])
                await b.telemetry(BESS, ts=ts.isoformat(), power_kw=spec["power_kw"])
            ts = NOW - timedelta(seconds=age_s)
            await b.telemetry(BESS, ts=ts.isoformat(), power_kw=power_kw, soc=soc)
        for _, spec in (x for x in bad if x[0] >= len(ordered)):
            ts = NOW + timedelta(seconds=spec["ts_s"])
            await b.telemetry(BESS, ts=ts.isoformat(), power_kw=spec["power_kw"])
        return _monitor_view(b.controller), b.controller.gate.refused_total


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    good=st.lists(_GOOD, max_size=8),
    bad=st.lists(st.tuples(st.integers(0, 8), _BAD), min_size=1, max_size=6),
)
def test_refused_readings_never_change_the_monitor(
    good: list[tuple[int, float, float]], bad: list[tuple[int, dict[str, Any]]]
) -> None:
    """Invariant: whatever impossible readings are slipped into a meter's stream, the
    monitor ends exactly where the plausible readings alone leave it, and each is counted."""
    alone, refused_alone = asyncio.run(_feed(good, []))
    mixed, refused_mixed = asyncio.run(_feed(good, bad))
    assert mixed == alone
    assert refused_alone == 0
    assert refused_mixed == len(bad)


def test_gate_works_the_range_out_again_for_a_new_registration():
    """The plausible range is kept per meter, but only for the registration it came from:
    a meter registered anew (larger here) is judged by its new limits at once."""
    small = Battery.model_validate(battery("bess"))
    large = Battery.model_validate(battery("bess", max_charge_kw=2000.0))
    registered = {BESS: small}
    gate = PlausibilityGate(PlausibilitySettings(), 900.0, registered.get)
    reading = TelemetryReceived(SITE, "bess", Telemetry(ts=NOW, power_kw=1500.0))
    assert gate.check_telemetry(reading, NOW) == "power_outside_envelope"
    assert gate.check_telemetry(reading, NOW) == "power_outside_envelope"
    registered[BESS] = large
    assert gate.check_telemetry(reading, NOW) is None
    registered[BESS] = small
    assert gate.check_telemetry(reading, NOW) == "power_outside_envelope"
