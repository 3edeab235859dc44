"""Event views built from the store, topped up with the live run for what is still ahead."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from vpp.api.progress import ReboundCache, event_starts, plan_summary
from vpp.api.views import (
    EnterpriseEventView,
    EventView,
    IntervalView,
    ReboundView,
    RedispatchView,
    StateView,
)
from vpp.controller import EventRun
from vpp.controller.monitor import Monitor
from vpp.controller.planning import plans_deviation_kw, response_kw
from vpp.domain import FloatArray
from vpp.planning import AFTER_EVENT
from vpp.settlement import ASKED_TOL_KW, counted_from
from vpp.store import DeliveryRow, EventRecord

if TYPE_CHECKING:
    from vpp.api.service import Service

#: Settlement totals summed over enterprise lines.
_TOTALS = (
    *("asked_kwh", "delivered_kwh", "unasked_kwh", "credited_kwh", "payment_cny"),
    "penalty_cny",
)


def _totals(lines: list[dict[str, Any]]) -> dict[str, Any]:
    """Sums over the lines; a line stored before a field existed counts 0 for it."""
    out: dict[str, Any] = {
        name: round(sum(line.get(name, 0.0) for line in lines), 3) for name in _TOTALS
    }
    out["enterprises"] = lines
    return out


def _counted_from(rows: list[DeliveryRow]) -> dict[tuple[str, str], datetime]:
    """Per resource, the first interval its load counts in the portfolio's delivery
    (:func:`vpp.settlement.counted_from`)."""
    by_key: dict[tuple[str, str], list[DeliveryRow]] = defaultdict(list)
    for row in rows:
        by_key[(row.site_id, row.resource_id)].append(row)
    out = {}
    for key, mine in by_key.items():
        mine.sort(key=lambda r: r.interval_start)
        out[key] = mine[counted_from([r.asked_kw for r in mine])].interval_start
    return out


def _counted_from_plan(run: EventRun) -> dict[tuple[str, str], datetime]:
    """:func:`_counted_from` from a live event's plan, asks not yet measured included."""
    window = run.window
    assert window.start is not None
    out = {}
    for key in run.participants():
        schedule = run.schedules[key]
        asked = np.maximum(0.0, response_kw(schedule, run.event.direction)[window])
        first = window.start + counted_from(asked.tolist())
        out[(schedule.site_id, schedule.resource_id)] = run.grid.starts[first]
    return out


async def event_view(service: Service, record: EventRecord) -> EventView:
    event = record.event
    event_id = event.event_id
    store = service.store
    interval_min = service.settings.controller.interval_min
    dt_h = interval_min / 60.0
    target_kw = event.target_kw_for(service.frame.peak_load_kw)
    rows: dict[datetime, list[DeliveryRow]] = defaultdict(list)
    stored = await store.events.deliveries(event_id)
    for row in stored:
        rows[row.interval_start].append(row)
    joined = _counted_from(stored)
    run = service.live_run(event_id)
    planned_ahead: dict[datetime, float] = {}
    if run is not None and run.problem is not None:
        planned = run.planned_response_kw(run.kept())
        planned_ahead = {s: float(planned[t]) for t, s in enumerate(run.grid.starts)}
        joined |= _counted_from_plan(run)  # the asks still ahead are known from the plan
    intervals = []
    for start in event_starts(event, interval_min):
        measured = [r for r in rows.get(start, []) if start >= joined[(r.site_id, r.resource_id)]]
        if not rows.get(start):
            intervals.append(
                IntervalView(
                    start=start, target_kw=target_kw, planned_kw=planned_ahead.get(start, 0.0)
                )
            )
            continue
        baseline = sum(r.baseline_kw for r in measured)
        actual = sum(r.baseline_kw if r.measured_kw is None else r.measured_kw for r in measured)
        delivered = event.direction * (baseline - actual)
        intervals.append(
            IntervalView(
                start=start,
                target_kw=target_kw,
                planned_kw=sum(r.asked_kw for r in measured),
                baseline_kw=baseline,
                actual_kw=actual,
                delivered_kw=delivered,
                shortfall_kw=max(0.0, target_kw - delivered),
                met=delivered >= target_kw - 1e-6,
                missing_meters=sum(r.measured_kw is None for r in measured),
            )
        )
    redispatches = [
        RedispatchView(
            at=d["at"],
            reason=d["reason"],
            from_interval=d.get("from_interval"),
            dropped=d["dropped"],
            added=d["added"],
            residual_kw=d["residual_kw"],
            rebound_excess_kw=d.get("rebound_excess_kw", 0.0),
            solver_status=d["solver_status"],
        )
        for d in await store.events.decisions(event_id)
        if d["kind"] == "replan"
    ]
    rebound = None
    runs = service.writer.tracked if service.writer is not None else {}
    tracked = runs.get(event_id)
    if tracked is not None and tracked.run.initial is not None and service.controller:
        rebound = rebound_view(
            tracked.run,
            service.controller.monitor,
            service.clock.now(),
            timedelta(seconds=service.settings.controller.evaluation_delay_s),
            tracked.rebound,
            [t.run for t in runs.values() if t.run.problem is not None],
        )
    lines = [data for _, _, data in await store.events.settlements(event_id=event_id)]
    plan = record.plan
    if plan is None and run is not None and run.initial is not None:
        plan = plan_summary(run)
    return EventView(
        event=event,
        state=run.lifecycle.state.value if run is not None else record.state,
        target_kw=target_kw,
        plan=plan,
        history=[
            StateView(at=h.at, state=h.state, note=h.note, incarnation=h.incarnation)
            for h in await store.events.history(event_id)
        ],
        intervals=intervals,
        delivered_kwh=sum((i.delivered_kw or 0.0) * dt_h for i in intervals),
        shortfall_kwh=sum((i.shortfall_kw or 0.0) * dt_h for i in intervals),
        redispatches=redispatches,
        rebound=rebound,
        devices_redispatched=sorted({k for r in redispatches for k in (*r.dropped, *r.added)}),
        settlement=_totals(lines) if record.finalized else None,
        openadr=record.openadr,
    )


def rebound_view(
    run: EventRun,
    monitor: Monitor,
    now: datetime,
    settled_after: timedelta = timedelta(0),
    cache: ReboundCache | None = None,
    others: Sequence[EventRun] = (),
) -> ReboundView | None:
    """The portfolio's load in the ``AFTER_EVENT`` hours after the window (to the horizon's
    end), planned and metered, against the first plan's cap (:class:`ReboundView`). The
    planned load is this event's plans with what the ``others`` events' plans add there (a
    later event charging before its window, an earlier one's recovery). A meter without a
    trusted reading in an interval counts at its plan's power there.

    The stream asks for this every fraction of a second, and both sums run over every
    resource of the district, so ``cache`` keeps them: an interval ended ``settled_after``
    ago no longer changes, and the plans' load stands until a schedule is replaced."""
    plan = run.initial
    if plan is None:
        return None
    grid, window = run.grid, run.window
    stop = min(grid.count, window.stop + round(AFTER_EVENT / grid.interval))
    span = range(window.stop, stop)
    if not span:
        return None
    cache = ReboundCache() if cache is None else cache
    planned = _planned_load_kw(run, [r for r in others if r is not run], cache)
    planned_t = max(span, key=lambda t: planned[t])
    measured: dict[int, tuple[float, int]] = {}
    for t in span:
        start = grid.starts[t]
        if start + grid.interval > now:
            break
        if t in cache.measured:
            measured[t] = cache.measured[t]
            continue
        total, from_plan = 0.0, 0
        for key, schedule in run.schedules.items():
            mean = monitor.trusted_mean_kw(key, start)
            if mean is None:
                total, from_plan = total + schedule.power_kw[t], from_plan + 1
            else:
                total += mean
        measured[t] = (total, from_plan)
        if start + grid.interval + settled_after <= now:
            cache.measured[t] = measured[t]
    cap = plan.rebound_cap_kw
    peak_t = max(measured, key=lambda t: measured[t][0]) if measured else None
    return ReboundView(
        cap_kw=cap,
        baseline_peak_kw=plan.baseline_peak_kw,
        planned_peak_kw=round(float(planned[planned_t]), 3),
        planned_peak_at=grid.starts[planned_t],
        measured_peak_kw=None if peak_t is None else round(measured[peak_t][0], 3),
        measured_peak_at=None if peak_t is None else grid.starts[peak_t],
        measured_intervals=len(measured),
        intervals_above_cap=0 if cap is None else sum(v > cap for v, _ in measured.values()),
        meters_from_plan_at_peak=0 if peak_t is None else measured[peak_t][1],
    )


def _planned_load_kw(run: EventRun, others: list[EventRun], cache: ReboundCache) -> FloatArray:
    """This event's plans' load over its grid with what the others' add [kW], summed again
    only when some schedule was replaced (schedules are never changed in place)."""
    schedules = tuple(s for r in (run, *others) for s in r.schedules.values())
    kept = cache.schedules
    if (
        cache.planned_kw is None
        or len(kept) != len(schedules)
        or any(a is not b for a, b in zip(kept, schedules, strict=True))
    ):
        own = np.sum([s.power_kw for s in run.schedules.values()], axis=0)
        added = plans_deviation_kw([(r.grid, r.schedules) for r in others], run.grid)
        cache.schedules, cache.planned_kw = schedules, own + added
    return cache.planned_kw


async def enterprise_event_view(
    service: Service, record: EventRecord, enterprise_id: str
) -> EnterpriseEventView:
    """One enterprise's part of an event: its resources, asked and delivered energy."""
    event = record.event
    dt_h = service.settings.controller.interval_min / 60.0
    rows = [
        r
        for r in await service.store.events.deliveries(event.event_id)
        if r.enterprise_id == enterprise_id
    ]
    # Past the window, only the intervals it was asked something in are its (rule 9).
    asked_after: dict[datetime, float] = defaultdict(float)
    for r in rows:
        if r.interval_start >= event.end:
            asked_after[r.interval_start] += r.asked_kw
    mine = [
        r
        for r in rows
        if r.interval_start < event.end or asked_after[r.interval_start] > ASKED_TOL_KW
    ]
    enterprise = await service.store.enterprises.get(enterprise_id)
    sites = {s.site_id for s in enterprise.sites} if enterprise is not None else set()
    planned = (record.plan or {}).get("participants", [])
    resources = sorted(
        {k for k in planned if k.split("/")[0] in sites}
        | {f"{r.site_id}/{r.resource_id}" for r in mine}
    )
    delivered = None
    if mine:
        delivered = sum(
            event.direction
            * (r.baseline_kw - (r.baseline_kw if r.measured_kw is None else r.measured_kw))
            * dt_h
            for r in mine
        )
    lines = await service.store.events.settlements(
        event_id=event.event_id, enterprise_id=enterprise_id
    )
    return EnterpriseEventView(
        event=event,
        state=record.state,
        resources=resources,
        asked_kwh=sum(r.asked_kw * dt_h for r in mine),
        delivered_kwh=delivered,
        settlement=lines[0][2] if lines else None,
    )
