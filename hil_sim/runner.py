"""Run a scenario: the controller and one simulated gateway per site, on a simulated clock.

Embedded runs carry the contract's topics and payloads over the in-memory broker; with an
MQTT URL every gateway and the controller are separate clients of a real broker. Either
way the clock moves one tick at a time, and only once every message sent has arrived and
no solve is running, so a run is reproducible and goes as fast as the work allows.

Nothing in a run may depend on how fast the machine is: solves have work limits, never
wall-clock ones (:meth:`DispatchSettings.deterministic`), and the clock does not move
while any of the run's own links is down and meant to be up (a real broker that died,
a client still reconnecting), so an outage nobody scripted costs no simulated time beyond
the ticks it really lasted. The scenario's scripted broker outages are simulated time and
pass as scripted.

A scenario's ``protocols`` puts sites on OCPP (their EV pools become charge points) or on
Modbus (their batteries and PV a SunSpec device on a pymodbus server); the clock also waits
until every OCPP exchange is answered and no Modbus poll or write is due at its time.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable, Mapping
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
    AdapterContext,
    AdapterStats,
    Link,
    LinkFactory,
    RoutingAdapter,
    Traffic,
)
from vpp.device_adapters.contract import SUBSCRIPTIONS
from vpp.device_adapters.modbus import ModbusAdapter
from vpp.domain import DemandResponseEvent, District, VppError
from vpp.hil_sim.faults import FaultPlan
from vpp.hil_sim.gateway import ResourceTrace, SimulatedGateway, status_will
from vpp.hil_sim.modbus_device import ModbusSites
from vpp.hil_sim.ocpp_sites import OcppSites, with_protocols
from vpp.hil_sim.physics import devices_for_site
from vpp.hil_sim.round_trips import RoundTrips
from vpp.hil_sim.scenario import Scenario
from vpp.optimizer import process_pool

if TYPE_CHECKING:
    from vpp.device_adapters.mqtt import ClientAuth

logger = logging.getLogger(__name__)

#: Longest wait for in-flight messages before the clock moves on anyway [s, wall].
SETTLE_TIMEOUT_S = 5.0

#: Over a network, silence this long, while some receiver is gone, means what is still in
#: flight will not arrive [s, wall].
LOST_AFTER_S = 0.25

#: Longest the clock waits for its own links to come back before the run fails [s, wall].
LINKS_DOWN_LIMIT_S = 120.0


class LinksDownError(VppError):
    """The run's own links stayed down: the broker is gone for good (``vpp simulate`` says
    so in one line, like a broker that is not there at the start)."""

    def __init__(self, client_ids: list[str], waited_s: float) -> None:
        self.client_ids = client_ids
        self.waited_s = waited_s
        shown = ", ".join(client_ids[:5]) + (" ..." if len(client_ids) > 5 else "")
        super().__init__(
            f"--mqtt: the broker went away; {len(client_ids)} links still down after "
            f"{waited_s:.0f} s: {shown}"
        )


@dataclass(frozen=True)
class ClockHold:
    """A tick at which the clock waited for the run's own links to reconnect."""

    at: datetime  # simulated time held
    wall_s: float  # how long it waited [s, wall]


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
    clock_holds: list[ClockHold] = field(default_factory=list)
    ocpp: OcppSites | None = None  # the pools reached over OCPP, and their counts
    modbus: ModbusSites | None = None  # the batteries and PV reached over Modbus
    router: RoutingAdapter | None = None  # each protocol's adapter and its counts
    round_trips: RoundTrips | None = None  # setpoint to answer per protocol [wall]

    @property
    def speedup(self) -> float:
        """Simulated seconds per wall-clock second."""
        return (self.end - self.start).total_seconds() / max(self.wall_s, 1e-9)

    def trace(self, site_id: str, resource_id: str) -> ResourceTrace:
        """One resource's trace, wherever it was simulated (a gateway, a Modbus device)."""
        if self.modbus is not None:
            trace = self.modbus.traces().get(f"{site_id}/{resource_id}")
            if trace is not None:
                return trace
        return self.gateways[site_id].traces[resource_id]

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
        self._settled_connects = 0
        self._by_client: dict[str, Link] = {}
        if mqtt_url is not None:  # the in-memory broker counts what it delivers, exactly
            traffic.receiver = self.receiver_present

    def track(self, link: Link, subscriptions: Callable[[], tuple[str, ...]]) -> None:
        self.links.append((link, subscriptions))
        self._by_client[link.client_id] = link

    def receiver_present(self, topic: str) -> bool:
        """Whether the one client that receives ``topic`` in a simulation is connected: the
        site's gateway for setpoints, the controller for everything else."""
        parts = topic.split("/")
        if len(parts) >= 4 and parts[-1] == "setpoint":
            link = self._by_client.get(f"gw-{parts[2]}")
        else:
            link = self._by_client.get("vpp-controller")
        return link is not None and link.connected

    def receiver_absent(self, topic: str) -> bool:
        return not self.receiver_present(topic)

    def down(self) -> list[str]:
        """Client ids of the links meant to be connected that are not."""
        return [link.client_id for link, _ in self.links if not link.connected and link.wanted]

    def receivers_missing(self) -> bool:
        """Whether a message in flight may have no receiver: a link is not connected, or one
        reconnected since the last settled tick (what was sent to it meanwhile is gone)."""
        return self._connects() != self._settled_connects or any(
            not link.connected for link, _ in self.links
        )

    def settled(self) -> None:
        self._settled_connects = self._connects()

    def _connects(self) -> int:
        return sum(link.stats.connects for link, _ in self.links)

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
            await hold_while_down(self)  # every client back before the tick goes on
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
    protocols: Mapping[str, object] | None = None,
) -> SimulationResult:
    """Simulate the scenario's day; returns measured outcomes and everything behind them.

    ``auth`` gives the controller and each site's gateway their own broker login (by
    client id: ``vpp-controller``, ``gw-{site_id}``) and TLS files. ``district`` replaces
    the scenario's district file (a season run passes it with rotation counts of the day).
    The controller reaches each site through the adapter of the site's protocol
    (:class:`RoutingAdapter`); ``protocols`` holds the owner-side settings of protocols
    other than MQTT, by name (:class:`AdapterContext`).
    """
    started = time.perf_counter()
    district = district if district is not None else scenario.load_district()
    district = with_protocols(district, scenario.protocols)
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
    controller_link = fabric.link("vpp-controller")
    fabric.track(controller_link, lambda: SUBSCRIPTIONS)
    noise = scenario.physics.meter_noise_pct
    ocpp = None
    if any_on_ocpp(district):
        ocpp = OcppSites(district, clock.now, meter_noise_pct=noise, seed=scenario.seed)
    site_ids = sorted({ref.site.site_id for ref in district.resources()})
    devices_of = {
        site_id: devices_for_site(
            district, site_id, scenario.day, seed=scenario.seed, settings=scenario.physics
        )
        for site_id in site_ids
    }
    modbus = None
    on_modbus = [s for s, name in scenario.protocols.items() if name == "modbus"]
    if on_modbus:
        modbus = ModbusSites(
            district,
            on_modbus,
            clock.now,
            meter_noise_pct=noise,
            seed=scenario.seed,
            faults=plan,
            poll_period_s=float(scenario.tick_s),  # read once a tick, as gateways report
        )
        devices_of = {s: modbus.take_devices(s, d) for s, d in devices_of.items()}
    settle_timeouts = 0
    holds: list[ClockHold] = []
    # the run owns its executors: a thread for the controller's blocking work, a process
    # pool (started on first use) for the groups of a decomposed dispatch
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="vpp-solve") as executor,
        process_pool() as groups,
    ):
        # simulated time: a solve is bounded by its work, never by the wall clock
        dispatch = scenario.controller.dispatch.deterministic()
        settings = scenario.controller.model_copy(
            update={"dispatch": dispatch.model_copy(update={"executor": groups})}
        )
        if modbus is not None:
            district = await modbus.start()  # the servers' ports go into the registration
        context = AdapterContext(
            district, clock.now, clock.sleep_until, {**(protocols or {}), "mqtt": controller_link}
        )
        # the simulated charge points' central system is the run's own (passwords, a free port)
        built = {"ocpp": ocpp.adapter} if ocpp is not None else {}
        router = RoutingAdapter.for_district(context, built=built)
        adapter = RoundTrips(router)
        modbus_adapter = router.adapters.get("modbus")
        assert modbus_adapter is None or isinstance(modbus_adapter, ModbusAdapter)
        controller = Controller(district, adapter, clock, settings, executor=executor)
        await controller.start()
        gateways: dict[str, SimulatedGateway] = {}
        for site_id in site_ids:
            devices = devices_of[site_id]
            if modbus is not None and site_id in modbus.sites and not devices:
                continue  # the whole site is on Modbus: no gateway to speak for it
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
                devices=devices if ocpp is None else ocpp.take_devices(site_id, devices),
            )
            fabric.track(link, lambda g=gateway: g.subscriptions)  # type: ignore[misc]
            gateways[site_id] = gateway
            await gateway.start()
        if ocpp is not None:
            await ocpp.start(gateways)
        pending = list(events)
        in_outage: tuple[datetime, datetime] | None = None
        tick = timedelta(seconds=scenario.tick_s)
        now = start
        try:
            # The set-up's objects (devices, sessions, the registry) live all day: frozen,
            # the collector's full passes do not walk them again every few ticks (a tenth of
            # a city's tick); unfrozen at the end, so what the run leaves is collectable.
            # Garbage already there (an earlier run's) is collected first: frozen, it would
            # outlive this run, and with it whatever its finalisers were to release.
            gc.collect()
            gc.freeze()
            while now < end:
                while pending and pending[0].issued_at <= now:
                    controller.submit(pending.pop(0))
                held_s, settled = await settle_tick(fabric, controller, in_outage is not None)
                waited_out = False
                while (ocpp is not None and ocpp.busy) or (
                    modbus_adapter is not None and modbus_adapter.busy
                ):
                    if ocpp is not None and ocpp.busy:  # every OCPP exchange answered
                        await ocpp.drain()
                    elif modbus_adapter is not None and not await modbus_settles(modbus_adapter):
                        waited_out = True  # a poll or write still due: counted, moved on
                        break
                    more_s, settled = await settle_tick(fabric, controller, in_outage is not None)
                    held_s += more_s
                settled = settled and not waited_out
                if held_s > 0:
                    holds.append(ClockHold(now, held_s))
                if not settled:
                    settle_timeouts += 1
                now += tick
                if modbus is not None:
                    await modbus.play_faults(now)
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
                if ocpp is not None:
                    await ocpp.step(now)
                if modbus is not None:
                    modbus.step(now)
                if progress is not None:
                    progress(now, end)
            await settle_tick(fabric, controller, in_outage is not None)
        finally:
            gc.unfreeze()
            await controller.stop(release=True)
            for gateway in gateways.values():
                await gateway.stop()
            if ocpp is not None:
                await ocpp.stop()
            if modbus is not None:
                await modbus.stop()
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
        adapter_stats=router.stats,
        monitor=controller.monitor,
        wall_s=time.perf_counter() - started,
        settle_timeouts=settle_timeouts,
        baselines_kw=baselines,
        refused=dict(controller.gate.refused),
        clock_holds=holds,
        ocpp=ocpp,
        modbus=modbus,
        router=router,
        round_trips=adapter,
    )


def any_on_ocpp(district: District) -> bool:
    return any(ref.protocol == "ocpp" for ref in district.resources())


async def modbus_settles(adapter: ModbusAdapter) -> bool:
    """Until the Modbus adapter has no poll or write due at the clock's time (each device
    is read and written at the simulated time it was due); False after
    :data:`SETTLE_TIMEOUT_S` of it staying busy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_TIMEOUT_S
    while adapter.busy:
        if loop.time() > deadline:
            logger.warning("a Modbus poll or write is still due; moving on")
            return False
        await asyncio.sleep(0.001)
    return True


async def settle_tick(
    fabric: _Fabric, controller: Controller, scripted_outage: bool
) -> tuple[float, bool]:
    """Before the clock moves: every link meant to be up connected (unless the scenario's
    own outage is on), then :func:`settle`; the wall seconds held, and whether it settled."""
    over_network = fabric.broker is None
    held_s = 0.0
    while True:
        if not scripted_outage:
            held_s += await hold_while_down(fabric)
        settled = await settle(
            fabric.traffic,
            controller,
            over_network,
            fabric.receivers_missing,
            fabric.receiver_absent,
        )
        if scripted_outage or not fabric.down():
            fabric.settled()
            return held_s, settled


async def hold_while_down(fabric: _Fabric, limit_s: float | None = None) -> float:
    """Wait until every link meant to be connected is; the wall seconds waited.

    Raises LinksDownError after ``limit_s`` [s, wall; default ``LINKS_DOWN_LIMIT_S``]: a
    broker that never comes back ends the run instead of hanging it.
    """
    limit_s = LINKS_DOWN_LIMIT_S if limit_s is None else limit_s
    down = fabric.down()
    if not down:
        return 0.0
    loop = asyncio.get_running_loop()
    started = loop.time()
    logger.warning("clock held: %d links down (%s)", len(down), ", ".join(down[:5]))
    while down:
        waited = loop.time() - started
        if waited > limit_s:
            raise LinksDownError(down, waited)
        await asyncio.sleep(0.01)
        down = fabric.down()
    waited = loop.time() - started
    logger.warning("clock released after %.2f s: every link connected", waited)
    return waited


async def settle(
    traffic: Traffic,
    controller: Controller,
    over_network: bool,
    receivers_missing: Callable[[], bool] | None = None,
    receiver_absent: Callable[[str], bool] | None = None,
) -> bool:
    """Until every message sent has arrived and the controller is idle (no solve runs, no
    event's task has work in hand); False on timeout.

    Over a network a message to a client that is not connected (a gateway that is offline)
    never arrives: once nothing has arrived for :data:`LOST_AFTER_S` while
    ``receivers_missing()`` says some receiver is gone (None: it may always be), what is
    still in flight to a topic ``receiver_absent`` names (None: everything) counts as lost,
    so an offline gateway does not stall every tick. What is on its way to a receiver that
    is there is waited for: a slow machine only makes the wait longer, never shorter. The
    timeout (:data:`SETTLE_TIMEOUT_S`) counts from the last progress, not from the start.
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
        if controller.awake:  # an event's task has work in hand: let it run first
            quiet = 0
            await asyncio.sleep(0)
            if loop.time() > deadline:
                logger.warning("the controller is still at work; moving on")
                return False
            continue
        await asyncio.sleep(0.001 if over_network else 0)
        if traffic.received != last_received:
            last_received, last_progress = traffic.received, loop.time()
            deadline = last_progress + SETTLE_TIMEOUT_S
        if (
            over_network
            and traffic.in_flight
            and loop.time() - last_progress > LOST_AFTER_S
            and (receivers_missing is None or receivers_missing())
        ):
            traffic.give_up(receiver_absent)
        quiet = quiet + 1 if traffic.in_flight == 0 else 0
        if loop.time() > deadline:
            logger.warning("%d messages still in flight; moving on", traffic.in_flight)
            return False
    return True
