"""Plans for one event: the first dispatch, and re-plans of the remaining intervals.

Pure functions that run in an executor, off the event loop. A re-plan keeps the resources
that are delivering on their plans and asks the optimiser, over the resources not yet in
the event, for the residual target: target minus what the kept ones are expected to give,
plus what they have been falling short by (a receding horizon from the measured state).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TypeVar

import numpy as np

from vpp.domain import (
    Battery,
    DemandResponseEvent,
    DispatchResult,
    District,
    EvChargerPool,
    FloatArray,
    HvacLoad,
    Resource,
    ResourceSchedule,
    TimeGrid,
    kind_of,
)
from vpp.optimizer import DispatchProblem, DispatchSettings, dispatch
from vpp.optimizer.resources.ev_charger import (
    arrivals_kwh,
    planned_energy_owed_kwh,
    with_energy_owed,
)
from vpp.optimizer.resources.hvac import commandable_at, planned_temperature_c
from vpp.settlement import ASKED_TOL_KW

R = TypeVar("R", bound=Resource)


def with_comfort_margin(district: District, margin_c: float) -> District:
    """The district with each building's upper comfort limit lowered by ``margin_c`` [°C].

    A thermal model is never exact: a plan that rides the comfort limit leaves no room for
    the building to be warmer than modelled, and its thermostat then takes the shed back.
    """
    if margin_c <= 0:
        return district
    return _map_resources(
        district,
        lambda key, resource: (
            resource.model_copy(
                update={
                    "comfort_max_c": max(resource.setpoint_c, resource.comfort_max_c - margin_c)
                }
            )
            if isinstance(resource, HvacLoad)
            else resource
        ),
    )


def _map_resources(district: District, change: Callable[[str, Resource], Resource]) -> District:
    enterprises = []
    for enterprise in district.enterprises:
        sites = []
        for site in enterprise.sites:
            resources = [change(f"{site.site_id}/{r.resource_id}", r) for r in site.resources]
            sites.append(site.model_copy(update={"resources": tuple(resources)}))
        enterprises.append(enterprise.model_copy(update={"sites": tuple(sites)}))
    return district.model_copy(update={"enterprises": tuple(enterprises)})


def with_battery_soc(district: District, soc_by_key: Mapping[str, float]) -> District:
    """The district with measured states of charge as the batteries' initial ones."""
    if not soc_by_key:
        return district

    def measured(key: str, resource: Resource) -> Resource:
        soc = soc_by_key.get(key)
        if not isinstance(resource, Battery) or soc is None:
            return resource
        soc = min(max(soc, resource.soc_min), resource.soc_max)
        final = min(resource.soc_final_min, soc)
        return resource.model_copy(update={"soc_initial": soc, "soc_final_min": final})

    return _map_resources(district, measured)


def with_indoor_temperature(
    district: District, temperature_by_key: Mapping[str, float]
) -> District:
    """The district with the given indoor temperatures as the buildings' initial ones (at
    the plan's first free interval), and none for the other buildings (a re-plan starts
    later than the plan whose district it reuses)."""

    def warm(key: str, resource: Resource) -> Resource:
        if not isinstance(resource, HvacLoad):
            return resource
        temperature_c = temperature_by_key.get(key)
        if temperature_c == resource.temperature_initial_c:
            return resource
        return resource.model_copy(update={"temperature_initial_c": temperature_c})

    return _map_resources(district, warm)


def recovering_buildings_c(
    plans: Iterable[tuple[DispatchProblem, Mapping[str, ResourceSchedule]]],
    problem: DispatchProblem,
    measured: Mapping[str, tuple[datetime, float]] | None = None,
) -> dict[str, float]:
    """Buildings an older plan still commands at ``problem``'s first free interval, which
    ``problem`` may command from there, with the indoor temperature they will have then
    [°C]: the older plan's, moved by how far the building's ``measured`` temperature
    (time, °C) stands from the older plan's at the time it was read.

    A new plan that took such a building from its baseline would count the older plan's
    recovery as other load and command the building as though it were at its setpoint:
    it starts it instead where it is, and makes its recovery. The measured error is what
    the older plan's open-loop commands left against the real weather.
    """
    measured = measured or {}
    first = problem.first_free()
    if first >= problem.grid.count:
        return {}
    at = problem.grid.starts[first]
    buildings = {
        ref.key: ref.resource for ref in problem.refs() if isinstance(ref.resource, HvacLoad)
    }
    out: dict[str, float] = {}
    for older, schedules in plans:
        if not older.grid.start < at < older.grid.end:
            continue
        index = older.grid.first_index_at_or_after(at)
        older_buildings = {
            ref.key: ref.resource for ref in older.refs() if isinstance(ref.resource, HvacLoad)
        }
        for key, schedule in schedules.items():
            hvac = buildings.get(key)
            if hvac is None or key not in older_buildings:
                continue
            if all(v is None for v in schedule.setpoint_kw[index:]):
                continue  # the older plan has let it go
            if not commandable_at(hvac, problem, first):
                continue  # this plan may not command it yet: the older one recovers it
            temps = planned_temperature_c(
                older_buildings[key], older, np.asarray(schedule.power_kw)
            )
            reading = measured.get(key)
            error_c = 0.0
            if reading is not None:
                error_c = reading[1] - temperature_at(older.grid, temps, reading[0])
            out[key] = float(temps[index - 1]) + error_c
    return out


def unfinished_recoveries_c(
    problem: DispatchProblem,
    schedules: Mapping[str, ResourceSchedule],
    now: datetime,
    measured: Mapping[str, tuple[datetime, float]],
    tol_c: float,
) -> dict[str, tuple[int, float, float]]:
    """Buildings whose plan lets them go at the end of the running or the next interval
    while their measured temperature stands more than ``tol_c`` [°C] above the plan's:
    each with the interval its recovery goes on from, the temperature it will have then
    and how far above the plan it was measured [°C].

    Released warm, a building's thermostat pulls back what the open-loop plan left
    against the weather at full power, at once (the snap-back the plan staggered); its
    recovery re-planned from the measured temperature spreads it instead.
    """
    grid = problem.grid
    out: dict[str, tuple[int, float, float]] = {}
    for key, (last, hvac) in released_soon(problem, schedules, measured, now, HvacLoad).items():
        reading, schedule = measured[key], schedules[key]
        temps = planned_temperature_c(hvac, problem, np.asarray(schedule.power_kw))
        error_c = reading[1] - temperature_at(grid, temps, reading[0])
        if error_c > tol_c:
            out[key] = (last + 1, float(temps[last]) + error_c, error_c)
    return out


def released_soon(
    problem: DispatchProblem,
    schedules: Mapping[str, ResourceSchedule],
    keys: Iterable[str],
    now: datetime,
    kind: type[R],
) -> dict[str, tuple[int, R]]:
    """Of ``keys`` (the meters that report a state), the resources of ``kind`` whose plan
    lets them go at the end of the running or the next interval, with their last
    commanded interval and registration."""
    grid = problem.grid
    running = grid.first_index_at_or_after(now)
    if running == grid.count or grid.starts[running] > now:
        running -= 1
    ending: dict[str, int] = {}
    for key in keys:
        schedule = schedules.get(key)
        if schedule is None or not commanded(schedule):
            continue
        last = max(t for t, v in enumerate(schedule.setpoint_kw) if v is not None)
        if last - 1 <= running <= last and last + 1 < grid.count:
            ending[key] = last
    if not ending:
        return {}
    return {
        ref.key: (ending[ref.key], ref.resource)
        for ref in problem.refs()
        if ref.key in ending and isinstance(ref.resource, kind)
    }


def unfinished_catch_ups_kwh(
    problem: DispatchProblem,
    schedules: Mapping[str, ResourceSchedule],
    now: datetime,
    measured: Mapping[str, tuple[datetime, float]],
    tol_kwh: float,
    arrival_spread: timedelta = timedelta(0),
) -> dict[str, tuple[int, float, float]]:
    """EV pools whose plan lets them go at the end of the running or the next interval
    while their vehicles measurably still need more than ``tol_kwh`` [kWh] above what the
    plan has them need: each with the interval its catch-up goes on from, the energy owed
    then and how far above the plan it was measured [kWh].

    Released, a pool charges every car at full power at once: energy the plan did not
    know was owed comes back as a new peak after the event. Its catch-up re-planned from
    the measured need spreads it instead. The plan places a car from the interval
    boundary after its registered arrival, and cars come up to ``arrival_spread`` early:
    the need of the cars registered to arrive from the start of the interval read in to
    ``arrival_spread`` after the reading is not counted above the plan (they may be
    plugged in already, and the plan has them, later).
    """
    grid = problem.grid
    out: dict[str, tuple[int, float, float]] = {}
    for key, (last, pool) in released_soon(
        problem, schedules, measured, now, EvChargerPool
    ).items():
        read_at, owed_kwh = measured[key]
        power = np.asarray(schedules[key].power_kw)
        planned = planned_energy_owed_kwh(pool, grid, power)
        read_in = grid.starts[grid.index_at(read_at)]
        early_kwh = arrivals_kwh(pool, grid.tz, read_in, read_at + arrival_spread)
        error_kwh = owed_kwh - owed_at(grid, planned, power, read_at) - early_kwh
        if error_kwh > tol_kwh:
            out[key] = (last + 1, float(planned[last + 1]) + error_kwh, error_kwh)
    return out


def owed_at(grid: TimeGrid, owed_kwh: FloatArray, power_kw: FloatArray, ts: datetime) -> float:
    """A plan's energy owed [kWh] at ``ts``: ``owed_kwh`` holds it at each interval
    boundary (arrivals counted), falling at the planned power within the interval."""
    index = grid.index_at(ts)
    hours = (ts - grid.starts[index]).total_seconds() / 3600.0
    return float(max(owed_kwh[index] - power_kw[index] * min(max(hours, 0.0), grid.dt_h), 0.0))


def with_vehicles_owed(
    district: District, grid: TimeGrid, index: int, owed_by_key: Mapping[str, float]
) -> District:
    """The district with each EV pool in ``owed_by_key`` as it stands at interval ``index``:
    its plugged-in vehicles owing the energy given [kWh] (:func:`with_energy_owed`)."""

    def owing(key: str, resource: Resource) -> Resource:
        owed_kwh = owed_by_key.get(key)
        if owed_kwh is None or not isinstance(resource, EvChargerPool):
            return resource
        return with_energy_owed(resource, grid, index, owed_kwh)

    return _map_resources(district, owing)


def temperature_at(grid: TimeGrid, temps: FloatArray, ts: datetime) -> float:
    """A plan's modelled temperature [°C] at ``ts``: ``temps`` holds it at each interval's
    end, linear in between (held before the first end and after the last)."""
    step_s = grid.interval.total_seconds()
    ends_s = step_s * np.arange(1, grid.count + 1)
    return float(np.interp((ts - grid.start).total_seconds(), ends_s, temps))


def soc_after(battery: Battery, soc: float, power_kw: float, hours: float) -> float:
    """State of charge [0..1] after ``hours`` [h] at ``power_kw`` [kW, consumption positive:
    charging], with the battery's efficiencies, kept within its SoC window.

    A re-plan that starts at the next interval must start from the charge the battery will
    have then, not the one it reported now: the minutes between are spent at its current
    power, and a plan that ignores them drives it below ``soc_min`` in its last interval.
    """
    if power_kw >= 0:
        energy_kwh = power_kw * battery.charge_efficiency * hours
    else:
        energy_kwh = power_kw / battery.discharge_efficiency * hours
    later = soc + energy_kwh / battery.capacity_kwh
    return min(max(later, min(soc, battery.soc_min)), max(soc, battery.soc_max))


def replan(
    problem: DispatchProblem,
    *,
    candidates: frozenset[str],
    first_free_index: int,
    residual_kw: FloatArray,
    issued_at: datetime,
    soc_by_key: Mapping[str, float],
    settings: DispatchSettings,
    rebound_limit_kw: FloatArray | None = None,
    margin_kw: FloatArray | None = None,
) -> DispatchResult:
    """Dispatch ``candidates`` for the residual target from ``first_free_index`` on, their
    load outside the window under ``rebound_limit_kw`` (see :func:`rebound_room_kw`);
    ``margin_kw`` is the planning margin on top of the residual per event interval [kW],
    priced by ``settings.margin_penalty_cny_per_kwh``."""
    sub = replace(
        problem,
        district=with_battery_soc(problem.district, soc_by_key),
        resource_keys=candidates,
        first_free_index=first_free_index,
        target_override_kw=residual_kw,
        target_margin_kw=np.zeros_like(residual_kw) if margin_kw is None else margin_kw,
        issued_at=issued_at,
        rebound_limit_kw=rebound_limit_kw,
    )
    return dispatch(sub, settings.model_copy(update={"target_margin_pct": 0.0}))


def rebound_room_kw(
    plan: DispatchResult, schedules: Mapping[str, ResourceSchedule], candidates: frozenset[str]
) -> FloatArray | None:
    """What the event's rebound limit leaves the candidates of a re-plan per interval [kW]:
    the first plan's limit less the planned load of every other resource (NaN where the
    plan had no limit); None when the plan had no cap."""
    limit = np.array(
        [np.nan if i.rebound_limit_kw is None else i.rebound_limit_kw for i in plan.intervals]
    )
    if np.all(np.isnan(limit)):
        return None
    others = [np.asarray(s.power_kw) for key, s in schedules.items() if key not in candidates]
    out: FloatArray = limit - np.sum(others, axis=0) if others else limit
    return out


def plans_deviation_kw(
    plans: Iterable[tuple[TimeGrid, Mapping[str, ResourceSchedule]]],
    grid: TimeGrid,
    keep: Callable[[ResourceSchedule], bool] = lambda schedule: True,
) -> FloatArray:
    """Load the plans' ``keep`` schedules add above their baselines on ``grid``, where
    their grids meet it [kW, negative where they shed]."""
    out = np.zeros(grid.count)
    index = {ts: t for t, ts in enumerate(grid.starts)}
    for other_grid, schedules in plans:
        pairs = [(t, index[ts]) for t, ts in enumerate(other_grid.starts) if ts in index]
        if not pairs:
            continue
        theirs, ours = (np.array(p) for p in zip(*pairs, strict=True))
        for schedule in schedules.values():
            if keep(schedule):
                deviation = np.asarray(schedule.power_kw) - np.asarray(schedule.baseline_kw)
                out[ours] += deviation[theirs]
    return out


def others_rebound_kw(
    plans: Iterable[tuple[TimeGrid, Mapping[str, ResourceSchedule]]],
    grid: TimeGrid,
    owned: frozenset[str] = frozenset(),
) -> FloatArray:
    """Load other events' plans add above their baselines on ``grid`` [kW, at least 0]: an
    earlier event's rebound and recovery, which a new plan's physics do not know. Batteries
    are left out: a new plan starts them from their measured charge; so are the ``owned``
    resources, whose recovery the new plan makes (:func:`recovering_buildings_c`)."""

    def recovering(schedule: ResourceSchedule) -> bool:
        return not kind_of(schedule.kind).stores_energy and schedule.key not in owned

    clipped: FloatArray = np.maximum(plans_deviation_kw(plans, grid, recovering), 0.0)
    return clipped


def response_kw(schedule: ResourceSchedule, direction: float) -> FloatArray:
    """Planned response of one resource per interval of the horizon [kW]."""
    base = np.asarray(schedule.baseline_kw, dtype=float)
    power = np.asarray(schedule.power_kw, dtype=float)
    out: FloatArray = direction * (base - power)
    return out


def asked_kw(schedule: ResourceSchedule, direction: float, window: slice) -> FloatArray:
    """What an event asks of one resource per interval of the horizon [kW, >= 0]: in the
    window its planned response; after it only where a command carries a response on (a
    curtailment held past the window, a battery discharging under another load's rebound),
    which is settled as the window's asks are. A released load's planned rebound, or a
    plan no command carries, asks nothing."""
    response = np.maximum(0.0, response_kw(schedule, direction))
    out = np.zeros_like(response)
    out[window] = response[window]
    for t in range(window.stop, len(response)):
        if schedule.setpoint_kw[t] is not None:
            out[t] = response[t]
    return out


def settled_stop(asked: Iterable[FloatArray], window: slice) -> int:
    """Where an event's settlement ends [interval index]: the window's end, or after the
    last interval past it in which some participant is asked something."""
    stop: int = window.stop
    for values in asked:
        after = np.flatnonzero(values[window.stop :] > ASKED_TOL_KW)
        if after.size:
            stop = max(stop, int(window.stop + after[-1] + 1))
    return stop


def released_from(schedule: ResourceSchedule, index: int) -> ResourceSchedule:
    """The schedule with normal operation from interval ``index`` on (a dropped resource)."""
    power = list(schedule.power_kw)
    setpoint = list(schedule.setpoint_kw)
    for t in range(index, len(power)):
        power[t] = schedule.baseline_kw[t]
        setpoint[t] = None
    return schedule.model_copy(update={"power_kw": tuple(power), "setpoint_kw": tuple(setpoint)})


def within_event(schedule: ResourceSchedule, window_stop: int) -> ResourceSchedule:
    """The schedule without commands after the window, unless its kind needs a recovery
    (``recovers_under_command``: buildings ramp back from pre-cooling and shedding, batteries
    recharge and EV pools catch up on the energy owed under limits, so the recovery the plan
    staggered under the rebound cap is the one that happens); curtailed loads take their
    rebound back by themselves, as planned, once released. A command that carries on past
    the window's end without a break is kept: the plan holds that load a little longer so
    releases are staggered under the rebound cap.

    The planned load stays: a curtailed load's rebound comes back uncommanded, and a
    re-plan's room under the rebound cap must count it (:func:`rebound_room_kw`).
    """
    if kind_of(schedule.kind).recovers_under_command:
        return schedule
    setpoints, base = schedule.setpoint_kw, schedule.baseline_kw
    held = window_stop
    while 0 < held < len(setpoints) and _sheds(setpoints[held - 1], base[held - 1]):
        if not _sheds(setpoints[held], base[held]):
            break
        held += 1

    setpoint = setpoints[:held] + (None,) * (len(setpoints) - held)
    return schedule.model_copy(update={"setpoint_kw": setpoint})


def _sheds(setpoint: float | None, baseline_kw: float) -> bool:
    """A limit below the load's normal power: a curtailment in force."""
    return setpoint is not None and setpoint < baseline_kw - 1e-6


def spliced(old: ResourceSchedule, new: ResourceSchedule, index: int) -> ResourceSchedule:
    """The old plan before interval ``index`` and the new one from it on."""
    return old.model_copy(
        update={
            "power_kw": old.power_kw[:index] + new.power_kw[index:],
            "setpoint_kw": old.setpoint_kw[:index] + new.setpoint_kw[index:],
        }
    )


def commanded_in(schedule: ResourceSchedule, span: slice) -> bool:
    """Whether the schedule commands the resource in any interval of ``span``."""
    return any(v is not None for v in schedule.setpoint_kw[span])


def commanded(schedule: ResourceSchedule) -> bool:
    return commanded_in(schedule, slice(None))


def remaining_event(
    event: DemandResponseEvent, now: datetime, interval: timedelta
) -> DemandResponseEvent | None:
    """The event from the interval running at ``now`` on; None when its window is over.

    What a restarted controller resumes: the running interval is kept, since its leases
    held through the restart (they end with the interval) and its measured mean comes from
    the telemetry after the restart.
    """
    if now <= event.start:
        return event
    passed = (now - event.start) // interval
    start = event.start + passed * interval
    if start >= event.end:
        return None
    return event.model_copy(update={"start": start})
