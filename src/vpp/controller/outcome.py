"""What an event delivered, measured as a grid operator measures it: the participants'
telemetry against their customer baselines, never against anyone's hidden truth.

An interval in which a resource sent no trustworthy telemetry counts as no response from
it (stale or stuck meters are no evidence, DOMAIN.md). Only readings the plausibility gate
accepted are measured; each line counts the readings refused during the event.
"""

from __future__ import annotations

import numpy as np
from pydantic import AwareDatetime, Field

from vpp.controller.monitor import Monitor
from vpp.controller.run import EventRun
from vpp.domain import District, FrozenModel
from vpp.settlement import (
    EffectiveResponseRule,
    EventSettlement,
    ResourceDelivery,
    asked_price_cny_per_kwh,
    counted_from,
    settle_event,
)


class IntervalDelivery(FrozenModel):
    """Portfolio totals of the event's participants in one event interval [kW]."""

    start: AwareDatetime
    target_kw: float
    planned_kw: float
    baseline_kw: float
    actual_kw: float
    delivered_kw: float
    missing_meters: int

    @property
    def met(self) -> bool:
        return self.delivered_kw >= self.target_kw - 1e-6


class EventOutcome(FrozenModel):
    event_id: str
    kind: str
    start: AwareDatetime
    end: AwareDatetime
    state: str
    target_kw: float
    intervals: tuple[IntervalDelivery, ...]
    settlement: EventSettlement
    refused_samples: dict[str, int] = Field(
        default_factory=dict,
        description="per participant (site/resource) with any: readings refused during the event",
    )

    @property
    def performance_ratio(self) -> float:
        """Delivered over target energy in the window [-]."""
        target = sum(i.target_kw for i in self.intervals)
        return sum(i.delivered_kw for i in self.intervals) / target if target else 0.0

    @property
    def met(self) -> bool:
        return bool(self.intervals) and all(i.met for i in self.intervals)

    @property
    def min_delivered_kw(self) -> float:
        return min((i.delivered_kw for i in self.intervals), default=0.0)


def event_outcome(
    run: EventRun, monitor: Monitor, district: District, rule: EffectiveResponseRule | str
) -> EventOutcome:
    """Measured delivery per interval of the window (its participants, each from its first
    ask) and the settlement of one event: over the window and any hold after it, every
    resource asked something (docs/settlement.md, rule 9)."""
    grid = run.grid
    window = run.window
    direction = run.event.direction
    refs = {ref.key: ref for ref in district.resources()}
    n = window.stop - window.start
    baseline = np.zeros(n)
    actual = np.zeros(n)
    planned = np.zeros(n)
    missing = np.zeros(n, dtype=int)
    deliveries: list[ResourceDelivery] = []
    refused: dict[str, int] = {}
    asks = run.asks()
    settled = run.settled(asks)
    participants = set(run.participants())
    for key in asks:
        schedule = run.schedules[key]
        asked = asks[key][settled]
        base = np.asarray(schedule.baseline_kw[settled], dtype=float)
        first = counted_from(asked[:n].tolist())
        measured: list[float | None] = []
        for i, t in enumerate(range(settled.start, settled.stop)):
            mean = monitor.trusted_mean_kw(key, grid.starts[t])
            measured.append(mean)
            if key not in participants or i < first or i >= n:
                continue  # the portfolio's delivery: participants from their first ask
            if mean is None:
                missing[i] += 1
            actual[i] += base[i] if mean is None else mean
        if key in participants:
            baseline[first:] += base[first:n]
            planned += asked[:n]
        ref = refs[key]
        refused_samples = monitor.refused_in(key, grid.starts[settled])
        if refused_samples:
            refused[key] = refused_samples
        asked_kw_mean = float(asked[asked > 0].mean()) if np.any(asked > 0) else 0.0
        deliveries.append(
            ResourceDelivery(
                enterprise_id=ref.enterprise.enterprise_id,
                site_id=ref.site.site_id,
                resource_id=ref.resource.resource_id,
                kind=ref.resource.kind,
                asked_kw=tuple(float(v) for v in asked),
                baseline_kw=tuple(float(v) for v in base),
                measured_kw=tuple(measured),
                price_cny_per_kwh=asked_price_cny_per_kwh(ref.resource, asked_kw_mean),
                direction=direction,
                refused_samples=refused_samples,
            )
        )
    intervals = tuple(
        IntervalDelivery(
            start=grid.starts[t],
            target_kw=run.target_kw,
            planned_kw=float(planned[i]),
            baseline_kw=float(baseline[i]),
            actual_kw=float(actual[i]),
            delivered_kw=float(direction * (baseline[i] - actual[i])),
            missing_meters=int(missing[i]),
        )
        for i, t in enumerate(range(window.start, window.stop))
    )
    return EventOutcome(
        event_id=run.event_id,
        kind=run.event.kind.value,
        start=run.event.start,
        end=run.event.end,
        state=run.lifecycle.state.value,
        target_kw=run.target_kw,
        intervals=intervals,
        settlement=settle_event(run.event_id, deliveries, grid.dt_h, rule, window_intervals=n),
        refused_samples=refused,
    )
