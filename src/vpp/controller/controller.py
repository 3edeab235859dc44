"""The controller: plans each event off the event loop, sends each interval's setpoints as
leases, watches acks and telemetry, and re-plans the remaining intervals when a device
fails or delivery falls short.

One task per event runs its lifecycle; time comes from the injected clock, so the same code
runs in service on the wall clock and in simulations far faster than real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import replace
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import numpy as np
from pydantic import Field

from vpp.baseline import DEFAULT_BASELINE
from vpp.controller.clock import Clock
from vpp.controller.gate import PlausibilityGate
from vpp.controller.lifecycle import EventState, Lifecycle
from vpp.controller.monitor import Monitor
from vpp.controller.planning import (
    commanded,
    others_rebound_kw,
    rebound_room_kw,
    released_from,
    replan,
    response_kw,
    soc_after,
    spliced,
    with_battery_soc,
    with_comfort_margin,
    within_event,
)
from vpp.controller.run import EventRun, Fault, Replan
from vpp.controller.safety import within_limits
from vpp.device_adapters.base import (
    AckReceived,
    DeviceAdapter,
    Inbound,
    StatusReceived,
    TelemetryReceived,
)
from vpp.domain import (
    AckStatus,
    Battery,
    DemandResponseEvent,
    District,
    FrozenModel,
    GatewayState,
    PlausibilitySettings,
    Pv,
    Resource,
    ResourceRef,
    Setpoint,
    SetpointMode,
    VppError,
)
from vpp.optimizer import DispatchSettings
from vpp.optimizer.explain import dispatch_explained
from vpp.planning import prepare_problem

logger = logging.getLogger(__name__)

T = TypeVar("T")


class ControllerSettings(FrozenModel):
    """How the controller paces, judges and re-plans; durations in seconds."""

    interval_min: int = Field(default=15, gt=0)
    baseline_method: str = DEFAULT_BASELINE
    planning_margin_pct: float = Field(
        default=5.0, ge=0, le=50, description="planned over-delivery absorbing baseline error [%]"
    )
    send_lead_s: float = Field(default=60.0, ge=0, description="setpoints leave this early")
    ramp_lead_s: dict[str, float] = Field(
        default={"curtailable_load": 300.0, "hvac_load": 600.0, "ev_charger_pool": 60.0},
        description="per kind: a changed command takes effect this early, to ramp in time [s]",
    )
    ack_timeout_s: float = Field(default=90.0, gt=0)
    telemetry_stale_s: float = Field(default=180.0, gt=0)
    check_period_s: float = Field(default=30.0, gt=0)
    evaluation_delay_s: float = Field(
        default=60.0, ge=0, description="wait for an interval's last telemetry before judging it"
    )
    shortfall_tolerance_pct: float = Field(default=1.0, ge=0, le=100)
    under_delivery_ratio: float = Field(
        default=0.5, ge=0, le=1, description="below this share of its plan a resource is dropped"
    )
    release_lease_s: float = Field(default=900.0, gt=0)
    offline_grace_s: float = Field(
        default=60.0,
        ge=0,
        description="a gateway must stay offline this long to count (brokers publish every "
        "client's will when they shut down)",
    )
    plausibility: PlausibilitySettings = Field(
        default=PlausibilitySettings(),
        description="readings that cannot be true are refused before the monitor sees them",
    )
    silence_floor_wall_s: float = Field(
        default=10.0,
        ge=0,
        description="a silence (no ack, stale telemetry, a gateway offline) counts only once "
        "this much wall time has passed too, on a clock that runs by itself: links, brokers "
        "and gateways answer in wall time however fast the clock runs (--time-scale) [s]",
    )
    retention_h: float = Field(
        default=48.0,
        gt=0,
        description="finished events and telemetry intervals older than this are forgotten "
        "by :meth:`Controller.prune` (the store keeps them) [h]",
    )
    hvac_comfort_margin_c: float = Field(
        default=1.0, ge=0, le=5, description="plans keep buildings this far below comfort_max"
    )
    dispatch: DispatchSettings = DispatchSettings()


class EventNotFoundError(VppError, KeyError):
    def __init__(self, event_id: str) -> None:
        self.event_id = event_id
        super().__init__(f"event {event_id!r}: not known to the controller")


class Controller:
    """Runs demand-response events for one district over a device adapter."""

    def __init__(
        self,
        district: District,
        adapter: DeviceAdapter,
        clock: Clock,
        settings: ControllerSettings | None = None,
        *,
        executor: Executor | None = None,
    ) -> None:
        self.district = district
        self.adapter = adapter
        self.clock = clock
        self.settings = settings or ControllerSettings()
        self.monitor = Monitor(self.settings.interval_min)
        self.runs: dict[str, EventRun] = {}
        self.faults: list[Fault] = []
        self.site_online: dict[str, bool] = {}
        self.refused_setpoints = 0
        self._refs: dict[str, ResourceRef] = {ref.key: ref for ref in district.resources()}
        self._executor = executor
        self._solving = 0
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._parked: dict[str, tuple[datetime, asyncio.Event, list[asyncio.Future[Any]]]] = {}
        self._command_event: dict[str, str] = {}
        self._calls: Counter[tuple[date, str]] = Counter()
        self._link_up_since: datetime | None = None
        self._offline_since: dict[str, datetime] = {}
        self.gate = PlausibilityGate(
            self.settings.plausibility, self.settings.telemetry_stale_s, self._resource_of
        )

    # -- public surface --------------------------------------------------------------

    async def start(self) -> None:
        await self.adapter.start(self._on_inbound)

    async def stop(self, *, release: bool = True) -> None:
        """Stop every event task and, unless told otherwise, release what is in force."""
        for task in self._tasks.values():
            task.cancel()
        for task in list(self._tasks.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if release:
            now = self.clock.now()
            keys = {(s.site_id, s.resource_id) for s in self.adapter.in_force(now)}
            await self.adapter.send([self._release(site, res, now) for site, res in keys])
        await self.adapter.close()

    @property
    def busy(self) -> bool:
        """Whether a solve is running (a simulation waits for it before moving time on)."""
        return self._solving > 0

    @property
    def awake(self) -> bool:
        """Whether an event's task has work in hand: it is not parked in its sleep, or what
        it sleeps on has happened (a simulation waits for it before moving time on, so
        what a wake-up does never depends on how soon the task got to run)."""
        now = self.clock.now()
        for event_id, task in self._tasks.items():
            if task.done():
                continue
            park = self._parked.get(event_id)
            if park is None:
                return True
            wake, changed, waits = park
            if wake <= now or changed.is_set() or any(w.done() for w in waits):
                return True
        return False

    def update_district(self, district: District) -> None:
        """Take new registrations (the service): later plans and re-plans see them; a
        running plan keeps its own district, and its resources stay addressable."""
        live = {key for run in self._live_runs() for key in run.schedules}
        kept = {key: ref for key, ref in self._refs.items() if key in live}
        self.district = district
        self._refs = kept | {ref.key: ref for ref in district.resources()}

    def submit(self, event: DemandResponseEvent) -> EventRun:
        if event.event_id in self.runs:
            raise VppError(f"event_id: {event.event_id!r} already submitted")
        run = EventRun(event, Lifecycle(event.event_id, self.clock.now()))
        self.runs[event.event_id] = run
        self._tasks[event.event_id] = asyncio.create_task(
            self._run_event(run), name=f"vpp.controller.event.{event.event_id}"
        )
        return run

    def modify(
        self, event_id: str, *, target_kw: float | None = None, target_pct: float | None = None
    ) -> EventRun:
        """Change a pending or active event's target; the remaining intervals are re-planned."""
        run = self._run(event_id)
        if run.lifecycle.finished:
            raise VppError(f"event {event_id}: already {run.lifecycle.state}")
        data = run.event.model_dump()
        data.update(target_kw=target_kw, target_pct_of_peak=target_pct)
        run.event = DemandResponseEvent.model_validate(data)
        run.modified = True
        run.changed.set()
        return run

    def cancel(self, event_id: str, reason: str = "cancelled by operator") -> EventRun:
        run = self._run(event_id)
        if not run.lifecycle.finished:
            run.cancel_reason = reason
            run.changed.set()
        return run

    async def wait(self, event_id: str) -> EventRun:
        """Until the event is completed or cancelled."""
        task = self._tasks[event_id]
        await asyncio.shield(task)
        return self._run(event_id)

    def prune(self, now: datetime) -> None:
        """Forget what a service that runs for months no longer needs: events finished more
        than ``retention_h`` ago, their command ids, older faults and participation counts,
        and telemetry intervals older than that and than every live event's window."""
        cutoff = now - timedelta(hours=self.settings.retention_h)
        for event_id, run in list(self.runs.items()):
            if run.lifecycle.finished and run.lifecycle.history[-1].at < cutoff:
                del self.runs[event_id]
                self._tasks.pop(event_id, None)
                for command_id in run.command_ids:
                    self._command_event.pop(command_id, None)
        self.faults = [f for f in self.faults if f.at >= cutoff]
        first_day = cutoff.astimezone(self.district.tz).date()
        for day, key in [k for k in self._calls if k[0] < first_day]:
            del self._calls[(day, key)]
        live_starts = [run.event.start for run in self._live_runs()]
        self.monitor.prune(min([cutoff, *live_starts]))

    def _run(self, event_id: str) -> EventRun:
        try:
            return self.runs[event_id]
        except KeyError:
            raise EventNotFoundError(event_id) from None

    # -- inbound ---------------------------------------------------------------------

    def _on_inbound(self, message: Inbound) -> None:
        if isinstance(message, TelemetryReceived):
            now = self.clock.now()
            if self.gate.check_telemetry(message, now) is not None:
                if message.key in self._refs:
                    self.monitor.note_refused(message.key, now)
                return
            self.monitor.ingest(message)
            self._heard_from(message.site_id, message.telemetry.ts)
        elif isinstance(message, StatusReceived):
            if self.gate.check_status(message, self.clock.now()) is not None:
                return
            online = message.status.state is GatewayState.ONLINE
            self.site_online[message.site_id] = online
            if online:
                self._offline_since.pop(message.site_id, None)
            else:
                self._offline_since.setdefault(message.site_id, self.clock.now())
        elif isinstance(message, AckReceived) and message.ack.status is not AckStatus.ACCEPTED:
            event_id = self._command_event.get(message.ack.command_id)
            target = self.runs.get(event_id) if event_id else None
            if target is not None and message.setpoint.mode is not SetpointMode.RELEASE:
                reason = f"setpoint {message.ack.status}: {message.ack.reason or 'no reason'}"
                target.pending_faults[message.key] = reason
                target.changed.set()

    def _resource_of(self, key: str) -> Resource | None:
        ref = self._refs.get(key)
        return None if ref is None else ref.resource

    def _heard_from(self, site_id: str, ts: datetime) -> None:
        """A plausible reading stamped after an ``offline`` arrived overrules it: a gateway
        that speaks is online (a stray ``offline`` must not silence a healthy site)."""
        since = self._offline_since.get(site_id)
        if since is not None and ts > since:
            del self._offline_since[site_id]
            self.site_online[site_id] = True

    def _live_runs(self) -> list[EventRun]:
        return [r for r in self.runs.values() if not r.lifecycle.finished]

    # -- one event -------------------------------------------------------------------

    async def _run_event(self, run: EventRun) -> None:
        try:
            await self._plan(run)
            while True:
                # Cleared before the checks, not before the sleep: a cancel or a change that
                # lands while this pass awaits (a solve, a send) then cuts the sleep short.
                run.changed.clear()
                now = self.clock.now()
                if run.cancel_reason is not None:
                    await self._finish(run, EventState.CANCELLED, run.cancel_reason)
                    return
                if run.modified:
                    run.modified = False
                    await self._on_modified(run, now)
                span = run.command_span()
                done_at = run.event.end if span is None else self._end_of(run, span[1])
                if now >= max(done_at, run.event.end):
                    await self._finish(run, EventState.COMPLETED, "window over")
                    return
                live = span is not None and now >= self._send_time(run, span[0])
                if live:
                    if run.lifecycle.state is EventState.SCHEDULED:
                        run.lifecycle.move(EventState.NOTIFIED, now, self._participation(run))
                    if now >= run.event.start and run.lifecycle.state is EventState.NOTIFIED:
                        run.lifecycle.move(EventState.ACTIVE, now)
                    await self._send_due(run, now)
                    reasons = self._check_health(run, now)
                    bias_kw = self._evaluate(run, now, reasons)
                    if reasons or bias_kw is not None:
                        await self._replan(run, now, "; ".join(reasons) or "shortfall", bias_kw)
                await self._sleep(run, now, live, span)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("event %s failed; releasing its setpoints", run.event_id)
            with contextlib.suppress(Exception):
                await self._finish(run, EventState.CANCELLED, "controller error")
            raise

    async def _sleep(
        self, run: EventRun, now: datetime, live: bool, span: tuple[int, int] | None
    ) -> None:
        wake = now + timedelta(seconds=self.settings.check_period_s)
        if not live and span is not None:
            wake = max(wake, self._send_time(run, span[0]))
        if span is None:
            wake = max(wake, run.event.end)
        await self._sleep_or_change(run, wake)

    async def _sleep_or_change(self, run: EventRun, wake: datetime) -> None:
        """Until the clock reads ``wake`` or the run changes (a cancel, a fault)."""
        sleeper = asyncio.ensure_future(self.clock.sleep_until(wake))
        changed = asyncio.ensure_future(run.changed.wait())
        self._parked[run.event_id] = (wake, run.changed, [sleeper, changed])
        try:
            await asyncio.wait({sleeper, changed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._parked.pop(run.event_id, None)
            sleeper.cancel()
            changed.cancel()

    async def _solve(self, fn: Callable[[], T]) -> T:
        """Run blocking work (baselines, a solve) in the executor, counted as busy."""
        self._solving += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, fn)
        finally:
            self._solving -= 1

    async def _plan(self, run: EventRun) -> None:
        """The first dispatch of an event (or a fresh one after a change before it starts)."""
        await self._await_measured_soc(run)
        problem, baselines = await self._solve(
            partial(
                prepare_problem,
                self.district,
                run.event,
                baseline_method=self.settings.baseline_method,
                interval_min=self.settings.interval_min,
            )
        )
        problem = replace(
            problem,
            district=with_battery_soc(
                with_comfort_margin(self.district, self.settings.hvac_comfort_margin_c),
                self._measured_soc(),
            ),
            events_today=self._events_today(run),
            rebound_other_kw=others_rebound_kw(
                [(r.grid, r.schedules) for r in self._live_runs() if r is not run and r.problem],
                problem.grid,
            ),
        )
        settings = self.settings.dispatch.model_copy(
            update={"target_margin_pct": self.settings.planning_margin_pct}
        )
        result, explanation = await self._solve(partial(dispatch_explained, problem, settings))
        run.problem = problem
        run.initial = result
        run.explanation = explanation
        run.baseline_notes = baselines.notes
        stop = problem.grid.slice_of(run.event.start, run.event.end).stop
        run.schedules = {s.key: within_event(s, stop) for s in result.schedules}
        self._hand_over(run, self.clock.now())
        note = (
            f"{result.solve.status}, expected shortfall {result.max_shortfall_kw:.0f} kW, "
            f"cost {result.costs.cost_cny:.0f} CNY"
        )
        run.lifecycle.move(EventState.SCHEDULED, self.clock.now(), note)
        logger.info("event %s scheduled: %s", run.event_id, note)

    def _events_today(self, run: EventRun) -> dict[str, int]:
        day = run.event.start.astimezone(self.district.tz).date()
        return {key: n for (d, key), n in self._calls.items() if d == day and n > 0}

    def _participation(self, run: EventRun) -> str:
        keys = run.kept()
        enterprises = {self._refs[k].enterprise.enterprise_id for k in keys}
        day = run.event.start.astimezone(self.district.tz).date()
        for key in keys:
            self._calls[(day, key)] += 1
        return f"{len(keys)} resources of {len(enterprises)} enterprises"

    async def _on_modified(self, run: EventRun, now: datetime) -> None:
        if run.lifecycle.state in (EventState.RECEIVED, EventState.SCHEDULED) and not run.sent:
            await self._plan(run)
            return
        await self._replan(run, now, "target changed", None)

    # -- sending ---------------------------------------------------------------------

    def _send_time(self, run: EventRun, t: int) -> datetime:
        """When the first command of interval ``t`` may leave (before any ramp lead)."""
        longest = max(self.settings.ramp_lead_s.values(), default=0.0)
        return run.grid.starts[t] - timedelta(seconds=self.settings.send_lead_s + longest)

    def _end_of(self, run: EventRun, t: int) -> datetime:
        return run.grid.starts[t] + run.grid.interval

    async def _send_due(self, run: EventRun, now: datetime) -> None:
        """Send every lease whose time has come, and again when a re-plan changed it."""
        lead = timedelta(seconds=self.settings.send_lead_s)
        due: list[Setpoint] = []
        for key, schedule in run.schedules.items():
            if key in run.dropped:
                continue
            for t, value in enumerate(schedule.setpoint_kw):
                if self._end_of(run, t) <= now:
                    continue
                if self._valid_from(run, key, t) - lead > now:
                    break
                sent = run.sent.get((key, t))
                if value is None:
                    if sent is not None:  # a re-plan took the command back
                        del run.sent[(key, t)]
                        due.append(self._release_key(key, now))
                    continue
                if sent is not None and abs(sent - value) <= 1e-6:
                    continue
                setpoint = self._setpoint(run, key, t, now)
                run.sent[(key, t)] = value
                if setpoint is not None:
                    due.append(setpoint)
        await self._send(run, due)

    def _valid_from(self, run: EventRun, key: str, t: int) -> datetime:
        """An interval's start, or earlier where the command deepens the response and the
        kind ramps slowly, so the resource has reached the new level when the interval
        begins. A command that gives response back waits for its interval: starting it
        early would take response from the interval before."""
        schedule = run.schedules[key]
        start = run.grid.starts[t]
        value = schedule.setpoint_kw[t]
        if t == 0 or value is None:
            return start
        deepens = run.event.direction * (schedule.power_kw[t - 1] - value) > 1e-6
        if not deepens:
            return start
        lead_s = self.settings.ramp_lead_s.get(schedule.kind, 0.0)
        return start - timedelta(seconds=lead_s)

    def _setpoint(self, run: EventRun, key: str, t: int, now: datetime) -> Setpoint | None:
        schedule = run.schedules[key]
        value = schedule.setpoint_kw[t]
        assert value is not None
        start = run.grid.starts[t]
        setpoint = Setpoint(
            command_id=str(
                uuid.uuid5(uuid.NAMESPACE_URL, f"{run.event_id}/{key}/{start}/{now.isoformat()}")
            ),
            site_id=schedule.site_id,
            resource_id=schedule.resource_id,
            issued_at=now,
            mode=schedule.mode,
            power_kw=value,
            valid_from=max(self._valid_from(run, key, t), now),
            valid_until=self._end_of(run, t),
        )
        reason = within_limits(setpoint, self._refs[key].resource)
        if reason is not None:
            self.refused_setpoints += 1
            logger.error("refused to send %s to %s: %s", setpoint.command_id, key, reason)
            return None
        return setpoint

    def _release_key(self, key: str, now: datetime) -> Setpoint:
        ref = self._refs[key]
        return self._release(ref.site.site_id, ref.resource.resource_id, now)

    def _release(self, site_id: str, resource_id: str, now: datetime) -> Setpoint:
        return Setpoint(
            command_id=str(uuid.uuid4()),
            site_id=site_id,
            resource_id=resource_id,
            issued_at=now,
            mode=SetpointMode.RELEASE,
            power_kw=0.0,
            valid_from=now,
            valid_until=now + timedelta(seconds=self.settings.release_lease_s),
        )

    async def _send(self, run: EventRun, setpoints: list[Setpoint]) -> None:
        if not setpoints:
            return
        for setpoint in setpoints:
            run.command_ids.add(setpoint.command_id)
            self._command_event[setpoint.command_id] = run.event_id
        await self.adapter.send(setpoints)

    async def _finish(self, run: EventRun, state: EventState, note: str) -> None:
        now = self.clock.now()
        keys = [
            k for k in run.participants() if k not in run.dropped or state is EventState.CANCELLED
        ]
        busy = self._claimed_by_others(run)
        releases = [self._release_key(k, now) for k in keys if run.was_sent(k) and k not in busy]
        await self._send(run, releases)
        if run.lifecycle.state is EventState.NOTIFIED and state is EventState.COMPLETED:
            run.lifecycle.move(EventState.ACTIVE, now)
        if run.lifecycle.state is EventState.SCHEDULED and state is EventState.COMPLETED:
            run.lifecycle.move(EventState.NOTIFIED, now, "nothing to dispatch")
            run.lifecycle.move(EventState.ACTIVE, now)
        run.lifecycle.move(state, now, f"{note}; {len(releases)} resources released")
        logger.info("event %s %s: %s", run.event_id, state, note)

    def _claimed_by_others(self, run: EventRun) -> set[str]:
        """Resources another live event commands: this one must not release them."""
        return {
            key
            for other in self._live_runs()
            if other is not run
            for key, schedule in other.schedules.items()
            if commanded(schedule)
        }

    def _hand_over(self, run: EventRun, from_time: datetime) -> None:
        """A newer plan owns its resources from ``from_time``: older events stop commanding
        them there (a battery recharging after one event may be needed by the next)."""
        mine = {key for key, schedule in run.schedules.items() if commanded(schedule)}
        for other in self._live_runs():
            if other is run or other.problem is None:
                continue
            for key in mine & set(other.schedules):
                if commanded(other.schedules[key]):
                    # Until the newer plan's first command, the older one keeps the resource:
                    # an EV pool still catching up stays under its limits, not free.
                    first = next(t for t, v in enumerate(run.schedules[key].setpoint_kw) if v)
                    taken_at = min(max(from_time, run.grid.starts[first]), other.grid.end)
                    index = other.grid.first_index_at_or_after(taken_at)
                    other.schedules[key] = released_from(other.schedules[key], index)

    # -- watching --------------------------------------------------------------------

    def _judging_silence(self, now: datetime) -> bool:
        """Silence means nothing while our own link is down or has just come back."""
        if not self.adapter.connected:
            self._link_up_since = None
            return False
        if self._link_up_since is None:
            self._link_up_since = now
        stale = timedelta(seconds=self.settings.telemetry_stale_s)
        return now - self._link_up_since >= stale and self._wall_floor_passed(
            self._link_up_since, now
        )

    def _wall_floor_passed(self, since: datetime, now: datetime) -> bool:
        """Whether a silence since ``since`` has also lasted the wall-time floor, on a clock
        that runs by itself: a clock sped up 600 times makes the 90 s ack deadline 0.15 s,
        which a loaded machine's broker misses. A simulated or paced clock waits for the
        messages in flight before it moves, so its own time is the whole measure."""
        wall_s = self.clock.wall_seconds_between(since, now)
        return wall_s is None or wall_s >= self.settings.silence_floor_wall_s

    def _offline(self, site_id: str, now: datetime) -> bool:
        """Offline for longer than the grace, as seen while our own link was up."""
        since = self._offline_since.get(site_id)
        if since is None or not self.adapter.connected:
            return False
        seen_from = max(since, self._link_up_since or since)
        grace = timedelta(seconds=self.settings.offline_grace_s)
        return now - seen_from > grace and self._wall_floor_passed(seen_from, now)

    def _stale(self, last: datetime, now: datetime) -> bool:
        """Whether telemetry last heard at ``last`` is too old to count on."""
        stale_s = self.settings.telemetry_stale_s
        return now - last > timedelta(seconds=stale_s) and self._wall_floor_passed(last, now)

    def _check_health(self, run: EventRun, now: datetime) -> list[str]:
        """Drop kept resources that failed since the last look; returns the reasons."""
        reasons: dict[str, str] = dict(run.pending_faults)
        run.pending_faults.clear()
        judging = self._judging_silence(now)
        ack_deadline = now - timedelta(seconds=self.settings.ack_timeout_s)
        unanswered = {
            f"{s.site_id}/{s.resource_id}"
            for s in self.adapter.awaiting_ack()
            if s.command_id in run.command_ids
            and s.mode is not SetpointMode.RELEASE
            and s.issued_at <= ack_deadline
            and self._wall_floor_passed(s.issued_at, now)
        }
        for key in run.kept():
            if not run.was_sent(key) or key in reasons:
                continue
            ref = self._refs[key]
            last = self.monitor.last_seen(key)
            if self._offline(ref.site.site_id, now):
                reasons[key] = "gateway offline"
            elif self.monitor.stuck_since(key) is not None:
                reasons[key] = "meter stuck"
            elif judging and key in unanswered:
                reasons[key] = f"no ack within {self.settings.ack_timeout_s:.0f} s"
            elif judging and (last is None or self._stale(last, now)):
                reasons[key] = "telemetry stale"
        self._drop(run, now, reasons)
        return [f"{k}: {r}" for k, r in sorted(reasons.items())]

    def _drop(self, run: EventRun, now: datetime, reasons: dict[str, str]) -> None:
        for key, reason in reasons.items():
            if key in run.dropped or key not in run.schedules:
                continue
            fault = Fault(now, run.event_id, key, reason)
            run.dropped[key] = fault
            self.faults.append(fault)
            logger.warning("event %s: dropping %s (%s)", run.event_id, key, reason)

    def _delivered_kw(self, run: EventRun, t: int) -> float:
        """Measured response of every resource still in the event, in interval ``t``."""
        return sum(self._measured_response(run, key, t) or 0.0 for key in run.kept())

    def _measured_response(self, run: EventRun, key: str, t: int) -> float | None:
        mean = self.monitor.trusted_mean_kw(key, run.grid.starts[t])
        if mean is None:
            return None
        return run.event.direction * (run.schedules[key].baseline_kw[t] - mean)

    def _evaluate(self, run: EventRun, now: datetime, reasons: list[str]) -> float | None:
        """Judge completed event intervals; returns the kept resources' shortfall to make up
        [kW] when the portfolio fell short beyond the tolerance, else None."""
        window = run.window
        bias_kw: float | None = None
        delay = timedelta(seconds=self.settings.evaluation_delay_s)
        for t in range(window.start, window.stop):
            if t in run.evaluated or self._end_of(run, t) + delay > now:
                continue
            run.evaluated.add(t)
            planned_total = measured_total = 0.0
            under: dict[str, str] = {}
            for key in run.kept():
                planned = float(response_kw(run.schedules[key], run.event.direction)[t])
                if planned <= 0 or not _commanded_before(run, key, t):
                    continue
                measured = self._measured_response(run, key, t)
                got = 0.0 if measured is None else measured
                planned_total += planned
                measured_total += got
                if planned >= 5.0 and got < self.settings.under_delivery_ratio * planned:
                    under[key] = f"delivered {got:.0f} of {planned:.0f} kW"
            self._drop(run, now, under)
            reasons += [f"{k}: {r}" for k, r in sorted(under.items())]
            tolerance = self.settings.shortfall_tolerance_pct / 100.0 * run.target_kw
            gap = planned_total - measured_total
            if gap > tolerance and not under:
                bias_kw = max(bias_kw or 0.0, gap)
            elif run.target_kw - self._delivered_kw(run, t) > tolerance and bias_kw is None:
                bias_kw = 0.0  # short of the target with nobody under-delivering: refill
        return bias_kw

    # -- re-planning -----------------------------------------------------------------

    async def _replan(
        self, run: EventRun, now: datetime, reason: str, bias_kw: float | None
    ) -> None:
        grid = run.grid
        current = grid.first_index_at_or_after(now)
        if current > 0 and now < grid.starts[current - 1] + grid.interval / 3:
            current -= 1  # most of the running interval is still ahead: re-plan it too
        first = max(current, 0)
        dropped_now = [k for k in run.dropped if commanded(run.schedules[k])]
        for key in dropped_now:
            run.schedules[key] = released_from(run.schedules[key], first)
        releases = [self._release_key(k, now) for k in dropped_now if run.was_sent(k)]
        await self._send(run, releases)
        window = run.window
        if first >= window.stop:
            return
        margin = 1.0 + self.settings.planning_margin_pct / 100.0
        # Batteries carry no state but their SoC, which telemetry gives: re-plan them whole.
        replanned = {k for k in run.kept() if run.schedules[k].kind == "battery"}
        expected = run.planned_response_kw([k for k in run.kept() if k not in replanned])
        residual = np.zeros(window.stop - window.start)
        for t in range(max(first, window.start), window.stop):
            wanted = run.target_kw * margin + (bias_kw or 0.0) - expected[t]
            residual[t - window.start] = max(0.0, wanted)
        if residual.max() <= 1e-3 * run.target_kw:
            if dropped_now:
                run.replans.append(
                    Replan(now, reason, grid.starts[first], tuple(dropped_now), (), 0.0, "none", 0)
                )
            return
        candidates = frozenset(self._candidates(run, now)) | replanned
        soc = self._soc_at(grid.starts[first], now)
        assert run.problem is not None
        started = time.perf_counter()
        result = await self._solve(
            partial(
                replan,
                run.problem,
                candidates=candidates,
                first_free_index=first,
                residual_kw=residual,
                issued_at=now,
                soc_by_key=soc,
                settings=self.settings.dispatch,
                rebound_limit_kw=rebound_room_kw(run.initial, run.schedules, candidates)
                if run.initial is not None
                else None,
            )
        )
        added = []
        for schedule in result.schedules:
            schedule = within_event(schedule, window.stop)
            old = run.schedules[schedule.key]
            if commanded(schedule):
                if not commanded(old):
                    added.append(schedule.key)
                run.schedules[schedule.key] = spliced(old, schedule, first)
            elif schedule.key in replanned:
                run.schedules[schedule.key] = released_from(old, first)
        self._hand_over(run, now)
        if added and run.lifecycle.state is EventState.ACTIVE:
            day = run.event.start.astimezone(self.district.tz).date()
            for key in added:
                self._calls[(day, key)] += 1
        run.replans.append(
            Replan(
                now,
                reason,
                grid.starts[first],
                tuple(dropped_now),
                tuple(added),
                float(residual.max()),
                result.solve.status.value,
                time.perf_counter() - started,
            )
        )
        logger.info(
            "event %s re-planned from %s (%s): +%d resources, residual %.0f kW",
            run.event_id,
            grid.starts[first],
            reason,
            len(added),
            residual.max(),
        )
        await self._send_due(run, now)

    async def _await_measured_soc(self, run: EventRun) -> None:
        """Before planning a window that is under way or about to begin, wait for every
        battery's first reading, so the plan starts from its measured state of charge.

        A restarted controller (or service) has heard from nobody yet: planned from its
        registered ``soc_initial``, a battery that has been discharging is asked for energy
        it no longer holds and the event misses its last intervals. The wait lasts at most
        ``telemetry_stale_s`` on the controller's clock [s]; a battery still silent then is
        planned from its registration, and the health check judges its silence.
        """
        now = self.clock.now()
        horizon = timedelta(seconds=self.settings.telemetry_stale_s)
        if run.event.start > now + horizon:
            return  # a later window: the state of charge then is not measurable now
        deadline = now + horizon
        step = timedelta(seconds=min(self.settings.check_period_s, 5.0))
        waiting = False
        while run.cancel_reason is None and not run.changed.is_set() and now < deadline:
            silent = [key for key in self._batteries() if self.monitor.last_soc(key) is None]
            if not silent:
                return
            if not waiting:
                logger.info("event %s: waiting for the state of charge of %s", run.event_id, silent)
                waiting = True
            await self._sleep_or_change(run, min(deadline, now + step))
            now = self.clock.now()

    def _batteries(self) -> list[str]:
        return [key for key, ref in self._refs.items() if ref.resource.kind == "battery"]

    def _soc_at(self, start: datetime, now: datetime) -> dict[str, float]:
        """Each battery's state of charge at ``start``: its last report, carried forward at
        its last measured power when the plan starts after ``now``."""
        soc = self._measured_soc()
        hours = (start - now).total_seconds() / 3600.0
        if hours <= 0:
            return soc
        out = {}
        for key, value in soc.items():
            battery = self._refs[key].resource
            power_kw = self.monitor.last_power_kw(key)
            if not isinstance(battery, Battery) or power_kw is None:
                out[key] = value
                continue
            out[key] = soc_after(battery, value, power_kw, hours)
        return out

    def _measured_soc(self) -> dict[str, float]:
        """Each battery's last reported state of charge."""
        out = {}
        for key, ref in self._refs.items():
            soc = self.monitor.last_soc(key) if ref.resource.kind == "battery" else None
            if soc is not None:
                out[key] = soc
        return out

    def _candidates(self, run: EventRun, now: datetime) -> list[str]:
        """Healthy resources not yet in this event (one commanded only to stagger its
        recovery outside the window is not in it, and may still be asked)."""
        window = run.window
        taken = {
            key
            for key in run.participants()
            if key in run.dropped
            or any(v is not None for v in run.schedules[key].setpoint_kw[window])
        }
        out = []
        for key, ref in self._refs.items():
            if key in taken or isinstance(ref.resource, Pv):
                continue
            if self.site_online.get(ref.site.site_id) is False:
                continue  # not even briefly: a candidate must be reachable now
            last = self.monitor.last_seen(key)
            if last is None or self._stale(last, now) or self.monitor.unavailable(key):
                continue
            out.append(key)
        return out


def _commanded_before(run: EventRun, key: str, t: int) -> bool:
    """Whether the command in ``t`` continues the one before it, so the resource has had
    time to ramp: only then does a shortfall say something about the resource."""
    setpoint = run.schedules[key].setpoint_kw
    if run.schedules[key].kind == "battery":  # ramps in seconds
        return t > 0 and setpoint[t - 1] is not None and setpoint[t] is not None
    current = setpoint[t]
    return current is not None and _same_command(setpoint, t, max(1.0, 0.1 * abs(current)))


def _same_command(setpoint: tuple[float | None, ...], t: int, tol_kw: float) -> bool:
    """Whether interval ``t`` keeps the command of the interval before it."""
    if t == 0:
        return False
    before, now = setpoint[t - 1], setpoint[t]
    return before is not None and now is not None and abs(now - before) <= tol_kw
