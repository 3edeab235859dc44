"""The OCPP side of a simulated run: which pools a scenario puts on OCPP, the central
system that reaches them, and one :class:`SimulatedStation` per pool.

A scenario puts a site on OCPP with ``protocols: {site_id: ocpp}``; its EV charger pools
are then reached through charge points (one per charger unless the district gives a
``connection``), every other resource of the site stays with the site's MQTT gateway. The
central system listens on a free port of 127.0.0.1 and every charge point logs in with a
password issued for the run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from vpp.device_adapters.mqtt.passwords import hash_password, new_password
from vpp.device_adapters.ocpp import OcppAdapter, OcppConnection, OcppServerSettings
from vpp.device_adapters.registry import connection_of
from vpp.domain import District, EvChargerPool, ResourceRef
from vpp.hil_sim.gateway import SimulatedGateway
from vpp.hil_sim.ocpp_station import SimulatedStation, station_connection
from vpp.hil_sim.physics import Device
from vpp.hil_sim.physics.ev import EvPoolDevice
from vpp.hil_sim.round_trips import percentiles_ms


def with_protocols(district: District, protocols: Mapping[str, str]) -> District:
    """The district with the scenario's sites on the protocols it names: on ``ocpp`` a
    site's EV pools get ``protocol: ocpp`` (and a connection block if they have none)."""
    if not protocols:
        return district
    sites = {s.site_id for e in district.enterprises for s in e.sites}
    unknown = sorted(set(protocols) - sites)
    if unknown:
        raise ValueError(f"protocols: no site {', '.join(unknown)} in the district")
    data: dict[str, Any] = district.model_dump(mode="json", exclude_none=True)
    for enterprise in data["enterprises"]:
        for site in enterprise["sites"]:
            if protocols.get(site["site_id"]) != "ocpp":
                continue
            for resource in site["resources"]:
                if resource["kind"] != "ev_charger_pool":
                    continue
                resource["protocol"] = "ocpp"
                if "connection" not in resource:
                    pool = EvChargerPool.model_validate(resource)
                    resource["connection"] = station_connection(site["site_id"], pool)
    return District.model_validate(data)


class OcppSites:
    """The district's pools on OCPP: the adapter the controller talks through and the
    simulated charge points in front of their physics."""

    def __init__(
        self,
        district: District,
        now: Callable[[], datetime],
        *,
        meter_noise_pct: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.refs: list[ResourceRef] = [r for r in district.resources() if r.protocol == "ocpp"]
        self._passwords: dict[str, str] = {}
        for ref in self.refs:
            for cp in connection_of(ref, OcppConnection).charge_points:
                self._passwords[cp.charge_point_id] = new_password()
        hashes = {cp_id: hash_password(pw) for cp_id, pw in self._passwords.items()}
        settings = OcppServerSettings(host="127.0.0.1", port=0, passwords=hashes)
        self.adapter = OcppAdapter(settings, self.refs, now)
        self._now = now
        self._noise_pct, self._seed = meter_noise_pct, seed
        self._devices: dict[str, tuple[ResourceRef, EvPoolDevice]] = {}
        self.stations: dict[str, SimulatedStation] = {}

    def take_devices(self, site_id: str, devices: dict[str, Device]) -> dict[str, Device]:
        """The site's devices its MQTT gateway keeps; the OCPP pools' are held here."""
        kept = dict(devices)
        for ref in self.refs:
            if ref.site.site_id == site_id:
                device = kept.pop(ref.resource.resource_id)
                assert isinstance(device, EvPoolDevice)
                self._devices[ref.key] = (ref, device)
        return kept

    async def start(self, gateways: Mapping[str, SimulatedGateway]) -> None:
        """Connect every charge point (the central system must listen already)."""
        url = f"ws://127.0.0.1:{self.adapter.system.port}"
        for key, (ref, device) in self._devices.items():
            pool = ref.resource
            assert isinstance(pool, EvChargerPool)
            station = SimulatedStation(
                ref.site.site_id,
                pool,
                connection_of(ref, OcppConnection),
                device,
                url=url,
                passwords=self._passwords,
                now=self._now,
                meter_noise_pct=self._noise_pct,
                seed=self._seed,
                settle=self.drain,
            )
            await station.start()
            self.stations[key] = station
            gateway = gateways.get(ref.site.site_id)
            if gateway is not None:  # the report reads every resource's trace there
                gateway.traces[pool.resource_id] = station.trace

    @property
    def busy(self) -> bool:
        return self.adapter.busy

    async def drain(self) -> None:
        await self.adapter.drain()

    async def step(self, now: datetime) -> None:
        for station in self.stations.values():
            await station.step(now)

    async def stop(self) -> None:
        for station in self.stations.values():
            await station.stop()

    def summary(self) -> dict[str, Any]:
        """Message counts both ways and round trips (wall time: they measure the machine)."""
        stats = self.adapter.ocpp_stats
        answers: Counter[str] = Counter()
        for station in self.stations.values():
            answers.update(station.stats.profiles)
        return {
            "charge_points": sum(len(s.connection.charge_points) for s in self.stations.values()),
            "calls_from_charge_points": dict(sorted(stats.calls_in.items())),
            "calls_to_charge_points": dict(sorted(stats.calls_out.items())),
            "profile_answers": dict(sorted(answers.items())),
            "call_failures": dict(sorted(stats.call_failures.items())),
            "refused": dict(sorted(self.adapter.stats.malformed.items())),
            "round_trip_ms": {
                "call": percentiles_ms(stats.round_trip_s),
                "setpoint_to_ack": percentiles_ms(self.adapter.ack_latency_s),
            },
        }
