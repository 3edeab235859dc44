"""Seeded benchmark districts of any size, drawn from the demo district's mix.

The demo district (``configs/districts/demo.yaml``, 62 resources in 42 enterprises) is the
template. A district of ``n`` resources draws enterprises from it with replacement, with a
seeded random stream, until it holds ``n`` resources (the last one trimmed to fit). Each
copy gets fresh ids and every asked price is scaled by its own factor in 0.9..1.1, so
copies are not interchangeable (no symmetry for the MILP to exploit or suffer). Every 42
enterprises share their own copy of the demo's five feeders, and the district's peak grows
with its resource count, so the 5 % target asks each resource for what it asks in the demo.
Baselines are the registered typical loads (no meter history), so building an instance
costs no baseline computation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from vpp.config import load_district
from vpp.domain import (
    Battery,
    CurtailableLoad,
    DemandResponseEvent,
    District,
    Enterprise,
    EvChargerPool,
    EventKind,
    HvacLoad,
    Notice,
    Resource,
    Site,
    TimeGrid,
)
from vpp.optimizer import DispatchProblem

ROOT = Path(__file__).resolve().parents[1]
DEMO_DISTRICT = ROOT / "configs" / "districts" / "demo.yaml"
DAY = (2026, 7, 15)
"""The demo district's peak day; its peak hours (11:00-13:00) are the event window."""
PRICE_JITTER = (0.9, 1.1)


@lru_cache(maxsize=1)
def demo_district() -> District:
    return load_district(DEMO_DISTRICT)


def scaled_district(n_resources: int, seed: int = 0) -> District:
    """A district of exactly ``n_resources`` resources in the demo's mix (see module doc)."""
    if n_resources < 1:
        raise ValueError(f"n_resources: need at least 1, got {n_resources}")
    demo = demo_district()
    rng = np.random.default_rng(seed)
    per_group = len(demo.enterprises)
    enterprises: list[Enterprise] = []
    rotation: dict[str, int] = {}
    count = 0
    while count < n_resources:
        i = len(enterprises)
        template = demo.enterprises[int(rng.integers(per_group))]
        copy = _copy_enterprise(template, f"c{i}", f"g{i // per_group}", n_resources - count, rng)
        enterprises.append(copy)
        count += sum(len(site.resources) for site in copy.sites)
        if template.enterprise_id in demo.rotation_counts:
            rotation[copy.enterprise_id] = demo.rotation_counts[template.enterprise_id]
    groups = (len(enterprises) - 1) // per_group + 1
    feeders = tuple(
        feeder.model_copy(update={"feeder_id": f"{feeder.feeder_id}-g{g}"})
        for g in range(groups)
        for feeder in demo.feeders
    )
    n_demo = sum(1 for _ in demo.resources())
    return demo.model_copy(
        update={
            "district_id": f"bench-{n_resources}-s{seed}",
            "name": f"{n_resources} resources in the demo district's mix (seed {seed})",
            "peak_load_kw": demo.peak_load_kw * n_resources / n_demo,
            "feeders": feeders,
            "enterprises": tuple(enterprises),
            "rotation_counts": rotation,
            "meter_history": None,
        }
    )


def _copy_enterprise(
    template: Enterprise, suffix: str, group: str, room: int, rng: np.random.Generator
) -> Enterprise:
    """The template with new ids, jittered prices, and at most ``room`` resources."""
    sites: list[Site] = []
    for site in template.sites:
        if room <= 0:
            break
        resources = tuple(_jitter(r, rng) for r in site.resources[:room])
        room -= len(resources)
        sites.append(
            site.model_copy(update={"site_id": f"{site.site_id}-{suffix}", "resources": resources})
        )
    return template.model_copy(
        update={
            "enterprise_id": f"{template.enterprise_id}-{suffix}",
            "feeder_id": f"{template.feeder_id}-{group}",
            "sites": tuple(sites),
        }
    )


def _jitter(resource: Resource, rng: np.random.Generator) -> Resource:
    factor = float(rng.uniform(*PRICE_JITTER))
    if isinstance(resource, CurtailableLoad):
        steps = tuple(
            s.model_copy(update={"price_cny_per_kwh": s.price_cny_per_kwh * factor})
            for s in resource.steps
        )
        return resource.model_copy(update={"steps": steps})
    if isinstance(resource, Battery | EvChargerPool | HvacLoad):
        return resource.model_copy(
            update={"price_cny_per_kwh": resource.price_cny_per_kwh * factor}
        )
    return resource


@dataclass(frozen=True)
class Instance:
    """One benchmark case: a district and its dispatch problem."""

    n_resources: int
    n_intervals: int
    seed: int
    problem: DispatchProblem

    @property
    def label(self) -> str:
        return f"{self.n_resources} x {self.n_intervals}"


def peak_event(district: District) -> DemandResponseEvent:
    """A day-ahead 5 % peak-shaving event over the district's peak hours (11:00-13:00)."""
    tz = ZoneInfo(district.timezone)
    start = datetime(*DAY, 11, tzinfo=tz)
    return DemandResponseEvent(
        event_id=f"{district.district_id}-peak",
        kind=EventKind.PEAK_SHAVING,
        start=start,
        end=start + timedelta(hours=2),
        target_pct_of_peak=district.response_target_pct,
        notice=Notice.DAY_AHEAD,
        issued_at=start - timedelta(hours=20),
    )


def horizon(district: District, n_intervals: int) -> TimeGrid:
    """15-min intervals around the peak event: 10:00-14:00 for 16, the whole day for 96."""
    if n_intervals < 8 or n_intervals > 96:
        raise ValueError(f"n_intervals: need 8..96 to cover the 2-h event, got {n_intervals}")
    tz = ZoneInfo(district.timezone)
    first = max(0, min(11 * 4 - (n_intervals - 8) // 2, 96 - n_intervals))
    start = datetime(*DAY, tzinfo=tz) + timedelta(minutes=15 * first)
    return TimeGrid(start=start, interval_min=15, count=n_intervals)


def make_instance(n_resources: int, n_intervals: int = 16, seed: int = 0) -> Instance:
    """The benchmark dispatch problem for a district of ``n_resources``."""
    district = scaled_district(n_resources, seed)
    problem = DispatchProblem(district, peak_event(district), horizon(district, n_intervals))
    return Instance(n_resources, n_intervals, seed, problem)
