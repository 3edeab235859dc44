"""Building the simulated devices of a site from the district file, seeded and reproducible.

Each device draws its randomness (EV jitter, clouds, weather error) from its own stream,
keyed by (seed, ``site/resource``, day, purpose), so adding a resource or a site changes
nothing about the others. Curtailable loads take their natural load from the district's
synthetic meter history (its seed and noise), so the truth on the simulated day continues
the history the baselines are computed from.
"""

from __future__ import annotations

import weakref
from datetime import date, tzinfo

from vpp.domain import District, ResourceRef, SyntheticHistory
from vpp.hil_sim.physics import battery, curtailable, ev, hvac, pv
from vpp.hil_sim.physics.base import (
    DEFAULT_SETTINGS,
    DEVICE_BUILDERS,
    Device,
    DeviceContext,
    PhysicsSettings,
    register_physics,
)

register_physics(curtailable.KIND, curtailable.build_curtailable)
register_physics(battery.KIND, battery.build_battery)
register_physics(ev.KIND, ev.build_ev_pool)
register_physics(hvac.KIND, hvac.build_hvac)
register_physics(pv.KIND, pv.build_pv)


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
    build = DEVICE_BUILDERS.get(ref.resource.kind)
    if build is None:
        raise TypeError(f"{ref.key}: no physics for kind {ref.resource.kind!r}")
    return build(ref, DeviceContext(day, tz, seed, history or SyntheticHistory(), settings))


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
    for ref in site_refs(district, site_id):
        devices[ref.resource.resource_id] = build_device(
            ref, day, district.tz, seed=seed, history=history, settings=settings
        )
    return devices


_SITE_INDEX: list[tuple[weakref.ref[District], dict[str, list[ResourceRef]]]] = []


def site_refs(district: District, site_id: str) -> list[ResourceRef]:
    """The resources of one site, in district order.

    A simulation asks this once per site: the index is built once per district (the last
    one asked about), so a city's set-up does not scan every resource for every site.
    """
    index = None
    if _SITE_INDEX and _SITE_INDEX[0][0]() is district:
        index = _SITE_INDEX[0][1]
    if index is None:
        index = {}
        for ref in district.resources():
            index.setdefault(ref.site.site_id, []).append(ref)
        _SITE_INDEX[:] = [(weakref.ref(district), index)]
    refs = index.get(site_id)
    if not refs:
        raise KeyError(f"site {site_id!r} is not in district {district.district_id!r}")
    return refs
