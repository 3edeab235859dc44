"""The controller: one event's lifecycle per task, all of them inside :meth:`Controller.run`.

Its parts each have one job: the :class:`~vpp.controller.dispatcher.Dispatcher` sends
leases, the :class:`~vpp.controller.health.HealthWatch` judges acks, telemetry and
gateways, the :class:`~vpp.controller.evaluator.Evaluator` judges delivered against
planned response per interval, and the :class:`~vpp.controller.replanner.Replanner` plans
and re-plans. Time comes from the injected clock, so the same code runs in service on the
wall clock and in simulations far faster than real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from concurrent.futures import Executor
from datetime import datetime, timedelta
from typing import Any

from vpp.controller.clock import Clock
from vpp.controller.dispatcher import Dispatcher, claimed_by_others
from vpp.controller.evaluator import Evaluator
from vpp.controller.gate import PlausibilityGate
from vpp.controller.health import HealthWatch
from vpp.controller.lifecycle import EventState, Lifecycle
from vpp.controller.monitor import Merged, Monitor
from vpp.controller.replanner import Replanner
from vpp.controller.roster import CallCounts, Roster
from vpp.controller.run import EventRun, Fault
from vpp.controller.settings import ControllerSettings
from vpp.device_adapters.base import (
    AckReceived,
    DeviceAdapter,
    Inbound,
    StatusReceived,
    TelemetryReceived,
)
from vpp.domain import (
    AckStatus,
    DemandResponseEvent,
    District,
    GatewayState,
    SetpointMode,
    VppError,
)

__all__ = ["Controller", "ControllerSettings", "EventNotFoundError"]

logger = logging.getLogger(__name__)


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
        self.adapter = adapter
        self.clock = clock
        self.settings = settings or ControllerSettings()
        self.monitor = Monitor(self.settings.interval_min)
        self.worker_malformed: Counter[str] = Counter()  # per reason, from telemetry workers
        self.runs: dict[str, EventRun] = {}
        self.faults: list[Fault] = []
        self.roster = Roster(district)
        self.counts = CallCounts()
        self.gate = PlausibilityGate(
            self.settings.plausibility, self.settings.telemetry_stale_s, self.roster.resource_of
        )
        self.dispatcher = Dispatcher(adapter, self.settings, self.roster)
        self.health = HealthWatch(adapter, clock, self.settings, self.monitor, self.roster)
        self.evaluator = Evaluator(self.settings, self.monitor)
        self.replanner = Replanner(
            self.settings,
            clock,
            self.roster,
            self.monitor,
            self.health,
            self.dispatcher,
            self.counts,
            self._live_runs,
            executor,
        )
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._done: dict[str, asyncio.Future[None]] = {}
        self._parked: dict[str, tuple[datetime, asyncio.Event, list[asyncio.Future[Any]]]] = {}
        self._group: asyncio.TaskGroup | None = None
        self._waiting: list[EventRun] = []  # submitted before run() began
        self._running = asyncio.Event()
        self._stopping = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None

    # -- public surface --------------------------------------------------------------

    @property
    def district(self) -> District:
        return self.roster.district

    @property
    def site_online(self) -> dict[str, bool]:
        """Each gateway's last plausible status (True: online)."""
        return self.health.site_online

    @property
    def refused_setpoints(self) -> int:
        """Setpoints the last check before sending refused (beyond a resource's limits)."""
        return self.dispatcher.refused_setpoints

    async def start(self) -> None:
        """Connect the adapter and run :meth:`run` in a task, until :meth:`stop`."""
        await self.adapter.start(self._on_inbound)
        self._runner = asyncio.create_task(self.run(), name="vpp.controller.run")
        await self._running.wait()

    async def run(self) -> None:
        """Until :meth:`stop`: every event's lifecycle, each a named task of one group."""
        async with asyncio.TaskGroup() as group:
            self._group = group
            for run in self._waiting:
                self._spawn(run)
            self._waiting.clear()
            self._running.set()
            try:
                await self._stopping.wait()
            finally:
                self._group = None

    async def stop(self, *, release: bool = True) -> None:
        """Stop every event task and, unless told otherwise, release what is in force."""
        for task in self._tasks.values():
            task.cancel()
        for task in list(self._tasks.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._stopping.set()
        if self._runner is not None:
            await self._runner
        if release:
            await self.dispatcher.release_in_force(self.clock.now())
        await self.adapter.close()

    @property
    def busy(self) -> bool:
        """Whether a solve is running (a simulation waits for it before moving time on)."""
        return self.replanner.busy

    @property
    def awake(self) -> bool:
        """Whether an event's task has work in hand: it is not parked in its sleep, or what
        it sleeps on has happened (a simulation waits for it before moving time on, so
        what a wake-up does never depends on how soon the task got to run)."""
        if self._waiting:
            return True
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
        self.roster.update(district, (key for run in self._live_runs() for key in run.schedules))

    def submit(self, event: DemandResponseEvent) -> EventRun:
        if event.event_id in self.runs:
            raise VppError(f"event_id: {event.event_id!r} already submitted")
        run = EventRun(event, Lifecycle(event.event_id, self.clock.now()))
        self.runs[event.event_id] = run
        self._done[event.event_id] = asyncio.get_running_loop().create_future()
        if self._group is None:
            self._waiting.append(run)  # run() starts it
        else:
            self._spawn(run)
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
        """Until the event is completed or cancelled (raises what ended its task)."""
        await asyncio.shield(self._done[event_id])
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
                self._done.pop(event_id, None)
                self.dispatcher.forget(run)
        self.faults = [f for f in self.faults if f.at >= cutoff]
        self.counts.prune(self.roster.day_of(cutoff))
        live_starts = [run.event.start for run in self._live_runs()]
        self.monitor.prune(min([cutoff, *live_starts]))

    def _run(self, event_id: str) -> EventRun:
        try:
            return self.runs[event_id]
        except KeyError:
            raise EventNotFoundError(event_id) from None

    def _live_runs(self) -> list[EventRun]:
        return [r for r in self.runs.values() if not r.lifecycle.finished]

    # -- inbound ---------------------------------------------------------------------

    def _on_inbound(self, message: Inbound) -> None:
        """Route one message as it arrives: telemetry through the gate to the monitor,
        statuses to the health watch, refused setpoints to their event."""
        if isinstance(message, TelemetryReceived):
            now = self.clock.now()
            if self.gate.check_telemetry(message, now) is not None:
                if message.key in self.roster.refs:
                    self.monitor.note_refused(message.key, now)
                return
            self.monitor.ingest(message)
            self.health.heard_from(message.site_id, message.telemetry.ts)
        elif isinstance(message, StatusReceived):
            if self.gate.check_status(message, self.clock.now()) is not None:
                return
            online = message.status.state is GatewayState.ONLINE
            self.health.note_status(message.site_id, online, self.clock.now())
        elif isinstance(message, AckReceived) and message.ack.status is not AckStatus.ACCEPTED:
            event_id = self.dispatcher.event_of(message.ack.command_id)
            target = self.runs.get(event_id) if event_id else None
            if target is not None and message.setpoint.mode is not SetpointMode.RELEASE:
                reason = f"setpoint {message.ack.status}: {message.ack.reason or 'no reason'}"
                target.pending_faults[message.key] = reason
                target.changed.set()

    def take_merged(self, merged: Merged) -> None:
        """What telemetry workers' batches told beyond the monitor, which
        :meth:`Monitor.merge` filled already: the sites heard from, and the gate's counts
        (each worker gated its share as :meth:`_on_inbound` gates the controller's own)."""
        for site_id, ts in merged.heard.items():
            self.health.heard_from(site_id, ts)
        self.gate.accepted += merged.accepted
        self.gate.refused.update(merged.refused)
        self.worker_malformed.update(merged.malformed)

    # -- one event -------------------------------------------------------------------

    def _spawn(self, run: EventRun) -> None:
        assert self._group is not None
        done = self._done[run.event_id]
        task = self._group.create_task(
            self._lifecycle(run, done), name=f"vpp.controller.event.{run.event_id}"
        )
        task.add_done_callback(lambda _: done.cancel())  # cancelled before it began
        self._tasks[run.event_id] = task

    async def _lifecycle(self, run: EventRun, done: asyncio.Future[None]) -> None:
        """One event's task: its failure ends it alone (``wait`` raises it), never the
        group and the other events."""
        try:
            await self._run_event(run)
        except asyncio.CancelledError:
            done.cancel()
            raise
        except Exception as exc:
            done.set_exception(exc)
            done.exception()  # logged by _run_event already; wait() raises it
        else:
            done.set_result(None)

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
                done_at = run.event.end if span is None else run.end_of(span[1])
                if now >= max(done_at, run.event.end):
                    await self._finish(run, EventState.COMPLETED, "window over")
                    return
                live = span is not None and now >= self.dispatcher.send_time(run, span[0])
                if live:
                    if run.lifecycle.state is EventState.SCHEDULED:
                        run.lifecycle.move(EventState.NOTIFIED, now, self._participation(run))
                    if now >= run.event.start and run.lifecycle.state is EventState.NOTIFIED:
                        run.lifecycle.move(EventState.ACTIVE, now)
                    await self.dispatcher.send_due(run, now)
                    await self._watch(run, now)
                await self._sleep(run, now, live, span)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("event %s failed; releasing its setpoints", run.event_id)
            with contextlib.suppress(Exception):
                await self._finish(run, EventState.CANCELLED, "controller error")
            raise

    async def _watch(self, run: EventRun, now: datetime) -> None:
        """Drop what failed or under-delivered, and re-plan when anything did or the
        portfolio fell short."""
        failures = self.health.failures(run, now)
        self.faults += run.drop(now, failures)
        reasons = [f"{k}: {r}" for k, r in sorted(failures.items())]
        verdict = self.evaluator.evaluate(run, now)
        self.faults += verdict.faults
        reasons += verdict.reasons
        if reasons or verdict.bias_kw is not None:
            reason = "; ".join(reasons) or "shortfall"
            await self.replanner.replan(run, now, reason, verdict.bias_kw)
        await self.replanner.extend_recoveries(run, now)

    async def _sleep(
        self, run: EventRun, now: datetime, live: bool, span: tuple[int, int] | None
    ) -> None:
        wake = now + timedelta(seconds=self.settings.check_period_s)
        if not live and span is not None:
            wake = max(wake, self.dispatcher.send_time(run, span[0]))
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

    async def _plan(self, run: EventRun) -> None:
        await self._await_measured_soc(run)
        await self.replanner.plan(run)

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
            silent = self.replanner.silent_batteries()
            if not silent:
                return
            if not waiting:
                logger.info("event %s: waiting for the state of charge of %s", run.event_id, silent)
                waiting = True
            await self._sleep_or_change(run, min(deadline, now + step))
            now = self.clock.now()

    def _participation(self, run: EventRun) -> str:
        """Count the event's call on each participant; the note of its notification."""
        keys = run.kept()
        enterprises = {self.roster.refs[k].enterprise.enterprise_id for k in keys}
        self.counts.add(self.roster.day_of(run.event.start), keys)
        return f"{len(keys)} resources of {len(enterprises)} enterprises"

    async def _on_modified(self, run: EventRun, now: datetime) -> None:
        if run.lifecycle.state in (EventState.RECEIVED, EventState.SCHEDULED) and not run.sent:
            await self._plan(run)
            return
        await self.replanner.replan(run, now, "target changed", None)

    async def _finish(self, run: EventRun, state: EventState, note: str) -> None:
        """Release every resource the event sent a command to, in its window or in the
        recovery after it (not those another live event commands), and record how it
        ended. A dropped one was released when it was dropped, unless the event is
        cancelled."""
        now = self.clock.now()
        keys = [k for k in run.sent_to() if k not in run.dropped or state is EventState.CANCELLED]
        busy = claimed_by_others(run, self._live_runs())
        released = await self.dispatcher.release_keys(run, [k for k in keys if k not in busy], now)
        if run.lifecycle.state is EventState.NOTIFIED and state is EventState.COMPLETED:
            run.lifecycle.move(EventState.ACTIVE, now)
        if run.lifecycle.state is EventState.SCHEDULED and state is EventState.COMPLETED:
            run.lifecycle.move(EventState.NOTIFIED, now, "nothing to dispatch")
            run.lifecycle.move(EventState.ACTIVE, now)
        run.lifecycle.move(state, now, f"{note}; {released} resources released")
        logger.info("event %s %s: %s", run.event_id, state, note)
