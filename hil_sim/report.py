"""What a simulated day leaves behind: report.json, CSV time series and PNG plots.

Delivery is what the controller measured against customer baselines (the figures a grid
operator would accept); the simulator's own truth goes into the time series beside it, so
an engineer can see how far measurement and truth drift apart.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from vpp.controller import EventOutcome
from vpp.controller.planning import plans_deviation_kw
from vpp.device_adapters.modbus import ModbusAdapter
from vpp.domain import ResourceSchedule, TimeGrid
from vpp.hil_sim.faults import FaultAssignment, StuckMeter
from vpp.hil_sim.runner import SimulationResult
from vpp.planning import AFTER_EVENT

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def write_report(
    result: SimulationResult, out_dir: Path, series: DaySeries | None = None
) -> list[Path]:
    """Write every file of the report (from the day's ``series``, worked out if not
    given); returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    series = series or day_series(result)
    paths = [
        _write_json(out_dir / "report.json", report_dict(result, series)),
        _write_intervals(out_dir / "event_intervals.csv", result.outcomes),
        _write_settlement(out_dir / "settlement.csv", result.outcomes),
        _write_series(out_dir / "timeseries.csv", series),
    ]
    paths.append(_save(plot_load(result, series), out_dir / "district_load.png"))
    paths.append(_save(plot_contributions(result, series), out_dir / "contributions.png"))
    paths.append(_save(plot_delivery(result.outcomes), out_dir / "event_delivery.png"))
    return paths


def report_dict(result: SimulationResult, series: DaySeries | None = None) -> dict[str, Any]:
    district = result.district
    runs = result.runs
    series = series or day_series(result)
    return {
        "scenario": result.scenario.name,
        "district_id": district.district_id,
        "day": result.scenario.day.isoformat(),
        "transport": result.transport,
        "district_peak_kw": district.peak_load_kw,
        "wall_s": round(result.wall_s, 3),
        "simulated_s": (result.end - result.start).total_seconds(),
        "speedup": round(result.speedup, 1),
        "events": [
            {
                "id": o.event_id,
                "kind": o.kind,
                "state": o.state,
                "start": o.start.isoformat(),
                "end": o.end.isoformat(),
                "target_kw": round(o.target_kw, 3),
                "target_pct_of_peak": round(100 * o.target_kw / district.peak_load_kw, 3),
                "performance_ratio": round(o.performance_ratio, 4),
                "min_delivered_kw": round(o.min_delivered_kw, 3),
                "met": o.met,
                "intervals": [
                    {
                        "start": i.start.isoformat(),
                        "target_kw": round(i.target_kw, 3),
                        "baseline_kw": round(i.baseline_kw, 3),
                        "actual_kw": round(i.actual_kw, 3),
                        "delivered_kw": round(i.delivered_kw, 3),
                        "planned_kw": round(i.planned_kw, 3),
                        "missing_meters": i.missing_meters,
                    }
                    for i in o.intervals
                ],
                "lifecycle": [
                    {"at": c.at.isoformat(), "state": c.state.value, "note": c.note}
                    for c in runs[o.event_id].lifecycle.history
                ],
                "redispatch": [
                    {
                        "at": r.at.isoformat(),
                        "reason": r.reason,
                        "from": r.first_interval.isoformat(),
                        "dropped": list(r.dropped),
                        "added": list(r.added),
                        "residual_kw": round(r.residual_kw, 3),
                        "rebound_excess_kw": round(r.rebound_excess_kw, 3),
                        "solver": r.status,
                    }
                    for r in runs[o.event_id].replans
                ],
                "settlement": o.settlement.model_dump(mode="json"),
                "refused_samples": dict(sorted(o.refused_samples.items())),
            }
            for o in result.outcomes
        ],
        "rebound": rebound_summary(result, series),
        "faults_injected": [
            f"{a.target}: {a.fault.describe()}{_not_played(result, a)}"
            for a in result.fault_plan.assignments
        ]
        + [o.describe() for o in result.fault_plan.broker_outages],
        "faults_seen": [
            {"at": f.at.isoformat(), "event_id": f.event_id, "resource": f.key, "reason": f.reason}
            for f in result.faults_seen
        ],
        "messages": {
            "controller": {
                "received": result.adapter_stats.received,
                "malformed": result.adapter_stats.malformed,
                "refused": dict(sorted(result.refused.items())),
                "sent": result.adapter_stats.sent,
                "resent": result.adapter_stats.resent,
                "duplicate_acks": result.adapter_stats.duplicate_acks,
                "reconnects": result.adapter_stats.reconnects,
            },
            "gateways": result.gateway_totals(),
            "settle_timeouts": result.settle_timeouts,
            "clock_held_ticks": len(result.clock_holds),
            "by_protocol": by_protocol(result),
        },
        # wall clock: the machine's pace, never compared between runs
        "round_trip_ms": round_trips_ms(result),
    }


def by_protocol(result: SimulationResult) -> dict[str, dict[str, Any]]:
    """Messages per protocol in use: what the controller's adapter for it sent and received,
    and that protocol's own counts (MQTT: the gateways; OCPP: calls each way; Modbus: polls,
    reads and writes, and what the devices took)."""
    router = result.router
    if router is None:
        return {}
    resources = Counter(ref.protocol for ref in result.district.resources())
    out: dict[str, dict[str, Any]] = {}
    for name, adapter in sorted(router.adapters.items()):
        stats = adapter.stats
        received = stats.received
        entry: dict[str, Any] = {
            "resources": resources.get(name, 0),
            "setpoints": stats.sent,
            "acks": received.get("ack", 0),
            # readings: MQTT telemetry, Modbus polls that read true, OCPP MeterValues
            "telemetry": received.get("telemetry", 0) + received.get("meter_values", 0),
            "received": dict(sorted(received.items())),
            "malformed": dict(sorted(stats.malformed.items())),
        }
        if name == "mqtt":
            entry["gateways"] = result.gateway_totals()
        elif name == "ocpp" and result.ocpp is not None:
            summary = result.ocpp.summary()
            summary.pop("round_trip_ms")
            entry.update(summary)
        elif isinstance(adapter, ModbusAdapter):
            counts = adapter.counts
            entry.update(
                {
                    "polls": counts.polls,
                    "reads": counts.reads,
                    "writes": counts.writes,
                    "refused": dict(sorted(counts.refused.items())),
                }
            )
            if result.modbus is not None:
                entry["devices"] = result.modbus.summary()
        out[name] = entry
    return out


def round_trips_ms(result: SimulationResult) -> dict[str, Any]:
    """Setpoint to first answer per protocol [ms, wall clock]: median, p95, max; and the
    OCPP calls' own round trips. They measure the machine, so two runs differ here."""
    out: dict[str, Any] = {}
    if result.round_trips is not None:
        out["setpoint_to_ack"] = result.round_trips.summary_ms()
    if result.ocpp is not None:
        out["ocpp_call"] = result.ocpp.summary()["round_trip_ms"]["call"]
    return out


def _not_played(result: SimulationResult, assignment: FaultAssignment) -> str:
    """A note on a resource's fault that its protocol's simulated device does not play (a
    Modbus device plays a stuck meter only; an OCPP pool none of them)."""
    if assignment.resource_id is None:
        return ""
    key = f"{assignment.site_id}/{assignment.resource_id}"
    name = next((r.protocol for r in result.district.resources() if r.key == key), "mqtt")
    if name == "mqtt" or (name == "modbus" and isinstance(assignment.fault, StuckMeter)):
        return ""
    return f" (not played: the resource is on {name})"


# -- rebound ---------------------------------------------------------------------------


def rebound_cap_kw(result: SimulationResult) -> float | None:
    """The rebound cap the day's first plan held [kW]; None when there was none."""
    for run in result.runs.values():
        if run.initial is not None:
            return run.initial.rebound_cap_kw
    return None


def rebound_summary(result: SimulationResult, series: DaySeries) -> dict[str, Any]:
    """The measured load after each event against the cap and the baseline peak [kW].

    Each event's first plan says how far above its limit it expected to go
    (``planned_max_excess_kw``: energy that had to come back and did not fit), and its
    plans as they stood at the end of the day, re-plans and hand-overs included
    (``final_plans_max_excess_kw``: the portfolio's planned load above the cap, all
    events' plans together, in the event's post-event span); ``planned_post_event_peak_kw``
    is the day's planned load at its highest after the events, so a measured peak above it
    is the field's. The measured peak is the meters' (what an operator sees: a stuck meter
    repeats its last reading); ``true_post_event_peak_kw`` is the devices' own load, which
    only a simulation knows, and the one the grid feels.
    An event's post-event span runs from its end for as long as the dispatch plans its
    recovery (``AFTER_EVENT``), or to the next event's start if sooner, so it holds the
    recovery and any charging before the next event. ``at_peak_by_kind`` splits the load
    above the baselines at that peak by resource kind, planned and measured, and
    ``at_peak_by_event`` the planned part by the event whose plan adds it (a later event's
    charging before its window lands in an earlier event's span).
    """
    grid = series.grid
    measured = series.total(series.measured_kw)
    baseline = series.total(series.baseline_kw)
    cap = rebound_cap_kw(result)
    windows = [grid.slice_of(e.start, e.end) for e in sorted(result.events, key=lambda e: e.start)]
    planned = planned_deviation_kw(result, grid)
    by_event = planned_deviation_kw(result, grid, by="event")
    planned_load = planned_load_kw(result, series, planned)
    after = np.zeros(grid.count, dtype=bool)
    events = []
    for i, window in enumerate(windows):
        stop = min(
            windows[i + 1].start if i + 1 < len(windows) else grid.count,
            window.stop + round(AFTER_EVENT / grid.interval),
        )
        span = np.arange(window.stop, max(window.stop, stop))
        after[span] = True
        peak_t = int(span[np.argmax(measured[span])]) if span.size else None
        event_id = sorted(result.events, key=lambda e: e.start)[i].event_id
        plan = result.runs[event_id].initial if event_id in result.runs else None
        final_excess = (
            None
            if cap is None or not span.size
            else round(max(0.0, float(np.nanmax(planned_load[span])) - cap), 3)
        )
        events.append(
            {
                "id": event_id,
                "planned_max_excess_kw": None
                if plan is None
                else round(plan.max_rebound_excess_kw, 3),
                "final_plans_max_excess_kw": final_excess,
                "post_event_peak_kw": None if peak_t is None else round(float(measured[peak_t]), 3),
                "post_event_peak_at": None if peak_t is None else grid.starts[peak_t].isoformat(),
                "at_peak_by_kind": None if peak_t is None else by_kind_at(planned, series, peak_t),
                "at_peak_by_event": None
                if peak_t is None
                else {k: round(float(v[peak_t]), 3) for k, v in by_event.items()},
            }
        )
    peak_t = int(np.flatnonzero(after)[np.argmax(measured[after])]) if after.any() else None
    true = series.total(series.true_kw)
    true_t = int(np.flatnonzero(after)[np.argmax(true[after])]) if after.any() else None
    return {
        "cap_kw": None if cap is None else round(cap, 3),
        "baseline_peak_kw": round(float(np.nanmax(baseline, initial=0.0)), 3),
        "post_event_peak_kw": None if peak_t is None else round(float(measured[peak_t]), 3),
        "post_event_peak_at": None if peak_t is None else grid.starts[peak_t].isoformat(),
        "true_post_event_peak_kw": None if true_t is None else round(float(true[true_t]), 3),
        "true_post_event_peak_at": None if true_t is None else grid.starts[true_t].isoformat(),
        "true_intervals_above_cap": 0 if cap is None else int((true[after] > cap).sum()),
        "planned_post_event_peak_kw": None
        if not after.any()
        else round(float(np.nanmax(planned_load[after])), 3),
        "intervals_above_cap": 0 if cap is None else int((measured[after] > cap).sum()),
        "events": events,
    }


def planned_deviation_kw(
    result: SimulationResult, grid: TimeGrid, by: Literal["kind", "event"] = "kind"
) -> dict[str, FloatArray]:
    """Load the controller's final plans add above the baselines, per kind (or per event)
    on ``grid`` [kW]: every event's schedules as last re-planned, a curtailed load's
    rebound included."""
    runs = {event_id: run for event_id, run in result.runs.items() if run.problem is not None}
    if by == "event":
        return {
            event_id: plans_deviation_kw([(run.grid, run.schedules)], grid)
            for event_id, run in runs.items()
        }
    plans = [(run.grid, run.schedules) for run in runs.values()]
    kinds = {s.kind for run in runs.values() for s in run.schedules.values()}
    return {kind: plans_deviation_kw(plans, grid, _of_kind(kind)) for kind in kinds}


def _of_kind(kind: str) -> Callable[[ResourceSchedule], bool]:
    return lambda schedule: schedule.kind == kind


def planned_load_kw(
    result: SimulationResult,
    series: DaySeries,
    planned: dict[str, FloatArray] | None = None,
) -> FloatArray:
    """The portfolio's load as the final plans meant it [kW]: its baseline plus what every
    event's plan adds (:func:`planned_deviation_kw`, given or worked out)."""
    if planned is None:
        planned = planned_deviation_kw(result, series.grid)
    total: FloatArray = series.total(series.baseline_kw) + sum(
        planned.values(), np.zeros(series.grid.count)
    )
    return total


def by_kind_at(
    planned: dict[str, FloatArray], series: DaySeries, t: int
) -> dict[str, dict[str, float]]:
    """Per kind, the load above its baseline in interval ``t`` [kW]: as the plans meant it
    and as measured, so a peak above the cap is traced to the plan or to the field."""
    out = {}
    for kind in series.kinds:
        base = series.baseline_kw[kind][t]
        measured = series.measured_kw[kind][t] - (0.0 if np.isnan(base) else base)
        plan = planned.get(kind)
        out[kind] = {
            "planned_kw": round(0.0 if plan is None else float(plan[t]), 3),
            "measured_kw": round(float(measured), 3),
        }
    return out


# -- time series over the day ---------------------------------------------------------


class DaySeries:
    """Per-interval totals by resource kind over the simulated day [kW]."""

    def __init__(self, grid: TimeGrid, kinds: Sequence[str]) -> None:
        self.grid = grid
        self.kinds = list(kinds)
        n = grid.count
        self.measured_kw = {k: np.zeros(n) for k in kinds}
        self.baseline_kw = {k: np.full(n, np.nan) for k in kinds}
        self.true_kw = {k: np.zeros(n) for k in kinds}
        self.counterfactual_kw = {k: np.zeros(n) for k in kinds}
        self.target_load_kw = np.full(n, np.nan)  # baseline minus target, in event windows

    def total(self, table: dict[str, FloatArray]) -> FloatArray:
        out: FloatArray = np.sum([table[k] for k in self.kinds], axis=0)
        return out


def day_series(result: SimulationResult) -> DaySeries:
    district = result.district
    grid = TimeGrid.for_day(result.scenario.day, district.tz)
    refs = {ref.key: ref for ref in district.resources()}
    kinds = sorted({ref.resource.kind for ref in refs.values()})
    series = DaySeries(grid, kinds)
    for key, ref in refs.items():
        kind = ref.resource.kind
        trace = result.trace(ref.site.site_id, ref.resource.resource_id)
        ts = np.array([t.timestamp() for t in trace.ts])
        baseline = result.baselines_kw.get(key)
        arrays = trace.arrays()
        for t, start in enumerate(grid.starts):
            lo, hi = start.timestamp(), (start + grid.interval).timestamp()
            inside = (ts > lo) & (ts <= hi)
            if not np.any(inside):
                continue
            series.true_kw[kind][t] += float(arrays["power_kw"][inside].mean())
            cf = arrays["counterfactual_kw"][inside]
            series.counterfactual_kw[kind][t] += (
                float(np.nanmean(cf)) if np.any(~np.isnan(cf)) else 0
            )
            measured = result.monitor.mean_kw(key, start)
            if measured is None and baseline is not None:
                measured = baseline[t]  # no telemetry: no evidence of any change (M&V)
            if measured is not None:
                series.measured_kw[kind][t] += measured
        if baseline is not None:
            values = np.asarray(baseline[: grid.count], dtype=float)
            current = series.baseline_kw[kind]
            series.baseline_kw[kind] = np.where(np.isnan(current), 0.0, current) + values
    for outcome in result.outcomes:
        for interval in outcome.intervals:
            t = grid.index_of(interval.start)
            base = series.total(series.baseline_kw)[t]
            series.target_load_kw[t] = base - outcome.target_kw
    return series


def _write_series(path: Path, series: DaySeries) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        header = ["start", "baseline_kw", "measured_kw", "true_kw", "true_baseline_kw"]
        header += ["target_load_kw"]
        header += [f"{k}_{q}" for k in series.kinds for q in ("baseline_kw", "measured_kw")]
        writer.writerow(header)
        totals = [
            series.total(series.baseline_kw),
            series.total(series.measured_kw),
            series.total(series.true_kw),
            series.total(series.counterfactual_kw),
            series.target_load_kw,
        ]
        for t, start in enumerate(series.grid.starts):
            row: list[object] = [start.isoformat()]
            row += [_fmt(values[t]) for values in totals]
            for kind in series.kinds:
                row += [_fmt(series.baseline_kw[kind][t]), _fmt(series.measured_kw[kind][t])]
            writer.writerow(row)
    return path


def _write_intervals(path: Path, outcomes: list[EventOutcome]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                *("event_id", "start", "target_kw", "planned_kw", "baseline_kw", "actual_kw"),
                *("delivered_kw", "met", "missing_meters"),
            ]
        )
        for o in outcomes:
            for i in o.intervals:
                writer.writerow(
                    [
                        *(o.event_id, i.start.isoformat(), _fmt(i.target_kw), _fmt(i.planned_kw)),
                        *(_fmt(i.baseline_kw), _fmt(i.actual_kw), _fmt(i.delivered_kw)),
                        *(i.met, i.missing_meters),
                    ]
                )
    return path


def _write_settlement(path: Path, outcomes: list[EventOutcome]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                *("event_id", "enterprise_id", "asked_kwh", "delivered_kwh", "performance_ratio"),
                *("effective", "credited_kwh", "price_cny_per_kwh", "payment_cny", "penalty_cny"),
                *("refused_samples", "unasked_kwh", "asked_intervals", "status", "note"),
            ]
        )
        for o in outcomes:
            # enterprises asked something, then those asked nothing ("unasked response")
            for e in (*o.settlement.enterprises, *o.settlement.unasked):
                ratio = "" if e.performance_ratio is None else f"{e.performance_ratio:.4f}"
                writer.writerow(
                    [
                        *(o.event_id, e.enterprise_id, _fmt(e.asked_kwh), _fmt(e.delivered_kwh)),
                        *(ratio, e.effective, _fmt(e.credited_kwh), _fmt(e.price_cny_per_kwh)),
                        *(_fmt(e.payment_cny), _fmt(e.penalty_cny)),
                        *(e.refused_samples, _fmt(e.unasked_kwh), e.asked_intervals),
                        *("unasked" if e.unasked_response else "settled", e.note),
                    ]
                )
    return path


def _write_json(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _fmt(value: float) -> str:
    return "" if np.isnan(value) else f"{value:.3f}"


# -- plots ----------------------------------------------------------------------------


def _hour(ts: datetime, day_start: datetime) -> float:
    """Hours after local midnight of the simulated day (exact on clock-change days)."""
    return (ts - day_start).total_seconds() / 3600.0


def _hours(grid: TimeGrid) -> FloatArray:
    return np.array([_hour(s, grid.start) + grid.dt_h / 2 for s in grid.starts])


def _shade_events(ax: Any, result: SimulationResult) -> None:
    for event in result.events:
        start, end = _hour(event.start, result.start), _hour(event.end, result.start)
        ax.axvspan(start, end, color="tab:orange", alpha=0.12, lw=0)


def _hour_axis(ax: Any) -> None:
    ax.set_xlim(0, 24)
    ax.set_xticks(range(0, 25, 2))
    ax.set_xlabel("hour of day (local)")


def plot_load(result: SimulationResult, series: DaySeries) -> Figure:
    """The portfolio's measured load against its baseline and its plans (the field's error
    is the gap between those two), the devices' true load (where a faulty meter lies), in
    events the target, and the rebound cap that holds outside them."""
    fig, ax = plt.subplots(figsize=(11, 4.5))
    x = _hours(series.grid)
    ax.plot(x, series.total(series.baseline_kw) / 1000, label="baseline (CBL)", color="0.45")
    ax.plot(
        x, planned_load_kw(result, series) / 1000, label="planned", color="tab:green", lw=1, ls=":"
    )
    ax.plot(x, series.total(series.measured_kw) / 1000, label="measured", color="tab:blue")
    true_kw = series.total(series.true_kw)
    ax.plot(x, true_kw / 1000, label="true (devices)", color="tab:cyan", lw=0.8, ls="--")
    ax.plot(x, series.target_load_kw / 1000, label="baseline - target", color="tab:red", lw=2)
    cap = rebound_cap_kw(result)
    if cap is not None:
        ax.axhline(cap / 1000, color="tab:purple", ls="--", lw=1.2, label="rebound cap")
    _shade_events(ax, result)
    ax.set_ylabel("VPP portfolio load [MW]")
    ax.set_title(f"{result.district.name}: {result.scenario.day} ({result.transport})")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    _hour_axis(ax)
    fig.tight_layout()
    return fig


def plot_contributions(result: SimulationResult, series: DaySeries) -> Figure:
    """Measured response (baseline minus measured load) stacked by resource kind."""
    fig, ax = plt.subplots(figsize=(11, 4.5))
    x = _hours(series.grid)
    width = series.grid.dt_h * 0.9
    bottom_pos = np.zeros(series.grid.count)
    bottom_neg = np.zeros(series.grid.count)
    for kind in series.kinds:
        base = np.nan_to_num(series.baseline_kw[kind])
        response = (base - series.measured_kw[kind]) / 1000
        response[np.isnan(series.baseline_kw[kind])] = 0.0
        pos, neg = np.clip(response, 0, None), np.clip(response, None, 0)
        ax.bar(x, pos, width=width, bottom=bottom_pos, label=kind)
        ax.bar(x, neg, width=width, bottom=bottom_neg, color=ax.patches[-1].get_facecolor())
        bottom_pos += pos
        bottom_neg += neg
    for outcome in result.outcomes:
        starts = [_hour(i.start, result.start) for i in outcome.intervals]
        ax.step(
            [*starts, starts[-1] + series.grid.dt_h],
            [outcome.target_kw / 1000] * (len(starts) + 1),
            where="post",
            color="tab:red",
            lw=2,
        )
    _shade_events(ax, result)
    ax.set_ylabel("response against baseline [MW]")
    ax.set_title("Contributions by resource kind (red: event target)")
    ax.legend(loc="upper left", ncol=3, fontsize="small")
    ax.grid(alpha=0.3)
    _hour_axis(ax)
    fig.tight_layout()
    return fig


def plot_delivery(outcomes: list[EventOutcome]) -> Figure:
    """Per event: delivered vs target in each interval."""
    n = max(1, len(outcomes))
    fig, axes = plt.subplots(1, n, figsize=(5.5 * n, 4), squeeze=False)
    for ax, outcome in zip(axes[0], outcomes, strict=False):
        labels = [i.start.strftime("%H:%M") for i in outcome.intervals]
        delivered = [i.delivered_kw / 1000 for i in outcome.intervals]
        colors = ["tab:green" if i.met else "tab:red" for i in outcome.intervals]
        ax.bar(labels, delivered, color=colors)
        ax.axhline(outcome.target_kw / 1000, color="black", lw=1.5, ls="--", label="target")
        ax.set_title(f"{outcome.event_id}: ratio {outcome.performance_ratio:.2f}")
        ax.set_ylabel("delivered [MW]")
        ax.tick_params(axis="x", rotation=60)
        ax.legend(loc="lower right")
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
