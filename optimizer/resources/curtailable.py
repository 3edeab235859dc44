"""Industrial curtailment: all-or-nothing steps committed over whole blocks of time.

A load picks, for each candidate block ``c`` (a start and a length), which of its steps to
shed, nested in the listed order: ``z[c, k] <= z[c, k-1]``. A block lasts the whole part of
the event window the load may act in (after its notice, inside its availability) when its
maximum duration allows; otherwise it lasts ``max_duration`` and may start on a grid of
``curtail_start_stride_min``. One binary per step and block, not per
interval: the LP relaxation is tight and the MILP solves at the root (DOMAIN.md).

    power[r, t] = baseline[r, t] - sum_{c covers t, k} step_k z[c, k]
                  + sum_{c rebounds at t, k} step_k rho_r L_c / R_r z[c, k]

where ``rho_r`` is the rebound fraction, ``L_c`` the block length and ``R_r`` the rebound
length in intervals. Blocks that overlap or lie closer than ``min_rest`` (and never closer
than one interval) share a clique row.
Applies to CurtailableLoad. Valley filling cannot use curtailment, so no blocks are offered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from vpp.domain import (
    CurtailableLoad,
    DispatchResult,
    ResourceRef,
    ResourceSchedule,
    SetpointMode,
)
from vpp.optimizer.linear import FloatArray, LinearModel
from vpp.optimizer.problem import DispatchProblem, ModelContext
from vpp.optimizer.resources._block import TOL_KW, KindBlock, resources_of

KIND = "curtailable_load"


@dataclass
class _Blocks:
    """Candidate (resource, start, length, step) tuples, flattened."""

    resource: list[int] = field(default_factory=list)
    start: list[int] = field(default_factory=list)
    length: list[int] = field(default_factory=list)
    step: list[int] = field(default_factory=list)
    step_kw: list[float] = field(default_factory=list)
    price: list[float] = field(default_factory=list)
    rebound_kw: list[float] = field(default_factory=list)
    rebound_len: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.resource)


def candidate_blocks(
    allowed: np.ndarray,
    window: slice,
    max_length: int,
    stride: int,
    hold: int = 0,
    rebound_len: int = 0,
) -> list[tuple[int, int]]:
    """(start, length) of the blocks a load may shed in, within the window's allowed runs.

    Each run of allowed intervals (notice, availability and the past cut the window) gets
    blocks as long as the run allows, at most ``max_length``: the whole run when it fits,
    else starts every ``stride`` intervals plus the latest start. A load that cannot cover
    the whole window still serves the part it can. A block that lasts to the window's end
    may also be held past it, ``stride`` intervals at a time up to ``hold`` intervals, where
    the load is available and its maximum duration allows (:func:`held_past_window`).
    """
    assert window.start is not None
    assert window.stop is not None
    blocks: list[tuple[int, int]] = []
    t = window.start
    while t < window.stop:
        if not allowed[t]:
            t += 1
            continue
        run_end = t
        while run_end < window.stop and allowed[run_end]:
            run_end += 1
        length = min(max_length, run_end - t)
        starts = list(range(t, run_end - length + 1, stride))
        if starts[-1] != run_end - length:
            starts.append(run_end - length)
        blocks += [(s, length) for s in starts]
        t = run_end
    return blocks + held_past_window(
        blocks, allowed, window.stop, max_length, stride, hold, rebound_len
    )


def held_past_window(
    blocks: list[tuple[int, int]],
    allowed: np.ndarray,
    window_stop: int,
    max_length: int,
    stride: int,
    hold: int,
    rebound_len: int = 0,
) -> list[tuple[int, int]]:
    """The blocks that end with the window, held on past it: a staggered release.

    Every curtailment ending with the window releases its rebound at once, onto the
    portfolio's load right after the event (the new peak a rebound cap is there to stop).
    Held a little longer, a load keeps room for the others' rebound and releases its own
    later, and in all less comes back after the event: only a fraction of the extra energy
    it sheds returns. The hold is priced as the rest of the block (the load's asked price).
    A hold whose rebound (``rebound_len`` intervals) would end beyond the horizon is not
    offered: the plan would push load out of sight instead of placing it.
    """
    out: list[tuple[int, int]] = []
    for s, length in blocks:
        if s + length != window_stop:
            continue
        for extra in range(stride, hold + 1, stride):
            end = window_stop + extra
            if (
                end + rebound_len > allowed.size
                or length + extra > max_length
                or not allowed[window_stop:end].all()
            ):
                break
            out.append((s, length + extra))
    return out


def hold_intervals(problem: DispatchProblem, ctx: ModelContext) -> int:
    """Intervals a curtailment may be held past the window: only under a rebound cap (held
    without one, a load would only cost more) and never in valley filling."""
    if ctx.direction < 0 or not problem.rebound_capped(ctx.settings):
        return 0
    return ctx.interval_count(ctx.settings.release_hold_max_min)


def add_curtailable_load(
    m: LinearModel, refs: list[ResourceRef], problem: DispatchProblem, ctx: ModelContext
) -> KindBlock | None:
    """Step commitments [0/1], power [kW], step order, rest and events-per-day rows."""
    if not refs:
        return None
    loads = resources_of(refs, CurtailableLoad)
    n_r, n_t = len(refs), ctx.n_t
    baseline = np.array(
        [
            problem.load_baselines_kw.get(ref.key, ctx.grid.sample_daily(load.typical_load_kw))
            for ref, load in zip(refs, loads, strict=True)
        ],
        dtype=np.float64,
    ).reshape(n_r, n_t)
    stride = max(1, ctx.settings.curtail_start_stride_min // ctx.grid.interval_min)
    hold = hold_intervals(problem, ctx)

    blocks = _Blocks()
    events_rows: list[tuple[int, int]] = []  # (resource, events still allowed)
    for r, (ref, load) in enumerate(zip(refs, loads, strict=True)):
        if ctx.direction < 0:
            continue
        max_length = ctx.interval_count(load.max_duration_min)
        allowed = ctx.grid.in_daily_windows(load.availability)
        allowed[: ctx.notice_index(load.min_notice_min)] = False
        events_left = load.max_events_per_day - problem.events_today.get(ref.key, 0)
        if max_length <= 0 or events_left <= 0:
            continue
        rebound_len = math.ceil(load.rebound_duration_min / ctx.grid.interval_min)
        candidates = candidate_blocks(allowed, ctx.window, max_length, stride, hold, rebound_len)
        for s, length in candidates:
            for k, step in enumerate(load.steps):
                blocks.resource.append(r)
                blocks.start.append(s)
                blocks.length.append(length)
                blocks.step.append(k)
                blocks.step_kw.append(step.power_kw)
                blocks.price.append(
                    step.price_cny_per_kwh + ctx.rotation_adder(ref.enterprise.enterprise_id)
                )
                blocks.rebound_kw.append(
                    step.power_kw * load.rebound_fraction * length / rebound_len
                )
                blocks.rebound_len.append(rebound_len)
        if len(candidates) > events_left:
            events_rows.append((r, events_left))

    power = m.add_variables(f"{KIND}.power_kw", (n_r, n_t), lower=0.0)
    z = m.add_variables(f"{KIND}.step_on", len(blocks), 0.0, 1.0, integer=True)
    _add_power_balance(m, blocks, power, z, baseline, n_r, n_t)
    _add_step_order(m, blocks, z)
    first_steps = _first_steps_by_load(blocks)
    _add_rest_cliques(m, loads, blocks, first_steps, z, ctx)
    _add_events_per_day(m, first_steps, z, events_rows)

    energy_kwh = np.array(blocks.step_kw) * np.array(blocks.length) * ctx.dt_h
    own_price = np.array(
        [
            loads[r].steps[k].price_cny_per_kwh
            for r, k in zip(blocks.resource, blocks.step, strict=True)
        ]
    )
    m.add_cost("compensation", z, own_price * energy_kwh)
    m.add_cost("rotation", z, (np.array(blocks.price) - own_price) * energy_kwh)

    def setpoint_kw(x: FloatArray) -> FloatArray:
        curtailed = _curtailed_kw(blocks, m.value(x, f"{KIND}.step_on"), n_r, n_t)
        return np.where(curtailed > 1e-3, baseline - curtailed, np.nan)

    return KindBlock(KIND, refs, baseline, power, SetpointMode.LIMIT, setpoint_kw)


def _curtailed_kw(blocks: _Blocks, z_value: FloatArray, n_r: int, n_t: int) -> FloatArray:
    out = np.zeros((n_r, n_t))
    for i, on in enumerate(np.round(z_value)):
        if on > 0.5:
            s = blocks.start[i]
            out[blocks.resource[i], s : s + blocks.length[i]] += blocks.step_kw[i]
    return out


def _add_power_balance(
    m: LinearModel,
    blocks: _Blocks,
    power: np.ndarray,
    z: np.ndarray,
    baseline: FloatArray,
    n_r: int,
    n_t: int,
) -> None:
    rows: list[np.ndarray] = [np.arange(n_r * n_t)]
    cols: list[np.ndarray] = [power.ravel()]
    vals: list[np.ndarray] = [np.ones(n_r * n_t)]
    for i in range(len(blocks)):
        r, s, length = blocks.resource[i], blocks.start[i], blocks.length[i]
        shed = np.arange(s, s + length)
        rows.append(r * n_t + shed)
        cols.append(np.full(length, z[i]))
        vals.append(np.full(length, blocks.step_kw[i]))
        back = np.arange(s + length, min(s + length + blocks.rebound_len[i], n_t))
        if blocks.rebound_kw[i] > 0 and back.size:
            rows.append(r * n_t + back)
            cols.append(np.full(back.size, z[i]))
            vals.append(np.full(back.size, -blocks.rebound_kw[i]))
    m.add_sparse_constraints(
        f"{KIND}.power_balance",
        n_r * n_t,
        (np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)),
        lower=baseline.ravel(),
        upper=baseline.ravel(),
    )


def _add_step_order(m: LinearModel, blocks: _Blocks, z: np.ndarray) -> None:
    """A step is shed only with the steps listed before it: z[c, k] <= z[c, k-1]."""
    later = [i for i in range(len(blocks)) if blocks.step[i] > 0]
    n = len(later)
    rows = np.repeat(np.arange(n), 2)
    cols = np.array([[z[i], z[i - 1]] for i in later], dtype=np.int64).ravel()
    vals = np.tile([1.0, -1.0], n)
    m.add_sparse_constraints(f"{KIND}.step_order", n, (rows, cols, vals), upper=0.0)


def _first_steps_by_load(blocks: _Blocks) -> dict[int, list[int]]:
    """Each load's blocks, by the index of their first step (which says the block is used)."""
    out: dict[int, list[int]] = {}
    for i in range(len(blocks)):
        if blocks.step[i] == 0:
            out.setdefault(blocks.resource[i], []).append(i)
    return out


def _add_rest_cliques(
    m: LinearModel,
    loads: list[CurtailableLoad],
    blocks: _Blocks,
    first_steps: dict[int, list[int]],
    z: np.ndarray,
    ctx: ModelContext,
) -> None:
    """At any interval, at most one block of a load is running or resting."""
    rows: list[int] = []
    cols: list[int] = []
    n_rows = 0
    for r, items in first_steps.items():
        if len(items) < 2:
            continue
        load = loads[r]
        # At least one interval apart: back-to-back blocks would be one longer curtailment.
        rest = max(1, math.ceil(load.min_rest_min / ctx.grid.interval_min))
        assert ctx.window.start is not None
        assert ctx.window.stop is not None
        for t in range(ctx.window.start, ctx.window.stop):
            live = [
                i for i in items if blocks.start[i] <= t < blocks.start[i] + blocks.length[i] + rest
            ]
            if len(live) > 1:
                rows += [n_rows] * len(live)
                cols += [int(z[i]) for i in live]
                n_rows += 1
    m.add_sparse_constraints(
        f"{KIND}.rest", n_rows, (np.array(rows), np.array(cols), np.ones(len(rows))), upper=1.0
    )


def _add_events_per_day(
    m: LinearModel,
    first_steps: dict[int, list[int]],
    z: np.ndarray,
    events_rows: list[tuple[int, int]],
) -> None:
    """A load takes at most the events it has left today."""
    rows: list[int] = []
    cols: list[int] = []
    upper: list[float] = []
    for row, (r, left) in enumerate(events_rows):
        members = [int(z[i]) for i in first_steps[r]]
        rows += [row] * len(members)
        cols += members
        upper.append(left)
    m.add_sparse_constraints(
        f"{KIND}.events_per_day",
        len(events_rows),
        (np.array(rows), np.array(cols), np.ones(len(rows))),
        upper=np.array(upper, dtype=np.float64),
    )


def check_curtailable_load(
    load: CurtailableLoad,
    schedule: ResourceSchedule,
    problem: DispatchProblem,
    result: DispatchResult,
) -> list[str]:
    """Sheds that are not a sum of its first steps, outside the window (but for a hold
    that carries one on past its end) or too long."""
    grid = result.grid
    setpoint = np.array([np.nan if v is None else v for v in schedule.setpoint_kw])
    return _curtailable(
        load,
        np.array(schedule.baseline_kw),
        setpoint,
        grid.slice_of(result.event.start, result.event.end),
        grid.interval_min,
    )


def _curtailable(
    load: CurtailableLoad, base: np.ndarray, setpoint: np.ndarray, window: slice, interval_min: int
) -> list[str]:
    out = []
    shed = np.where(np.isnan(setpoint), 0.0, base - setpoint)
    levels = np.concatenate([[0.0], np.cumsum([s.power_kw for s in load.steps])])
    on = shed > TOL_KW
    if np.any(setpoint[on] < -TOL_KW):
        out.append("limit below zero")
    off_level = [v for v in shed[on] if np.min(np.abs(levels - v)) > TOL_KW]
    if off_level:
        out.append(f"shed {off_level[0]:.3f} kW is not a sum of its first steps")
    outside = on.copy()
    outside[window] = False
    assert window.stop is not None
    held = window.stop
    while held < outside.size and outside[held] and on[held - 1]:
        outside[held] = False  # held past the window's end (a staggered release)
        held += 1
    if outside.any():
        out.append("curtailed outside the event window")
    longest = run = 0
    for flag in on:
        run = run + 1 if flag else 0
        longest = max(longest, run)
    if longest * interval_min > load.max_duration_min:
        out.append(f"curtailed {longest * interval_min} min, above max_duration_min")
    return out
