"""Run a scenario: the controller and one simulated gateway per site, on a simulated clock.

Embedded runs carry the contract's topics and payloads over the in-memory broker; with an
MQTT URL every gateway and the controller are separate clients of a real broker. Either
way the clock moves one tick at a time, and only once every message sent has arrived and
no solve is running, so a run is reproducible and goes as fast as the work allows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from vpp.controller import (
    Controller,
    EventOutcome,
    EventRun,
    Fault,
    Monitor,
    SimulatedClock,
    event_outcome,
)
from vpp.device_adapters import (
    AdapterStats,
    ContractAdapter,
    Link,
    LinkFactory,
    Traffic,
)
from vpp.device_adapters.contract import SUBSCRIPTIONS
from vpp.domain import DemandResponseEvent, District
from vpp.hil_sim.faults import FaultPlan
from vpp.hil_sim.gateway import SimulatedGateway, status_will
from vpp.hil_sim.scenario import Scenario

if TYPE_CHECKING:
    from vpp.device_adapters.mqtt import ClientAuth

logger = logging.getLogger(__name__)

#: Longest wait for in-flight messages before the clock moves on anyway [s, wall].
SETTLE_TIMEOUT_S = 5.0

#: Over a network, silence this long means what is still in flight will not arrive [s, wall].
LOST_AFTER_S = 0.25

ProgressCallback = Callable[[datetime, datetime], None]


@dataclass
class SimulationResult:
    """Everything a report needs from a finished run."""

    scenario: Scenario
    district: District
    transport: str
    start: datetime
    end: datetime
    events: list[DemandResponseEvent]
    runs: dict[str, EventRun]
    outcomes: list[EventOutcome]
    fault_plan: FaultPlan
    faults_seen: list[Fault]
    gateways: dict[str, SimulatedGateway]
    adapter_stats: AdapterStats
    monitor: Monitor
    wall_s: float
    settle_timeouts: int
    baselines_kw: dict[str, tuple[float, ...]] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)  # by the plausibility gate, per reason

    @property
    def speedup(self) -> float:
        """Simulated seconds per wall-clock second."""
        return (self.end - self.start).total_seconds() / max(self.wall_s, 1e-9)

    def gateway_totals(self) -> dict[str, int]:
        """Counters summed over every gateway."""
        names = ("received", "duplicates", "ignored", "telemetry_sent", "telemetry_suppressed")
        return {n: sum(getattr(g.stats, n) for g in self.gateways.values()) for n in names}


class _Fabric(LinkFactory):
    """Creates the links of one run and plays broker outages on them."""

    def __init__(self, mqtt_url: str | None, auth: ClientAuth | None = None) -> None:
        traffic = Traffic()
        super().__init__(mqtt_url, traffic, auth=auth)
        self.traffic: Traffic = traffic
        self.links: list[tuple[Link, Callable[[], tuple[str, ...]]]] = []
        self.cut: list[tuple[Link, Callable[[], tuple[str, ...]]]] = []

    def track(self, link: Link, subscriptions: Callable[[], tuple[str, ...]]) -> None:
        self.links.append((link, subscriptions))

    async def outage_starts(self) -> None:
        if self.broker is not None:
            self.broker.stop()
            return
        # A broker we do not own cannot be stopped; cutting every client off it is the
        # same thing as seen from the controller and the gateways (no wills either way).
        self.cut = [(link, subs) for link, subs in self.links if link.connected]
        for link, _ in self.cut:
            await link.close()

    async def outage_ends(self) -> None:
        if self.broker is not None:
            self.broker.restart()
            return
        for link, subscriptions in self.cut:
            await link.start(subscriptions())
        self.cut = []


async def simulate(
    scenario: Scenario,
    *,
    mqtt_url: str | None = None,
    progress: ProgressCallback | None = None,
    auth: ClientAuth | None = None,
    district: District | None = None,
) -> SimulationResult:
    """Simulate the scenario's day; returns measured outcomes and everything behind them.

    ``auth`` gives the controller and each site's gateway their own broker login (by
    client id: ``vpp-controller``, ``gw-{site_id}``) and TLS files. ``district`` replaces
    the scenario's district file (a season run passes it with rotation counts of the day).
    """
    started = time.perf_counter()
    district = district if district is not None else scenario.load_district()
    start = scenario.day_start(district)
    end = start + timedelta(days=1)
    events = sorted(
        (e.to_event(district, scenario.day) for e in scenario.events), key=lambda e: e.issued_at
    )
    for event in events:
        if event.end > end:
            raise ValueError(f"events.{event.event_id}: must end on the simulated day")
    plan = FaultPlan.draw(district, scenario.faults, day=scenario.day, seed=scenario.seed)
    outages = sorted(
        (plan.at(o.at), plan.at(o.at) + timedelta(minutes=o.duration_min))
        for o in plan.broker_outages
    )
    clock = SimulatedClock(start)
    fabric = _Fabric(mqtt_url, auth)
    adapter = ContractAdapter(fabric.link("vpp-controller"), clock.now)
    fabric.track(adapter.link, lambda: SUBSCRIPTIONS)
    settle_timeouts = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vpp-solve") as executor:
        controller = Controller(district, adapter, clock, scenario.controller, executor=executor)
        await controller.start()
        gateways: dict[str, SimulatedGateway] = {}
        for site_id in sorted({ref.site.site_id for ref in district.resources()}):
            link = fabric.link(f"gw-{site_id}", status_will(site_id, start))
            gateway = SimulatedGateway.for_site(
                district,
                site_id,
                link,
                now=clock.now,
                day=scenario.day,
                seed=scenario.seed,
                settings=scenario.physics,
                faults=plan,
            )
            fabric.track(link, lambda g=gateway: g.subscriptions)  # type: ignore[misc]
            gateways[site_id] = gateway
            await gateway.start()
        pending = list(events)
        in_outage: tuple[datetime, datetime] | None = None
        tick = timedelta(seconds=scenario.tick_s)
        now = start
        try:
            while now < end:
                while pending and pending[0].issued_at <= now:
                    controller.submit(pending.pop(0))
                if not await settle(fabric.traffic, controller, mqtt_url is not None):
                    settle_timeouts += 1
                now += tick
                clock.advance_to(now)
                if in_outage is None and outages and outages[0][0] <= now:
                    in_outage = outages.pop(0)
                    logger.warning("broker outage from %s", now)
                    await fabric.outage_starts()
                elif in_outage is not None and in_outage[1] <= now:
                    logger.warning("broker back at %s", now)
                    await fabric.outage_ends()
                    in_outage = None
                for gateway in gateways.values():
                    await gateway.step(now)
                if progress is not None:
                    progress(now, end)
            await settle(fabric.traffic, controller, mqtt_url is not None)
        finally:
            await controller.stop(release=True)
            for gateway in gateways.values():
                await gateway.stop()
    runs = controller.runs
    outcomes = [
        event_outcome(runs[e.event_id], controller.monitor, district, scenario.settlement_rule)
        for e in events
        if runs[e.event_id].problem is not None
    ]
    baselines: dict[str, tuple[float, ...]] = {}
    for run in runs.values():  # the first plan of the day holds every resource's baseline
        if run.initial is not None and not baselines:
            baselines = {s.key: s.baseline_kw for s in run.initial.schedules}
    return SimulationResult(
        scenario=scenario,
        district=district,
        transport=fabric.name,
        start=start,
        end=end,
        events=events,
        runs=runs,
        outcomes=outcomes,
        fault_plan=plan,
        faults_seen=list(controller.faults),
        gateways=gateways,
        adapter_stats=adapter.stats,
        monitor=controller.monitor,
        wall_s=time.perf_counter() - started,
        settle_timeouts=settle_timeouts,
        baselines_kw=baselines,
        refused=dict(controller.gate.refused),
    )


async def settle(traffic: Traffic, controller: Controller, over_network: bool) -> bool:
    """Until every message sent has arrived and no solve runs; False on timeout.

    Over a network a message to a client that is not connected (a gateway that is offline)
    never arrives: once nothing has arrived for :data:`LOST_AFTER_S`, what is still in
    flight counts as lost, so an offline gateway does not stall every tick.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_TIMEOUT_S
    quiet_needed = 4 if over_network else 3
    quiet = 0
    last_received, last_progress = traffic.received, loop.time()
    while quiet < quiet_needed:
        if controller.busy:
            await asyncio.sleep(0.002)  # a solve in the executor: let it have the GIL
            quiet = 0
            deadline = loop.time() + SETTLE_TIMEOUT_S
            last_progress = loop.time()
            continue
        await asyncio.sleep(0.001 if over_network else 0)
        if traffic.received != last_received:
            last_received, last_progress = traffic.received, loop.time()
        if over_network and traffic.in_flight and loop.time() - last_progress > LOST_AFTER_S:
            traffic.give_up()
        quiet = quiet + 1 if traffic.in_flight == 0 else 0
        if loop.time() > deadline:
            logger.warning("%d messages still in flight; moving on", traffic.in_flight)
            return False
    return True
