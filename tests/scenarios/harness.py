"""Shared setup of the scenario tests: a small district, a controller and one simulated
gateway per site on a simulated clock, over the in-memory broker or a real Mosquitto.

A :class:`Scene` moves time as :func:`vpp.hil_sim.runner.simulate` does: one tick at a
time, and only once every message sent has arrived and no solve is running, so a scenario
is reproducible and runs far faster than real time.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType

from vpp.controller import Controller, ControllerSettings, EventRun, SimulatedClock
from vpp.device_adapters import ContractAdapter, InMemoryLink, Link, LinkFactory, Traffic, Will
from vpp.device_adapters.mqtt import ClientAuth, MqttLink
from vpp.domain import DemandResponseEvent, District, Notice
from vpp.hil_sim import PhysicsSettings, SimulatedGateway, SiteFaults, status_will
from vpp.hil_sim.physics import DEFAULT_SETTINGS as DEFAULT_PHYSICS
from vpp.hil_sim.runner import settle

from builders import DAY, at, battery, curtailable, district, enterprise

#: The simulation step, as the scenario runner's default [s].
TICK = timedelta(seconds=60)


#: MQTT links retry quickly, so a restarted broker is found again within a second [s].
BACKOFF_INITIAL_S, BACKOFF_MAX_S = 0.05, 0.5

STEEL_SITE = "steel-site"
PAPER_SITE = "paper-site"

#: Two sites: a cheap battery (500 kW) and a curtailable mill (400 kW in two steps) at the
#: steelworks, a dearer curtailable press (650 kW) at the paper mill, which alone can make up
#: a 600 kW event; every load flat at 1000 kW and sheddable without notice. The meters'
#: synthetic history continues into the simulated day, so baselines match the truth.
SCENE_DISTRICT = district(
    enterprise(
        "steel",
        [curtailable("mill", [(200.0, 1.0), (200.0, 2.0)]), battery("bess", soc_initial=0.9)],
    ),
    enterprise("paper", [curtailable("press", [(300.0, 1.5), (350.0, 2.5)])]),
    meter_history={"source": "synthetic", "seed": 7, "days": 30, "noise_pct": 2},
)

#: The scenes start here; the event below is issued then and starts half an hour later.
SCENE_START = at(10.5)


def short_event(
    target_kw: float = 300.0, *, start_h: float = 11.0, minutes: int = 45
) -> DemandResponseEvent:
    """A peak-shaving event of ``minutes`` from ``start_h``, issued at the scene's start."""
    start = at(start_h)
    return DemandResponseEvent(
        event_id="scene-event",
        start=start,
        end=start + timedelta(minutes=minutes),
        target_kw=target_kw,
        notice=Notice.INTRADAY,
        issued_at=SCENE_START,
    )


@dataclass(frozen=True)
class Sample:
    """One gateway trace step of one resource."""

    ts: datetime  # end of the step
    power_kw: float
    counterfactual_kw: float
    command_kw: float | None  # None: normal operation

    @property
    def mid(self) -> datetime:
        return self.ts - TICK / 2


class Scene:
    """A controller and the district's gateways, started together and stopped together.

    Parameters
    ----------
    mqtt_url
        A broker to run over; None: the in-memory broker.
    district
        The district; every site of it gets a gateway.
    start
        The simulated time the scene starts at.
    faults
        Faults per site id, played by that site's gateway.
    settings
        The controller's settings (None: the defaults).
    physics
        The simulated devices' physics (meter noise on, so no meter reads as stuck).
    auth
        Broker logins by client id and TLS files (a broker that enforces an ACL).
    clock
        The scene's clock, reading ``start`` (None: a new simulated clock).
    """

    def __init__(
        self,
        *,
        mqtt_url: str | None = None,
        district: District = SCENE_DISTRICT,
        start: datetime = SCENE_START,
        faults: dict[str, SiteFaults] | None = None,
        settings: ControllerSettings | None = None,
        physics: PhysicsSettings = DEFAULT_PHYSICS,
        auth: ClientAuth | None = None,
        clock: SimulatedClock | None = None,
    ) -> None:
        self.district = district
        self.mqtt_url = mqtt_url
        self.settings = settings
        self.clock = clock or SimulatedClock(start)
        self.traffic = Traffic()
        self.links = LinkFactory(
            mqtt_url,
            self.traffic,
            backoff_initial_s=BACKOFF_INITIAL_S,
            backoff_max_s=BACKOFF_MAX_S,
            auth=auth,
        )
        self.broker = self.links.broker
        self.adapter = ContractAdapter(self.link("vpp-controller"), self.clock.now)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scene-solve")
        self.controller = Controller(
            district, self.adapter, self.clock, settings, executor=self._executor
        )
        faults = faults or {}
        site_ids = sorted({ref.site.site_id for ref in district.resources()})
        self.gateways = {
            site_id: SimulatedGateway.for_site(
                district,
                site_id,
                self.link(f"gw-{site_id}", status_will(site_id, start)),
                now=self.clock.now,
                day=DAY.date(),
                settings=physics,
                faults=faults.get(site_id),
            )
            for site_id in site_ids
        }
        self.settle_timeouts = 0
        self._stopped = False
        self._sinks: list[Link] = []

    def link(self, client_id: str, will: Will | None = None) -> Link:
        """A new client of the scene's broker, counting its traffic with the others'."""
        return self.links.link(client_id, will)

    # --- lifetime ---------------------------------------------------------------------

    async def __aenter__(self) -> Scene:
        await self.controller.start()
        for gateway in self.gateways.values():
            await gateway.start()
        await self.wait_for(self.everybody_connected, "every client to connect")
        await self.settle()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if not self._stopped:
                await self.controller.stop(release=True)
            for gateway in self.gateways.values():
                await gateway.stop()
            for sink in self._sinks:
                await sink.close()
        finally:
            self._executor.shutdown(wait=True)

    async def kill_controller(self) -> None:
        """The controller crashes: its link vanishes without a goodbye, its tasks end, and
        nothing is released; the gateways carry on alone."""
        link = self.adapter.link
        assert isinstance(link, MqttLink | InMemoryLink)
        link.kill()
        self._stopped = True
        await self.controller.stop(release=False)
        for gateway in self.gateways.values():
            if isinstance(gateway.link, MqttLink):
                gateway.link.traffic = None  # nobody listens now: nothing to wait for

    async def restart_controller(self) -> None:
        """A new controller process after :meth:`kill_controller`: a new connection and
        nothing remembered (no telemetry, no runs); the gateways kept running meanwhile."""
        assert self._stopped, "kill the controller first"
        self.adapter = ContractAdapter(self.link("vpp-controller"), self.clock.now)
        self.controller = Controller(
            self.district, self.adapter, self.clock, self.settings, executor=self._executor
        )
        self._stopped = False
        for gateway in self.gateways.values():
            if isinstance(gateway.link, MqttLink):
                gateway.link.traffic = self.traffic  # somebody listens again
        await self.controller.start()
        await self.wait_for(self.everybody_connected, "the controller to connect")

    async def kill_gateway(self, site_id: str) -> None:
        """A gateway vanishes (power cut): the broker publishes its ``offline`` will."""
        await self.settle()
        if self.broker is None:
            # Over MQTT what the controller sends the dead site has no receiver: a stand-in
            # subscriber receives those, so the pacing need not give them up for lost.
            gateway = self.gateways[site_id]
            sink = self.link(f"sink-{site_id}")
            await sink.start(gateway.subscriptions)
            self._sinks.append(sink)
        self.gateways[site_id].kill()

    def _links(self) -> list[Link]:
        return [self.adapter.link, *(g.link for g in self.gateways.values())]

    def everybody_connected(self) -> bool:
        return all(link.connected for link in self._links())

    def nobody_connected(self) -> bool:
        return not any(link.connected for link in self._links())

    # --- time -------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def submit(self, event: DemandResponseEvent) -> EventRun:
        return self.controller.submit(event)

    async def tick(self) -> None:
        """Let the traffic settle, then move the clock one tick and step every gateway."""
        await self.settle()
        now = self.clock.now() + TICK
        self.clock.advance_to(now)
        for gateway in self.gateways.values():
            await gateway.step(now)

    async def run_until(self, until: datetime) -> None:
        """Tick until the clock reads ``until`` (at least), then let the traffic settle."""
        while self.clock.now() < until:
            await self.tick()
        await self.settle()

    async def settle(self) -> bool:
        """Until every message sent has arrived and no solve runs; False on timeout."""
        settled = await settle(self.traffic, self.controller, over_network=self.broker is None)
        self.settle_timeouts += not settled
        return settled

    async def wait_for(
        self, predicate: Callable[[], bool], what: str, timeout_s: float = 10.0
    ) -> None:
        """Wait in wall-clock time (the simulated clock stands still) until ``predicate()``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not predicate():
            if loop.time() > deadline:
                raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
            await asyncio.sleep(0.005)

    async def quiet(self, quiet_s: float = 0.2, timeout_s: float = 10.0) -> None:
        """Wait in wall-clock time until no message has arrived for ``quiet_s``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        last = -1
        while self.traffic.received != last:
            if loop.time() > deadline:
                raise AssertionError(f"no quiet {quiet_s} s within {timeout_s} s")
            last = self.traffic.received
            await asyncio.sleep(quiet_s)

    # --- reading the run --------------------------------------------------------------

    def gateway_of(self, key: str) -> SimulatedGateway:
        return self.gateways[key.split("/")[0]]

    def samples(self, key: str) -> Iterator[Sample]:
        """A resource's trace at its site's gateway, step by step."""
        trace = self.gateway_of(key).traces[key.split("/")[1]]
        for ts, power, counterfactual, command in zip(
            trace.ts, trace.power_kw, trace.counterfactual_kw, trace.command_kw, strict=True
        ):
            yield Sample(ts, power, counterfactual, None if math.isnan(command) else command)
