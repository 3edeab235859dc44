"""The re-planner: an event's first plan, and re-plans of its remaining intervals from the
measured state (a receding horizon).

Each concept lives here once: the candidates (healthy resources not yet in the event), the
measured state (each battery's charge, carried forward to the re-plan's first interval),
the residual target (target with the planning margin, plus the shortfall to make up, less
what the kept resources are expected to give), and the solve, off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar

import numpy as np

from vpp.controller.clock import Clock
from vpp.controller.dispatcher import Dispatcher, hand_over, left_after_hand_over
from vpp.controller.health import HealthWatch
from vpp.controller.lifecycle import EventState
from vpp.controller.monitor import Monitor
from vpp.controller.planning import (
    commanded,
    commanded_in,
    others_rebound_kw,
    rebound_room_kw,
    recovering_buildings_c,
    released_from,
    replan,
    soc_after,
    spliced,
    unfinished_catch_ups_kwh,
    unfinished_recoveries_c,
    with_battery_soc,
    with_comfort_margin,
    with_indoor_temperature,
    with_vehicles_owed,
    within_event,
)
from vpp.controller.roster import CallCounts, Roster
from vpp.controller.run import EventRun, Replan
from vpp.controller.settings import ControllerSettings
from vpp.domain import Battery, District, FloatArray, kind_of
from vpp.optimizer import DispatchProblem
from vpp.optimizer.explain import dispatch_explained
from vpp.planning import prepare_problem

logger = logging.getLogger(__name__)

T = TypeVar("T")

HAND_OVER_ROUNDS = 3
"""First plans of an event solved at most, until the older events' load it counted is the
load they keep once it has taken its resources from them (:meth:`Replanner.plan`)."""


class Replanner:
    """Plans and re-plans events; counts as busy while a solve runs."""

    def __init__(
        self,
        settings: ControllerSettings,
        clock: Clock,
        roster: Roster,
        monitor: Monitor,
        health: HealthWatch,
        dispatcher: Dispatcher,
        counts: CallCounts,
        live_runs: Callable[[], list[EventRun]],
        executor: Executor | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.roster = roster
        self.monitor = monitor
        self.health = health
        self.dispatcher = dispatcher
        self.counts = counts
        self._live_runs = live_runs
        self._executor = executor
        self._solving = 0
        #: What a first plan is solved with: the planning margin absorbs baseline error.
        self.plan_settings = settings.dispatch.model_copy(
            update={"target_margin_pct": settings.planning_margin_pct}
        )
        #: What a re-plan is solved with: its residual gives the margin per interval, and
        #: the measured shortfall it makes up is in its firm part.
        self.replan_settings = settings.dispatch.model_copy(
            update={"margin_penalty_cny_per_kwh": settings.replan_margin_penalty_cny_per_kwh}
        )

    @property
    def busy(self) -> bool:
        """Whether a solve is running (a simulation waits for it before moving time on)."""
        return self._solving > 0

    async def solve(self, fn: Callable[[], T]) -> T:
        """Run blocking work (baselines, a solve) in the executor, counted as busy."""
        self._solving += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, fn)
        finally:
            self._solving -= 1

    async def plan(self, run: EventRun) -> None:
        """The first dispatch of an event (or a fresh one after a change before it starts)."""
        problem, baselines = await self.solve(
            partial(
                prepare_problem,
                self.roster.district,
                run.event,
                baseline_method=self.settings.baseline_method,
                interval_min=self.settings.interval_min,
            )
        )
        older = [r for r in self._live_runs() if r is not run and r.problem]
        problem = replace(
            problem,
            district=with_battery_soc(
                with_comfort_margin(self.roster.district, self.settings.hvac_comfort_margin_c),
                self.measured_soc(),
            ),
            events_today=self.counts.on(self.roster.day_of(run.event.start)),
        )
        warm = recovering_buildings_c(
            [(r.problem, r.schedules) for r in older if r.problem],
            problem,
            self.measured_indoor_temperatures(self.clock.now()),
        )
        owned = frozenset(warm)
        problem = replace(problem, district=with_indoor_temperature(problem.district, warm))
        counted = others_rebound_kw([(r.grid, r.schedules) for r in older], problem.grid, owned)
        problem = replace(problem, rebound_other_kw=counted)
        stop = problem.grid.slice_of(run.event.start, run.event.end).stop
        for round_ in range(1, HAND_OVER_ROUNDS + 1):
            result, explanation = await self.solve(
                partial(dispatch_explained, problem, self.plan_settings)
            )
            schedules = {s.key: within_event(s, stop) for s in result.schedules}
            # Resources this plan takes from older events lose the older plans' load from
            # then (hand_over): counted as other load, it is room the plan thought it had
            # (an EV pool's deferred charging) or load that will not come. Plan again
            # against the older plans as they will be left, until that is what was counted.
            left = others_rebound_kw(
                [
                    (r.grid, left_after_hand_over(schedules, problem.grid, r, self.clock.now()))
                    for r in older
                ],
                problem.grid,
                owned,
            )
            if round_ == HAND_OVER_ROUNDS or np.allclose(left, counted, atol=1.0):
                break
            counted = left
            problem = replace(problem, rebound_other_kw=counted)
        run.problem = problem
        run.initial = result
        run.explanation = explanation
        run.baseline_notes = baselines.notes
        run.schedules = schedules
        hand_over(run, self._live_runs(), self.clock.now())
        note = (
            f"{result.solve.status}, expected shortfall {result.max_shortfall_kw:.0f} kW, "
            f"cost {result.costs.cost_cny:.0f} CNY"
        )
        run.lifecycle.move(EventState.SCHEDULED, self.clock.now(), note)
        logger.info("event %s scheduled: %s", run.event_id, note)

    async def replan(
        self, run: EventRun, now: datetime, reason: str, bias_kw: float | None
    ) -> None:
        """Release the dropped resources and ask the candidates for what the kept ones will
        not give, from the interval running at ``now`` (if most of it is ahead) on."""
        grid = run.grid
        first = first_replanned_index(run, now)
        dropped_now = [k for k in run.dropped if commanded(run.schedules[k])]
        for key in dropped_now:
            run.schedules[key] = released_from(run.schedules[key], first)
        await self.dispatcher.release_keys(run, dropped_now, now)
        window = run.window
        if first >= window.stop:
            return
        # Batteries carry no state but their SoC, which telemetry gives: re-plan them whole.
        replanned = {k for k in run.recovering() if kind_of(run.schedules[k].kind).stores_energy}
        # The target and the shortfall to make up are firm; the margin on top is priced
        # by replan_margin_penalty_cny_per_kwh (by default as firm as the target).
        margin_factor = self.plan_settings.margin_factor
        firm, margin = residual_parts_kw(run, first, bias_kw, margin_factor, replanned)
        residual = firm + margin
        if residual.max() <= 1e-3 * run.target_kw:
            if dropped_now:
                run.replans.append(
                    Replan(now, reason, grid.starts[first], tuple(dropped_now), (), 0.0, "none", 0)
                )
            return
        candidates = frozenset(self.candidates(run, now)) | replanned
        soc = self.soc_at(grid.starts[first], now)
        assert run.problem is not None
        # A candidate building some plan (this one's recovery, an older event's) still
        # commands is re-planned from where it is, as a first plan takes it over.
        warm = recovering_buildings_c(
            [(r.problem, r.schedules) for r in self._live_runs() if r.problem],
            replace(run.problem, resource_keys=candidates, first_free_index=first),
            self.measured_indoor_temperatures(now),
        )
        problem = replace(run.problem, district=with_indoor_temperature(run.problem.district, warm))
        started = time.perf_counter()
        result = await self.solve(
            partial(
                replan,
                problem,
                candidates=candidates,
                first_free_index=first,
                residual_kw=firm,
                margin_kw=margin,
                issued_at=now,
                soc_by_key=soc,
                settings=self.replan_settings,
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
                if commanded_in(schedule, window) and not commanded_in(old, window):
                    added.append(schedule.key)  # asked in the window: in the event now
                run.schedules[schedule.key] = spliced(old, schedule, first)
            elif schedule.key in replanned:
                run.schedules[schedule.key] = released_from(old, first)
        hand_over(run, self._live_runs(), now)
        if added and run.lifecycle.state is EventState.ACTIVE:
            self.counts.add(self.roster.day_of(run.event.start), added)
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
                result.max_rebound_excess_kw,
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
        await self.dispatcher.send_due(run, now)

    async def extend_recoveries(self, run: EventRun, now: datetime) -> None:
        """Re-plan, once each, the recovery of the resources the plan is about to let go
        while they measurably owe more than planned, under the room the cap leaves them:
        buildings warmer than planned (:func:`unfinished_recoveries_c`), from the measured
        temperature; EV pools whose vehicles need more than planned
        (:func:`unfinished_catch_ups_kwh`), from the measured energy owed."""
        problem = run.problem
        if problem is None:
            return
        # Called at every check: only the meters that report such a state count.
        buildings = unfinished_recoveries_c(
            problem,
            run.schedules,
            now,
            self._not_extended(run, self.measured_indoor_temperatures(now)),
            self.settings.recovery_extension_tol_c,
        )
        pools = unfinished_catch_ups_kwh(
            problem,
            run.schedules,
            now,
            self._not_extended(run, self.measured_energy_owed(now)),
            self.settings.catch_up_extension_tol_kwh,
            timedelta(minutes=self.settings.arrival_spread_min),
        )
        todo: list[tuple[str, int, District, str]] = []
        for key, (first, temperature_c, error_c) in buildings.items():
            district = with_indoor_temperature(problem.district, {key: temperature_c})
            reason = f"{error_c:+.1f} °C against the plan when it lets it go, recovery"
            todo.append((key, first, district, f"{key}: {reason} re-planned"))
        for key, (first, owed_kwh, error_kwh) in pools.items():
            district = with_vehicles_owed(problem.district, run.grid, first, {key: owed_kwh})
            reason = f"vehicles owed {error_kwh:+.0f} kWh above the plan when it lets it go"
            todo.append((key, first, district, f"{key}: {reason}, catch-up re-planned"))
        for key, first, district, reason in todo:
            measured = replace(problem, district=district)
            await self._extend_recovery(run, measured, key, first, reason, now)
        if todo:
            await self.dispatcher.send_due(run, now)

    def _commanded_later(self, run: EventRun, key: str, at: datetime) -> bool:
        """Whether another event's plan commands ``key`` at or after ``at``."""
        for other in self._live_runs():
            schedule = other.schedules.get(key)
            if other is run or schedule is None:
                continue
            if commanded_in(schedule, slice(other.grid.first_index_at_or_after(at), None)):
                return True
        return False

    def _not_extended(
        self, run: EventRun, measured: dict[str, tuple[datetime, float]]
    ) -> dict[str, tuple[datetime, float]]:
        return {
            key: reading
            for key, reading in measured.items()
            if key not in run.dropped and key not in run.recoveries_extended
        }

    async def _extend_recovery(
        self,
        run: EventRun,
        measured: DispatchProblem,
        key: str,
        first: int,
        reason: str,
        now: datetime,
    ) -> None:
        """Re-plan ``key`` alone from interval ``first`` on, as ``measured`` (the run's
        problem with the resource in its measured state) has it, with no target and under
        the room the cap leaves it."""
        run.recoveries_extended.add(key)
        if self._commanded_later(run, key, run.grid.starts[first]):
            return  # another event's plan has it next: that one recovers it
        keys = frozenset([key])
        started = time.perf_counter()
        result = await self.solve(
            partial(
                replan,
                measured,
                candidates=keys,
                first_free_index=first,
                residual_kw=np.zeros(run.window.stop - run.window.start),
                issued_at=now,
                soc_by_key={},
                settings=self.settings.dispatch,
                rebound_limit_kw=rebound_room_kw(run.initial, run.schedules, keys)
                if run.initial is not None
                else None,
            )
        )
        [schedule] = [s for s in result.schedules if s.key == key]
        # Commanded or not, its load from ``first`` is what the re-plan expects of it now
        # (the old plan had let it go: nothing it commanded is replaced).
        run.schedules[key] = spliced(run.schedules[key], schedule, first)
        run.replans.append(
            Replan(
                now,
                reason,
                run.grid.starts[first],
                (),
                (),
                0.0,
                result.solve.status.value,
                time.perf_counter() - started,
                result.max_rebound_excess_kw,
            )
        )
        logger.info(
            "event %s: recovery of %s re-planned from %s", run.event_id, key, run.grid.starts[first]
        )

    def candidates(self, run: EventRun, now: datetime) -> list[str]:
        """Healthy resources not yet in this event (one commanded only to stagger its
        recovery outside the window is not in it, and may still be asked)."""
        window = run.window
        taken = {
            key
            for key in run.participants()
            if key in run.dropped or commanded_in(run.schedules[key], window)
        }
        out = []
        for key, ref in self.roster.refs.items():
            if key in taken or not kind_of(ref.resource).dispatchable:
                continue
            if self.health.reachable(key, now):
                out.append(key)
        return out

    def silent_batteries(self) -> list[str]:
        """Batteries that have not yet reported a state of charge."""
        return [key for key in self.roster.batteries() if self.monitor.last_soc(key) is None]

    def measured_energy_owed(self, now: datetime) -> dict[str, tuple[datetime, float]]:
        """Each fresh energy owed reported (time, kWh): the EV pools' telemetry."""
        return self._fresh(self.monitor.owed_keys, self.monitor.last_energy_owed, now)

    def measured_indoor_temperatures(self, now: datetime) -> dict[str, tuple[datetime, float]]:
        """Each fresh indoor temperature reported (time, °C): the buildings' telemetry."""
        return self._fresh(self.monitor.indoor_keys, self.monitor.last_indoor_temperature, now)

    def _fresh(
        self,
        keys: Iterable[str],
        last: Callable[[str], tuple[datetime, float] | None],
        now: datetime,
    ) -> dict[str, tuple[datetime, float]]:
        """The ``last`` reading (time, value) of each of ``keys`` within the staleness window."""
        stale = timedelta(seconds=self.settings.telemetry_stale_s)
        out = {}
        for key in keys:
            reading = last(key)
            if reading is not None and now - reading[0] <= stale:
                out[key] = reading
        return out

    def measured_soc(self) -> dict[str, float]:
        """Each battery's last reported state of charge."""
        out = {}
        for key, ref in self.roster.refs.items():
            soc = self.monitor.last_soc(key) if kind_of(ref.resource).stores_energy else None
            if soc is not None:
                out[key] = soc
        return out

    def soc_at(self, start: datetime, now: datetime) -> dict[str, float]:
        """Each battery's state of charge at ``start``: its last report, carried forward at
        its last measured power when the plan starts after ``now``."""
        soc = self.measured_soc()
        hours = (start - now).total_seconds() / 3600.0
        if hours <= 0:
            return soc
        out = {}
        for key, value in soc.items():
            battery = self.roster.refs[key].resource
            power_kw = self.monitor.last_power_kw(key)
            if not isinstance(battery, Battery) or power_kw is None:
                out[key] = value
                continue
            out[key] = soc_after(battery, value, power_kw, hours)
        return out


def first_replanned_index(run: EventRun, now: datetime) -> int:
    """The first interval a re-plan at ``now`` may change: the next one, or the running
    one while most of it is still ahead."""
    grid = run.grid
    current = grid.first_index_at_or_after(now)
    if current > 0 and now < grid.starts[current - 1] + grid.interval / 3:
        current -= 1
    return max(current, 0)


def residual_kw(
    run: EventRun,
    first: int,
    bias_kw: float | None,
    margin_factor: float,
    replanned: set[str],
) -> FloatArray:
    """What a re-plan must ask of its candidates per event interval [kW, at least 0]: the
    target with the planning margin (``margin_factor``, see
    :attr:`vpp.optimizer.DispatchSettings.margin_factor`) and the shortfall to make up
    (``bias_kw``), less the planned response of the kept resources not in ``replanned``;
    zero before interval ``first``. :func:`residual_parts_kw` gives it in its two parts."""
    firm, margin = residual_parts_kw(run, first, bias_kw, margin_factor, replanned)
    total: FloatArray = firm + margin
    return total


def residual_parts_kw(
    run: EventRun,
    first: int,
    bias_kw: float | None,
    margin_factor: float,
    replanned: set[str],
) -> tuple[FloatArray, FloatArray]:
    """:func:`residual_kw` as its firm part (the target and the shortfall to make up, less
    the kept response) and the planning margin on top of it, per event interval [kW]."""
    window = run.window
    expected = run.planned_response_kw([k for k in run.kept() if k not in replanned])
    free = np.arange(window.start, window.stop) >= first
    firm_kw = run.target_kw + (bias_kw or 0.0) - expected[window]
    firm = np.where(free, np.maximum(0.0, firm_kw), 0.0)
    with_margin = firm_kw + run.target_kw * (margin_factor - 1.0)
    margin: FloatArray = np.where(free, np.maximum(0.0, with_margin), 0.0) - firm
    return firm, margin
