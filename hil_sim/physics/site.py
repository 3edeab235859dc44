"""Building the simulated devices of a site from the district file, seeded and reproducible.

Each device draws its randomness (EV jitter, clouds, weather error) from its own stream,
keyed by (seed, ``site/resource``, day, purpose), so adding a resource or a site changes
nothing about the others. Curtailable loads take their natural load from the district's
synthetic meter history (its seed and noise), so the truth on the simulated day continues
the history the baselines are computed from.
"""

from __future__ import annotations

from datetime import date, timedelta, tzinfo

from vpp.domain import (
    Battery,
    CurtailableLoad,
    District,
    EvChargerPool,
    HvacLoad,
    Pv,
    ResourceRef,
    SyntheticHistory,
)
from vpp.hil_sim.physics.base import DEFAULT_SETTINGS, Device, PhysicsSettings, device_rng
from vpp.hil_sim.physics.battery import BatteryDevice
from vpp.hil_sim.physics.curtailable import CurtailableDevice, natural_load_kw
from vpp.hil_sim.physics.ev import EvPoolDevice, plan_sessions
from vpp.hil_sim.physics.hvac import HvacDevice, outdoor_noise_c
from vpp.hil_sim.physics.pv import PvDevice, cloud_factor

#: Purposes of a device's random streams (part of their key).
SALT_EV, SALT_CLOUDS, SALT_WEATHER = 1, 2, 3


def history_of(district: District) -> SyntheticHistory:
    """The synthetic history settings the district's meters come from.

    A district with CSV history (or none) gets the generator's defaults: its simulated
    truth then does not continue the CSV files.
    """
    source = district.meter_history
    return source if isinstance(source, SyntheticHistory) else SyntheticHistory()


def build_device(
    ref: ResourceRef,
    day: date,
    tz: tzinfo,
    *,
    seed: int = 0,
    history: SyntheticHistory | None = None,
    settings: PhysicsSettings = DEFAULT_SETTINGS,
) -> Device:
    """The simulated device of one resource on a local day (the district's time zone).

    Parameters
    ----------
    ref
        The resource with its enterprise and site.
    day
        The simulated local day.
    tz
        The district's time zone (daily profiles are in local time).
    seed
        Seed of the device randomness (EV jitter, clouds, weather error).
    history
        Synthetic meter history the curtailable loads' natural load continues.
    settings
        Physics settings (ramps, sub-step, noise).
    """
    resource = ref.resource
    substep = settings.substep_s
    if isinstance(resource, CurtailableLoad):
        natural = natural_load_kw(
            ref, day, history or SyntheticHistory(), settings.meter_interval_min
        )
        return CurtailableDevice(
            resource,
            natural,
            day=day,
            tz=tz,
            ramp_s=settings.curtailable_ramp_s,
            substep_s=substep,
        )
    if isinstance(resource, Battery):
        return BatteryDevice(
            resource, day=day, tz=tz, ramp_s=settings.battery_ramp_s, substep_s=substep
        )
    if isinstance(resource, EvChargerPool):
        rngs = {
            day + timedelta(days=k): device_rng(seed, ref.key, day + timedelta(days=k), SALT_EV)
            for k in (-1, 0, 1)
        }
        sessions = plan_sessions(
            resource,
            day,
            tz,
            rngs,
            arrival_jitter_min=settings.ev_arrival_jitter_min,
            energy_jitter=settings.ev_energy_jitter,
        )
        return EvPoolDevice(
            resource, sessions, day=day, tz=tz, ramp_s=settings.ev_ramp_s, substep_s=substep
        )
    if isinstance(resource, HvacLoad):
        noise = outdoor_noise_c(
            device_rng(seed, ref.key, day, SALT_WEATHER), settings.outdoor_noise_c
        )
        return HvacDevice(
            resource,
            day=day,
            tz=tz,
            outdoor_noise=noise,
            ramp_s=settings.hvac_ramp_s,
            horizon_s=settings.thermostat_horizon_s,
            substep_s=substep,
        )
    if isinstance(resource, Pv):
        clouds = cloud_factor(
            device_rng(seed, ref.key, day, SALT_CLOUDS),
            cloudy_share=settings.pv_cloudy_share,
            cloud_mean_min=settings.pv_cloud_mean_min,
            depth=settings.pv_cloud_depth,
        )
        return PvDevice(resource, day=day, tz=tz, clouds=clouds, substep_s=substep)
    raise TypeError(f"{ref.key}: no physics for kind {resource.kind!r}")


def devices_for_site(
    district: District,
    site_id: str,
    day: date,
    *,
    seed: int = 0,
    settings: PhysicsSettings = DEFAULT_SETTINGS,
) -> dict[str, Device]:
    """Every resource of one site as a simulated device, by ``resource_id``."""
    history = history_of(district)
    devices: dict[str, Device] = {}
    for ref in district.resources():
        if ref.site.site_id == site_id:
            devices[ref.resource.resource_id] = build_device(
                ref, day, district.tz, seed=seed, history=history, settings=settings
            )
    if not devices:
        raise KeyError(f"site {site_id!r} is not in district {district.district_id!r}")
    return devices
