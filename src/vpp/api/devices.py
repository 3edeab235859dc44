"""The device fabric the service dispatches to: the embedded broker or an MQTT broker, and
optionally one simulated gateway per registered site (``--simulated-devices``).

Simulated gateways run the HIL simulator's device physics on the service clock, so a
newcomer sees dispatch, telemetry and settlement on one machine; real gateways speak the
same MQTT contract.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from vpp.api.clock import PacedClock, ScaledClock
from vpp.api.recorder import RecordingAdapter
from vpp.api.settings import ServiceSettings
from vpp.device_adapters import AdapterContext, LinkFactory, RoutingAdapter, Traffic
from vpp.device_adapters.contract import ContractOwner
from vpp.device_adapters.ocpp import OcppAdapter, OcppServerSettings
from vpp.domain import District, Site

if TYPE_CHECKING:
    from vpp.controller import Controller
    from vpp.device_adapters.mqtt import ClientAuth
    from vpp.hil_sim.faults import SiteFaults, Span
    from vpp.hil_sim.gateway import SimulatedGateway

logger = logging.getLogger(__name__)

FaultKind = Literal["offline", "telemetry_silent", "stuck_meter", "ignore_commands"]
"""What a struck fault does: the gateway vanishes (its will says offline), a resource stops
reporting, its meter freezes, or it ignores setpoints (hil_sim.faults)."""


@dataclass(frozen=True)
class StruckFault:
    """A fault struck on one simulated gateway by hand, over ``[start, end)`` on the service
    clock; ``resource_id`` None: the whole site (``offline``)."""

    kind: FaultKind
    site_id: str
    resource_id: str | None
    start: datetime
    end: datetime

    def active(self, now: datetime) -> bool:
        return self.start <= now < self.end


def client_auth(settings: ServiceSettings) -> ClientAuth | None:
    """Broker logins and TLS files from the settings (None: the embedded broker).

    The controller logs in with ``--mqtt-password-file``; simulated gateways (a demo on a
    broker that enforces the ACL) with their files in ``--broker-files``, if there.
    """
    if settings.mqtt_url is None:
        return None
    gateways = settings.broker_files_dir if settings.simulated_devices else None
    return controller_auth(
        settings.mqtt_url,
        settings.mqtt_password_file,
        (settings.mqtt_ca_file, settings.mqtt_cert_file, settings.mqtt_key_file),
        gateways,
    )


def controller_auth(
    mqtt_url: str,
    password_file: Path | None,
    tls_files: tuple[Path | None, Path | None, Path | None] = (None, None, None),
    broker_files_dir: Path | None = None,
) -> ClientAuth:
    """The controller's login (also for its telemetry workers' batches) and TLS files
    (CA, certificate, key), plus the gateways' logins from a provisioned folder if given."""
    from vpp.device_adapters.mqtt import ClientAuth, Login, TlsFiles, parse_broker_url
    from vpp.device_adapters.mqtt.acl import CONTROLLER_USERNAME
    from vpp.device_adapters.mqtt.broker_files import (
        GATEWAYS_DIR,
        read_gateway_credentials,
        read_password,
    )
    from vpp.telemetry_worker import WORKER_BATCHES_CLIENT_ID

    url = parse_broker_url(mqtt_url)
    logins = {}
    if broker_files_dir is not None:
        for path in sorted((broker_files_dir / GATEWAYS_DIR).glob("*.json")):
            gateway = read_gateway_credentials(path)
            logins[gateway.client_id] = Login(gateway.username, gateway.password)
    if password_file is not None:
        login = Login(url.username or CONTROLLER_USERNAME, read_password(password_file))
        logins[CONTROLLER_USERNAME] = login
        logins[WORKER_BATCHES_CLIENT_ID] = login  # the controller's side of its workers
    tls = TlsFiles(*tls_files) if url.tls else None
    return ClientAuth(logins=logins, tls=tls)


class DeviceFabric:
    """Creates the controller's adapter and keeps simulated gateways in step with the clock.

    The adapter is a :class:`RoutingAdapter` over each protocol the district's sites speak
    (MQTT through this fabric's link), built when the first district is known
    (:meth:`route`) and wrapped in a :class:`RecordingAdapter` for the store.
    """

    def __init__(
        self,
        clock: ScaledClock | PacedClock,
        mqtt_url: str | None,
        simulated: bool,
        tick_s: float,
        auth: ClientAuth | None = None,
        ocpp: OcppServerSettings | None = None,
        telemetry_workers: bool = False,
    ) -> None:
        self.clock = clock
        # a paced clock waits for the messages in flight: count them
        self.traffic = Traffic() if isinstance(clock, PacedClock) else None
        self.links = LinkFactory(mqtt_url, self.traffic, auth=auth)
        self._controller: Controller | None = None
        self.simulated = simulated
        self.tick_s = tick_s
        self.settings: dict[str, object] = {
            "mqtt": ContractOwner(
                self.links.link("vpp-controller"), telemetry=not telemetry_workers
            )
        }
        """Each protocol's owner-side settings (AdapterContext.settings), read whenever a
        protocol's adapter is built."""
        if ocpp is not None:  # the central system listens before any pool is registered
            self.settings["ocpp"] = ocpp
        self.router: RoutingAdapter | None = None
        self._adapter: RecordingAdapter | None = None
        self.gateways: dict[str, SimulatedGateway] = {}
        self._sites: dict[str, Site] = {}
        self._struck: dict[str, list[StruckFault]] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.links.name

    @property
    def ocpp(self) -> OcppAdapter | None:
        """The OCPP central system, when the service runs one (after :meth:`route`)."""
        adapter = self.router.adapters.get("ocpp") if self.router is not None else None
        return adapter if isinstance(adapter, OcppAdapter) else None

    @property
    def adapter(self) -> RecordingAdapter:
        """The controller's adapter (after the first :meth:`route`)."""
        if self._adapter is None:
            raise RuntimeError("the device fabric has no district yet: call route() first")
        return self._adapter

    async def route(self, district: District) -> list[str]:
        """Reach the district's resources: the first call builds the adapter, later ones
        route sites registered since. Returns the resources (``site/resource``) that stay
        unreachable until a restart (a protocol already running that takes no late
        resources: see :meth:`RoutingAdapter.follow`)."""
        if self.router is None:
            context = AdapterContext(
                district, self.clock.now, self.clock.sleep_until, self.settings
            )
            self.router = RoutingAdapter.for_district(context, always=tuple(self.settings))
            self._adapter = RecordingAdapter(self.router)
            return []
        return await self.router.follow(district)

    async def start(self) -> None:
        if self.simulated:
            self._task = asyncio.create_task(self._step_loop(), name="vpp.api.devices.step")

    async def _settle(self) -> None:
        if self.traffic is None or self._controller is None:
            return
        from vpp.hil_sim.runner import settle

        await settle(self.traffic, self._controller, over_network=self.links.broker is None)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for gateway in self.gateways.values():
            with contextlib.suppress(Exception):
                await gateway.stop()
        self.gateways.clear()

    async def follow(self, district: District) -> None:
        """Simulated gateways for every site of the district; a changed site gets a new one."""
        if not self.simulated:
            return
        from vpp.hil_sim.gateway import SimulatedGateway, status_will

        sites = {s.site_id: s for e in district.enterprises for s in e.sites}
        now = self.clock.now()
        day = now.astimezone(district.tz).date()
        for site_id in set(self.gateways) - set(sites):  # a site no longer registered
            await self.gateways.pop(site_id).stop()
            self._sites.pop(site_id, None)
            self._struck.pop(site_id, None)
        for site_id, site in sites.items():
            if self._sites.get(site_id) == site:
                continue
            old = self.gateways.pop(site_id, None)
            if old is not None:
                await old.stop()
            link = self.links.link(f"gw-{site_id}", status_will(site_id, now))
            gateway = SimulatedGateway.for_site(
                district, site_id, link, now=self.clock.now, day=day, counterfactual=False
            )
            await gateway.start()
            self.gateways[site_id] = gateway
            self._play_faults(site_id, now)
            self._sites[site_id] = site
            logger.info("simulated gateway for site %s started", site_id)

    def pace(self, controller: Controller) -> None:
        """The controller whose solves a paced clock waits for."""
        self._controller = controller

    async def _step_loop(self) -> None:
        """Every tick, each simulated device moves to the clock's time and reports; a paced
        clock moves on only once the last tick's messages have arrived and no solve runs."""
        while True:
            await asyncio.sleep(self.clock.wall_seconds(self.tick_s))
            if isinstance(self.clock, PacedClock):
                await self._settle()
                self.clock.advance_to(self.clock.now() + timedelta(seconds=self.tick_s))
            now = self.clock.now()
            for site_id in list(self._struck):
                self._play_faults(site_id, now)
            for gateway in list(self.gateways.values()):
                try:
                    await gateway.step(now)
                except Exception:
                    logger.exception("simulated gateway %s failed a step", gateway.site_id)

    # --- faults struck by hand (POST /v1/simulated-devices/{site_id}/faults) ---------------

    def strike(self, fault: StruckFault) -> None:
        """Play ``fault`` on its site's gateway from the next step on."""
        self._struck.setdefault(fault.site_id, []).append(fault)
        self._play_faults(fault.site_id, self.clock.now())

    def active_faults(self, site_id: str) -> list[StruckFault]:
        """The site's struck faults not over yet, by start."""
        now = self.clock.now()
        return sorted(
            (f for f in self._struck.get(site_id, []) if f.end > now), key=lambda f: f.start
        )

    def _play_faults(self, site_id: str, now: datetime) -> None:
        """Hand the site's gateway the faults it plays at ``now``; forget those that are over
        (the last offline stays until the gateway is back)."""
        gateway = self.gateways.get(site_id)
        struck = self._struck.get(site_id, [])
        if gateway is None or not struck:
            return
        gateway.faults = site_faults(struck, now)
        offline = [f for f in struck if f.kind == "offline"]
        keep = [f for f in struck if f.end > now or (offline and f is offline[-1])]
        self._struck[site_id] = keep


def site_faults(struck: list[StruckFault], now: datetime) -> SiteFaults:
    """What a gateway reads at ``now``: overlapping spans of a kind merge into one; an ended
    offline span stays (the gateway comes back when it sees the end)."""
    from vpp.hil_sim.faults import SiteFaults, Span

    def merged(faults: list[StruckFault]) -> Span | None:
        live = [f for f in faults if f.end > now]
        if not live:
            return None
        return Span(min(f.start for f in live), max(f.end for f in live))

    def per_resource(kind: FaultKind) -> dict[str, Span]:
        spans = {}
        for resource_id in {f.resource_id for f in struck if f.kind == kind}:
            span = merged([f for f in struck if f.kind == kind and f.resource_id == resource_id])
            if resource_id is not None and span is not None:
                spans[resource_id] = span
        return spans

    offline = [f for f in struck if f.kind == "offline"]
    last = max(offline, key=lambda f: f.end, default=None)
    ignore = {
        f.resource_id
        for f in struck
        if f.kind == "ignore_commands" and f.resource_id is not None and f.active(now)
    }
    return SiteFaults(
        ignore_commands=frozenset(ignore),
        telemetry_silent=per_resource("telemetry_silent"),
        stuck_meter=per_resource("stuck_meter"),
        offline=merged(offline) or (None if last is None else Span(last.start, last.end)),
    )
