"""Writing what the controller does to the store as it happens, and settling from the store.

Every ``sync_period_s`` the service hands each event's run to :class:`ProgressWriter`:
new lifecycle changes, the first plan and each re-plan, what each participant was asked
and delivered in every finished interval, the setpoints sent and the acks that came back,
and every resource's telemetry per interval. A run's incarnation numbers its controller
run: a restarted service resumes an event as a new incarnation of it.

Settlement reads the stored deliveries, not the live run, so an event that spanned a
restart settles over every interval measured before and after it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from vpp.api.explanations import explanation_entry
from vpp.controller import EventRun, Monitor
from vpp.domain import Ack, DemandResponseEvent, District, FloatArray, ResourceRef, Setpoint
from vpp.settlement import (
    ResourceDelivery,
    asked_price_cny_per_kwh,
    rotation_entries,
    settle_event,
)
from vpp.store import DeliveryRow, Store

logger = logging.getLogger(__name__)


@dataclass
class ReboundCache:
    """What :func:`vpp.api.live.rebound_view` keeps between the stream's calls: the
    portfolio's metered load per interval index once settled (kW, meters counted at their
    plan), and the plans' load over the grid [kW] with the schedules it was summed from
    (a re-plan or a hand-over replaces a schedule, so a new object means a new sum)."""

    measured: dict[int, tuple[float, int]] = field(default_factory=dict)
    schedules: tuple[object, ...] = ()
    planned_kw: FloatArray | None = None


@dataclass
class Tracked:
    """An event's live run and how much of it is already in the store."""

    run: EventRun
    incarnation: int
    first_note: str = ""
    states_written: int = 0
    decisions_written: int = 0
    intervals_written: set[int] = field(default_factory=set)
    rebound: ReboundCache = field(default_factory=ReboundCache)


def plan_summary(run: EventRun) -> dict[str, Any]:
    """The first plan in a few numbers: what the operator sees when the event is created."""
    assert run.initial is not None
    assert run.problem is not None
    result = run.initial
    refs = {ref.key: ref for ref in run.problem.district.resources()}
    keys = run.participants()
    return {
        "solver_status": result.solve.status.value,
        "expected_shortfall_kw": round(result.max_shortfall_kw, 3),
        "cost_cny": round(result.costs.cost_cny, 2),
        "participants": keys,
        "enterprises": sorted({refs[k].enterprise.enterprise_id for k in keys if k in refs}),
        "window_start": run.event.start.isoformat(),
        "rebound_cap_kw": _rounded(result.rebound_cap_kw),
        "baseline_peak_kw": _rounded(result.baseline_peak_kw),
        "post_event_peak_kw": round(result.post_event_peak_kw, 3),
        "max_rebound_excess_kw": round(result.max_rebound_excess_kw, 3),
    }


def _rounded(value_kw: float | None) -> float | None:
    return None if value_kw is None else round(value_kw, 3)


class ProgressWriter:
    def __init__(
        self, store: Store, monitor: Monitor, evaluation_delay_s: float, rule: str
    ) -> None:
        self.store = store
        self.monitor = monitor
        self.delay = timedelta(seconds=evaluation_delay_s)
        self.rule = rule
        self.tracked: dict[str, Tracked] = {}
        self._telemetry_from: datetime | None = None
        self._lock = asyncio.Lock()

    def track(self, run: EventRun, incarnation: int, first_note: str = "") -> None:
        """Follow a run; incarnation 0 has its 'received' state written already."""
        self.tracked[run.event_id] = Tracked(
            run, incarnation, first_note, states_written=1 if incarnation == 0 else 0
        )

    async def sync(
        self,
        now: datetime,
        drain: Callable[[], tuple[list[Setpoint], list[Ack]]],
        district: District | None,
    ) -> None:
        """One round: fabric records, every tracked run, telemetry intervals. Rounds never
        overlap (a request may ask for one while the periodic one runs)."""
        async with self._lock:
            await self._sync(now, drain, district)

    async def _sync(
        self,
        now: datetime,
        drain: Callable[[], tuple[list[Setpoint], list[Ack]]],
        district: District | None,
    ) -> None:
        sent, acks = drain()
        enterprise_of = (
            {s.site_id: e.enterprise_id for e in district.enterprises for s in e.sites}
            if district is not None
            else {}
        )
        event_of = {c: t.run.event_id for t in self.tracked.values() for c in t.run.command_ids}
        await self.store.records.add_setpoints(
            [(s, event_of.get(s.command_id), enterprise_of.get(s.site_id)) for s in sent], acks
        )
        for event_id, tracked in list(self.tracked.items()):
            if await self._sync_run(tracked, now):
                del self.tracked[event_id]
        if district is not None:
            await self._sync_telemetry(district, now)

    async def _sync_run(self, tracked: Tracked, now: datetime) -> bool:
        """Write what is new; returns True once the event is settled and final."""
        run = tracked.run
        history = run.lifecycle.history
        upto = len(history)  # the run moves on while we write: count what was taken
        states = []
        for seq in range(tracked.states_written, upto):
            change = history[seq]
            note = change.note
            if seq == 0 and tracked.first_note:
                note = tracked.first_note
            states.append((seq, change.at, change.state.value, note))
        decisions: list[tuple[int, datetime, str, dict[str, Any]]] = []
        plan = None
        decisions_written = tracked.decisions_written
        if run.initial is not None and decisions_written == 0:
            plan = plan_summary(run)
            decisions.append((0, history[-1].at, "plan", {**plan, **explanation_entry(run)}))
            decisions_written = 1
        if decisions_written >= 1:
            for i in range(decisions_written - 1, len(run.replans)):
                r = run.replans[i]
                decisions.append(
                    (
                        i + 1,
                        r.at,
                        "replan",
                        {
                            "reason": r.reason,
                            "from_interval": r.first_interval.isoformat(),
                            "dropped": list(r.dropped),
                            "added": list(r.added),
                            "residual_kw": round(r.residual_kw, 3),
                            "rebound_excess_kw": round(r.rebound_excess_kw, 3),
                            "solver_status": r.status,
                        },
                    )
                )
            decisions_written = len(run.replans) + 1
        deliveries, done, pending = self._deliveries(tracked, now)
        event_id = run.event_id
        await self.store.events.record_progress(
            event_id, tracked.incarnation, states, decisions, deliveries, now, plan
        )
        # counted only once written: a failed write is retried in the next round
        tracked.states_written = upto
        tracked.decisions_written = decisions_written
        tracked.intervals_written |= done
        all_states_written = len(run.lifecycle.history) == upto
        if (
            run.lifecycle.finished and all_states_written and not pending
        ):  # the final state is written, every interval too
            record = await self.store.events.get(event_id)
            if record is not None:
                await settle(self.store, record.event, self._interval_min, self.rule, now)
            return True
        return False

    @property
    def _interval_min(self) -> int:
        return int(self.monitor.interval / timedelta(minutes=1))

    def _deliveries(
        self, tracked: Tracked, now: datetime
    ) -> tuple[list[DeliveryRow], set[int], bool]:
        """Rows for the finished intervals not yet written, those intervals, and whether
        any are still due."""
        run = tracked.run
        if run.problem is None:
            return [], set(), False
        grid = run.grid
        finished_at = run.lifecycle.history[-1].at if run.lifecycle.finished else None
        refs: dict[str, ResourceRef] = {r.key: r for r in run.problem.district.resources()}
        asked = {k: v for k, v in run.asks().items() if k in refs}
        keys = list(asked)
        settled = run.settled(asked)  # the window and any hold after it
        rows: list[DeliveryRow] = []
        done: set[int] = set()
        pending = False
        for t in range(settled.start, settled.stop):
            end = grid.starts[t] + grid.interval
            if t in tracked.intervals_written or (finished_at is not None and end > finished_at):
                continue
            if end + self.delay > now:
                pending = True
                continue
            done.add(t)
            for key in keys:
                ref = refs[key]
                mine = asked[key][settled]
                positive = mine[mine > 0]
                mean_asked = float(positive.mean()) if positive.size else 0.0
                rows.append(
                    DeliveryRow(
                        event_id=run.event_id,
                        site_id=ref.site.site_id,
                        resource_id=ref.resource.resource_id,
                        interval_start=grid.starts[t],
                        enterprise_id=ref.enterprise.enterprise_id,
                        kind=ref.resource.kind,
                        asked_kw=float(asked[key][t]),
                        baseline_kw=float(run.schedules[key].baseline_kw[t]),
                        measured_kw=self.monitor.trusted_mean_kw(key, grid.starts[t]),
                        price_cny_per_kwh=asked_price_cny_per_kwh(ref.resource, mean_asked),
                        refused_samples=self.monitor.refused_in(key, [grid.starts[t]]),
                    )
                )
        return rows, done, pending

    async def _sync_telemetry(self, district: District, now: datetime) -> None:
        """Each resource's mean power per finished interval."""
        interval = self.monitor.interval
        if self._telemetry_from is None:
            self._telemetry_from = self.monitor.interval_start(now)
        start = self._telemetry_from
        rows = []
        while start + interval + self.delay <= now:
            for ref in district.resources():
                mean = self.monitor.mean_kw(ref.key, start)
                if mean is not None:
                    rows.append((ref.site.site_id, ref.resource.resource_id, start, mean))
            start += interval
        self._telemetry_from = start
        await self.store.records.add_telemetry(rows)


def event_starts(event: DemandResponseEvent, interval_min: int) -> list[datetime]:
    step = timedelta(minutes=interval_min)
    count = int((event.end - event.start) / step)
    return [event.start + i * step for i in range(count)]


async def settle(
    store: Store, event: DemandResponseEvent, interval_min: int, rule: str, now: datetime
) -> None:
    """Settle an event from its stored deliveries over its whole window and any hold after
    it (the rows past the window are the holds'); marks it final."""
    rows = await store.events.deliveries(event.event_id)
    if not rows:
        await store.events.save_settlement(event.event_id, {}, now)
        return
    window = event_starts(event, interval_min)
    starts = window + sorted({r.interval_start for r in rows if r.interval_start >= event.end})
    index = {s: i for i, s in enumerate(starts)}
    by_key: dict[tuple[str, str], list[DeliveryRow]] = {}
    for row in rows:
        by_key.setdefault((row.site_id, row.resource_id), []).append(row)
    deliveries = []
    for (site_id, resource_id), mine in sorted(by_key.items()):
        n = len(starts)
        asked, base = [0.0] * n, [0.0] * n
        measured: list[float | None] = [None] * n
        refused = 0
        for row in mine:
            i = index.get(row.interval_start)
            if i is None:
                continue
            asked[i], base[i], measured[i] = row.asked_kw, row.baseline_kw, row.measured_kw
            refused += row.refused_samples
        deliveries.append(
            ResourceDelivery(
                enterprise_id=mine[-1].enterprise_id,
                site_id=site_id,
                resource_id=resource_id,
                kind=mine[-1].kind,
                asked_kw=tuple(asked),
                baseline_kw=tuple(base),
                measured_kw=tuple(measured),
                price_cny_per_kwh=mine[-1].price_cny_per_kwh,
                direction=event.direction,
                refused_samples=refused,
            )
        )
    settlement = settle_event(
        event.event_id, deliveries, interval_min / 60.0, rule, window_intervals=len(window)
    )
    lines = {
        line.enterprise_id: line.model_dump(mode="json")
        for line in (*settlement.enterprises, *settlement.unasked)
    }
    await store.events.save_settlement(event.event_id, lines, now)
    ids = [e.enterprise_id for e in await store.enterprises.all()]
    await store.rotation.record(rotation_entries(settlement, event.start, ids))
    logger.info(
        "event %s settled: %.1f of %.1f kWh delivered, %.2f CNY",
        event.event_id,
        settlement.delivered_kwh,
        settlement.asked_kwh,
        settlement.payment_cny,
    )
