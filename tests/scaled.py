"""The demo district scaled to any number of resources, for decomposition tests and timing.

Copy ``i`` of the demo park gets its own five feeders and ids suffixed ``-{i}``; asked
prices of copies after the first are jittered by up to +/-10 % (seeded), so copies are not
exact ties. The peak load, and with it the 5 % target, grows with the resource count.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from vpp.config import load_district
from vpp.domain import DemandResponseEvent, District, TimeGrid
from vpp.optimizer import DispatchProblem
from vpp.planning import make_event

DEMO = Path(__file__).resolve().parents[1] / "configs" / "districts" / "demo.yaml"
TZ = ZoneInfo("Asia/Shanghai")


@lru_cache(maxsize=1)
def demo() -> District:
    return load_district(DEMO)


def _jitter_prices(resource: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    if "steps" in resource:
        resource["steps"] = [
            {**s, "price_cny_per_kwh": s["price_cny_per_kwh"] * rng.uniform(0.9, 1.1)}
            for s in resource["steps"]
        ]
    if "price_cny_per_kwh" in resource:
        resource["price_cny_per_kwh"] *= rng.uniform(0.9, 1.1)
    return resource


def scaled_district(n_resources: int, seed: int = 0) -> District:
    """The demo district's mix, copied until it holds exactly ``n_resources`` resources."""
    base = demo().model_dump(mode="json")
    per_copy = sum(1 for _ in demo().resources())
    rng = np.random.default_rng(seed)
    enterprises: list[dict[str, Any]] = []
    feeders: list[dict[str, Any]] = []
    rotation: dict[str, int] = {}
    count, copy = 0, 0
    while count < n_resources:
        feeders += [{**f, "feeder_id": f"{f['feeder_id']}-{copy}"} for f in base["feeders"]]
        for ent in base["enterprises"]:
            if count >= n_resources:
                break
            sites = []
            for site in ent["sites"]:
                room = n_resources - count
                resources = [
                    _jitter_prices(dict(r), rng) if copy else dict(r)
                    for r in site["resources"][:room]
                ]
                if not resources:
                    break
                count += len(resources)
                sites.append(
                    {**site, "site_id": f"{site['site_id']}-{copy}", "resources": resources}
                )
            eid = f"{ent['enterprise_id']}-{copy}"
            enterprises.append(
                {
                    **ent,
                    "enterprise_id": eid,
                    "feeder_id": f"{ent['feeder_id']}-{copy}",
                    "sites": sites,
                }
            )
            if ent["enterprise_id"] in base["rotation_counts"]:
                rotation[eid] = base["rotation_counts"][ent["enterprise_id"]]
        copy += 1
    data = {
        **base,
        "district_id": f"scaled-{n_resources}",
        "name": f"Demo mix scaled to {n_resources} resources",
        "peak_load_kw": base["peak_load_kw"] * n_resources / per_copy,
        "feeders": feeders,
        "enterprises": enterprises,
        "rotation_counts": rotation,
        "meter_history": None,
    }
    return District.model_validate(data)


def peak_event(district: District, target_pct: float | None = None) -> DemandResponseEvent:
    """A day-ahead peak-shaving event over the demo's peak hours, 11:00-13:00 on 15 July."""
    return make_event(
        district,
        datetime(2026, 7, 15, 11, tzinfo=TZ),
        datetime(2026, 7, 15, 13, tzinfo=TZ),
        target_pct=target_pct,
    )


def scaled_problem(
    n_resources: int, seed: int = 0, target_pct: float | None = None, intervals: int = 16
) -> DispatchProblem:
    """The peak event on a scaled district, baselines from typical loads.

    The horizon starts at the event (11:00) and runs ``intervals`` quarter hours: 16 give
    the event and two hours of rebound, 96 the whole day from 11:00.
    """
    district = scaled_district(n_resources, seed)
    event = peak_event(district, target_pct)
    grid = TimeGrid(start=event.start, interval_min=15, count=intervals)
    return DispatchProblem(district, event, grid)
