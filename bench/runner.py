"""Run the suites, print the tables, write ``bench/results.json`` and the scaling plot."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.dispatch_suite import (
    FULL_CASES,
    QUICK_CASES,
    Case,
    Emitter,
    Measured,
    decomposition_available,
    run_case,
)
from bench.redispatch_suite import Redispatch, run_redispatch
from bench.simulator_suite import SimulatorSpeed, run_simulator
from bench.telemetry_suite import TelemetryRate, run_telemetry

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "bench" / "results.json"


@dataclass(frozen=True)
class Plan:
    """What one run of the benchmark measures."""

    cases: tuple[Case, ...]
    redispatch_resources: int
    redispatch_repeats: int
    telemetry_messages: int
    telemetry_resources: int
    simulator_devices: tuple[int, ...]
    simulator_budget_s: float


FULL = Plan(FULL_CASES, 1_000, 3, 100_000, 1_000, (1_000, 10_000), 60.0)
QUICK = Plan(QUICK_CASES, 30, 1, 2_000, 50, (30,), 2.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a harness smoke test")
    parser.add_argument("--out", type=Path, default=None, help="results file (JSON)")
    parser.add_argument("--plot", type=Path, default=None, help="log-log scaling plot (PNG)")
    parser.add_argument(
        "--only",
        choices=("dispatch", "redispatch", "telemetry", "simulator"),
        action="append",
        help="run only these suites (repeatable)",
    )
    parser.add_argument(
        "--case",
        action="append",
        metavar="RxT",
        help="only these dispatch cases, e.g. 1000x16 (repeatable; the others keep their "
        "figures in the results file)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help='go on with a run that stopped part-way (its results file says "complete": '
        "false): the steps it finished keep their figures and are not run again",
    )
    args = parser.parse_args(argv)
    if args.resume and (args.only or args.case):
        parser.error("--resume goes on with the stopped run as it was: no --only or --case")
    plan = QUICK if args.quick else FULL
    if args.case:
        wanted = {c.replace(",", "").lower() for c in args.case}
        cases = tuple(c for c in plan.cases if f"{c.n_resources}x{c.n_intervals}" in wanted)
        plan = replace(plan, cases=cases)
    out = args.out or (DEFAULT_OUT if not args.quick else ROOT / "out" / "bench-quick.json")
    console = Console(width=None if sys.stdout.isatty() else 160)
    # A partial run updates its suites in the results file and keeps the others: read them
    # before the run, whose checkpoints rewrite the file.
    kept = json.loads(out.read_text()) if args.only and out.exists() else None
    mode = "quick" if args.quick else "full"
    stopped = None
    if args.resume:
        stopped = json.loads(out.read_text()) if out.exists() else None
        if stopped is None or stopped.get("complete") is not False or stopped["mode"] != mode:
            parser.error(f"--resume: {out} holds no stopped {mode} run")

    def save(results: dict[str, Any], complete: bool) -> dict[str, Any]:
        merged = _merged({**results, "mode": mode, "complete": complete}, kept, args)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(merged, indent=2) + "\n")
        return merged

    checkpoint = partial(save, complete=False)
    results = save(run(plan, set(args.only or ()), console, checkpoint, stopped), True)
    print_tables(results, console)
    if args.plot is not None and results["dispatch"]:
        from bench.plots import scaling_plot

        scaling_plot(results["dispatch"], args.plot)
        console.print(f"plot: {args.plot}")
    console.print(f"results: {out}")
    return 0


def _merged(
    results: dict[str, Any], kept: dict[str, Any] | None, args: argparse.Namespace
) -> dict[str, Any]:
    """The results of a partial run (``--only``, ``--case``) with the other suites' and
    cases' figures ``kept`` from the results file."""
    if kept is None or not args.only:
        return results
    out = dict(results)
    suites = {"dispatch", "redispatch", "telemetry", "simulator"} - set(args.only)
    out.update({name: kept.get(name) for name in suites})
    out["partial_runs"] = [*kept.get("partial_runs", []), sorted(args.only)]
    if args.case and "dispatch" in args.only:
        ran = {row["case"] for row in results["dispatch"]}
        others = [row for row in kept.get("dispatch") or [] if row["case"] not in ran]
        out["dispatch"] = others + results["dispatch"]
    return out


def run(
    plan: Plan,
    only: set[str],
    console: Console,
    checkpoint: Callable[[dict[str, Any]], object] | None = None,
    stopped: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Every suite of the plan (or those in ``only``), with a progress bar; after each step
    the figures so far go to ``checkpoint``, so a run stopped part-way (the full suite takes
    over an hour on 2 cores) keeps what it measured, and goes on from ``stopped`` (such a
    run's figures: the steps in its ``steps_done`` are not run again)."""
    wanted = only or {"dispatch", "redispatch", "telemetry", "simulator"}
    steps: list[tuple[str, Any]] = []
    if "dispatch" in wanted:
        for case in plan.cases:
            emitters: list[Emitter] = ["ours", "reference"]
            if case.pooled:
                emitters.insert(1, "pooled")
            if case.lp_first:
                emitters.insert(1, "lp-first")
            if case.decomposed and decomposition_available():
                emitters.append("decomposed")
            steps += [(f"dispatch {case.label} {e}", (case, e)) for e in emitters]
    if "redispatch" in wanted:
        steps.append((f"re-dispatch {plan.redispatch_resources:,}", None))
    if "telemetry" in wanted:
        steps.append((f"telemetry {plan.telemetry_messages:,} messages", None))
    if "simulator" in wanted:
        steps += [(f"simulator {n:,} devices", n) for n in plan.simulator_devices]
    results: dict[str, Any] = {
        "machine": machine_info(),
        "load_at_start": list(os.getloadavg()),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "dispatch": [],
        "redispatch": None,
        "telemetry": None,
        "simulator": [],
        "steps_done": [],
    }
    if stopped is not None:
        kept = ("dispatch", "redispatch", "telemetry", "simulator", "steps_done", "started_at")
        results |= {k: stopped[k] for k in kept if k in stopped}
        results["resumed_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    done = set(results["steps_done"])
    started = time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("benchmark", total=len(steps))
        for name, arg in steps:
            progress.update(task, description=name)
            if name in done:
                progress.advance(task)
                continue
            try:
                _run_step(name, arg, plan, results)
                results["steps_done"].append(name)  # a failed step runs again on --resume
            except Exception as exc:  # one failed suite must not lose the others' figures
                console.print(f"[red]{name} failed: {exc!r}")
                results.setdefault("errors", []).append(f"{name}: {exc!r}")
            progress.advance(task)
            if checkpoint is not None:
                checkpoint({**results, "stopped_after": name})
        progress.update(task, description="benchmark done")
    results["wall_s"] = time.perf_counter() - started
    results["load_at_end"] = list(os.getloadavg())
    return results


def _run_step(name: str, arg: Any, plan: Plan, results: dict[str, Any]) -> None:
    """One suite step; its figures go into ``results``."""
    if name.startswith("dispatch"):
        case, emitter = arg
        results["dispatch"].append(asdict(run_case(case, emitter)))
    elif name.startswith("re-dispatch"):
        redo = run_redispatch(plan.redispatch_resources, plan.redispatch_repeats)
        results["redispatch"] = asdict(redo)
    elif name.startswith("telemetry"):
        rate = run_telemetry(plan.telemetry_messages, plan.telemetry_resources)
        results["telemetry"] = asdict(rate)
    else:
        results["simulator"].append(asdict(run_simulator(arg, plan.simulator_budget_s)))


def machine_info() -> dict[str, Any]:
    import numpy
    import scipy

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True
            ).stdout.strip()
        )
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = "unknown", False
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory_gib = round(pages / 2**30, 1)
    except (ValueError, OSError):
        pass
    return {
        "git_commit": commit,
        "git_dirty": dirty,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gib": memory_gib,
        "highspy": importlib.metadata.version("highspy"),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
    }


def _f(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _gap(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def print_tables(results: dict[str, Any], console: Console) -> None:
    if results["dispatch"]:
        console.print(dispatch_table(results["dispatch"]))
    if results["dispatch"]:
        console.print(goals_table(results["dispatch"], results["machine"].get("cpus")))
    if results["redispatch"]:
        console.print(redispatch_table(Redispatch(**results["redispatch"])))
    if results["telemetry"]:
        console.print(telemetry_table(TelemetryRate(**results["telemetry"])))
    if results["simulator"]:
        console.print(simulator_table([_simulator_speed(s) for s in results["simulator"]]))


def _simulator_speed(row: dict[str, Any]) -> SimulatorSpeed:
    load = row.get("load_1min")
    return SimulatorSpeed(**{**row, "load_1min": None if load is None else tuple(load)})


def dispatch_table(rows: list[dict[str, Any]]) -> Table:
    """One row per case and emitter; the ratio is our build + translation over the reference's."""
    table = Table(title="Dispatch (median of runs; seconds, MB, CNY)")
    for name in (
        "case",
        "emitter",
        "runs",
        "build",
        "translate",
        "solve",
        "total",
        "peak MB",
        "objective",
        "gap",
        "status",
        "build ratio",
        "cost vs mono",
        "load",
    ):
        table.add_column(name, justify="left" if name in ("case", "emitter", "status") else "right")
    measured = [Measured(**r) for r in rows]
    by_case: dict[str, dict[str, Measured]] = {}
    for m in measured:
        by_case.setdefault(m.case, {})[m.emitter] = m
    for m in measured:
        ref = by_case[m.case].get("reference")
        mono = by_case[m.case].get("ours")
        ratio = build_ratio(m, ref) if m.emitter == "ours" else None
        vs_mono = None
        if m.emitter == "decomposed" and mono is not None:
            vs_mono = cost_gap(m, mono)
        table.add_row(
            m.case,
            m.emitter,
            str(m.runs),
            _f(m.build_s),
            _f(m.translate_s, 3),
            _f(m.solve_s),
            _f(m.total_s),
            _f(m.peak_rss_mb, 0),
            _f(m.objective_cny, 0),
            _gap(m.gap),
            m.status,
            "-" if ratio is None else f"{ratio:.2f}x",
            "-" if vs_mono is None else f"{100 * vs_mono:+.2f}%",
            _f(m.load_before, 1),
        )
    return table


@dataclass(frozen=True)
class Goal:
    """A dispatch figure the issue asks for: total seconds at most, proven gap at most."""

    case: str
    emitter: str
    total_s: float
    gap: float = 0.005


#: Issue 16's dispatch goals on the 2-core machine.
GOALS = (
    Goal("1,000 x 16", "ours", 1.0),
    Goal("1,000 x 96", "ours", 5.0),
    Goal("10,000 x 16", "decomposed", 10.0),
)


def goal_rows(rows: list[dict[str, Any]]) -> list[tuple[Goal, Measured | None, bool | None]]:
    """Each goal with its measurement and whether it is met (None: not measured)."""
    measured = {(r["case"], r["emitter"]): Measured(**r) for r in rows}
    out: list[tuple[Goal, Measured | None, bool | None]] = []
    for goal in GOALS:
        m = measured.get((goal.case, goal.emitter))
        met = None
        if m is not None:
            met = (
                m.total_s is not None
                and m.total_s <= goal.total_s
                and m.gap is not None
                and m.gap <= goal.gap + 1e-9
                and m.status == "optimal"
            )
        out.append((goal, m, met))
    return out


def goals_table(rows: list[dict[str, Any]], cpus: int | None) -> Table:
    """Each goal against its figure, with the machine's load while it was measured."""
    table = Table(title=f"Goals (issue 16; load is the 1-minute average on {cpus} CPUs)")
    for name in ("case", "emitter", "goal", "total s", "gap", "status", "load", ""):
        table.add_column(name, justify="left" if name in ("case", "emitter", "") else "right")
    for goal, m, met in goal_rows(rows):
        goal_text = f"<= {goal.total_s:g} s, gap <= {100 * goal.gap:.1f} %"
        if m is None:
            table.add_row(goal.case, goal.emitter, goal_text, "-", "-", "-", "-", "not run")
            continue
        load = f"{_f(m.load_before, 1)}-{_f(m.load_after, 1)}"
        verdict = "met" if met else f"missed ({_f(m.total_s)} s vs {goal.total_s:g} s)"
        table.add_row(
            goal.case,
            goal.emitter,
            goal_text,
            _f(m.total_s),
            _gap(m.gap),
            m.status,
            load,
            verdict,
        )
    return table


def build_ratio(ours: Measured, ref: Measured | None) -> float | None:
    """(our build + translation) / (reference build + translation)."""
    if ref is None or ours.build_s is None or ref.build_s is None:
        return None
    denominator = (ref.build_s or 0.0) + (ref.translate_s or 0.0)
    numerator = (ours.build_s or 0.0) + (ours.translate_s or 0.0)
    return numerator / denominator if denominator > 0 else None


def cost_gap(decomposed: Measured, mono: Measured) -> float | None:
    """Relative cost of the decomposed dispatch over the monolithic one's lower bound."""
    if decomposed.objective_cny is None or mono.objective_cny is None:
        return None
    if mono.status not in ("optimal", "feasible"):
        return None  # a fallback or failure is no optimum to compare with
    bound = mono.objective_cny * (1.0 - (mono.gap or 0.0))
    return (decomposed.objective_cny - bound) / abs(bound) if bound else None


def redispatch_table(r: Redispatch) -> Table:
    table = Table(title="Re-dispatch (target +10 % a quarter into the event; seconds)")
    names = ("case", "first plan", "re-plan", "candidates", "residual kW", "status", "full re-plan")
    for name in names:
        table.add_column(name, justify="right")
    table.add_row(
        r.case,
        _f(r.first_plan_s),
        _f(r.replan_s),
        str(r.candidates),
        _f(r.residual_kw, 0),
        f"{r.status}{'' if r.meets_residual else ' (short)'}",
        f"{_f(r.full_replan_s)} {r.full_status}{'' if r.full_meets_target else ' (short)'}",
    )
    return table


def telemetry_table(t: TelemetryRate) -> Table:
    load = " -> ".join(f"{x:.1f}" for x in t.load_1min) or "-"
    table = Table(
        title=f"Telemetry ingestion through Mosquitto ({t.n_messages:,} messages, "
        f"{t.n_resources:,} resources; {t.cpus} cores, load {load}; goal "
        f"{t.goal_per_s:,.0f}/s)"
    )
    for name in ("receiver", "received", "ingested", "messages/s", "CPU µs/message", "goal"):
        table.add_column(name, justify="right")
    table.add_row(
        "before issue 16",
        "",
        "",
        _f(t.before_ingest_per_s, 0),
        _f(t.before_cpu_us, 1),
        "",
    )

    def verdict(per_s: float) -> str:
        return "met" if per_s >= t.goal_per_s else f"missed by {1 - per_s / t.goal_per_s:.0%}"

    table.add_row(
        "one process",
        f"{t.received:,}",
        f"{t.ingested:,}",
        _f(t.ingest_per_s, 0),
        _f(t.cpu_us, 1),
        verdict(t.ingest_per_s),
    )
    if t.n_workers:
        table.add_row(
            f"{t.n_workers} worker processes",
            f"{t.workers_received:,}",
            f"{t.workers_ingested:,}",
            _f(t.workers_ingest_per_s, 0),
            _f(t.workers_cpu_us, 1),
            verdict(t.workers_ingest_per_s),
        )
    table.add_row(
        "in-process decode + ingest (before / now)",
        "",
        "",
        f"{_f(t.before_decode_ingest_per_s, 0)} / {_f(t.decode_ingest_per_s, 0)}",
        "",
        "",
    )
    return table


def simulator_table(rows: list[SimulatorSpeed]) -> Table:
    """One row per size, against its goal, with the machine's load while it ran (the speed
    on a core of its own, simulated s per CPU s, says what a shared machine hid)."""
    table = Table(title="Simulator speed (embedded broker, no events)")
    names = ("devices", "sites", "simulated s", "wall s", "x real time", "x per CPU s")
    for name in (*names, "set-up s", "peak MB", "load (1 min)", "goal", "met"):
        table.add_column(name, justify="right")
    for s in rows:
        goal, met = s.goal, s.meets_goal()
        table.add_row(
            f"{s.n_devices:,}",
            f"{s.n_sites:,}",
            _f(s.simulated_s, 0),
            _f(s.wall_s, 1),
            _f(s.speedup, 1),
            _f(s.simulated_s / s.cpu_s, 1) if s.cpu_s else "-",
            _f(s.setup_s, 1) + ("" if s.setup_cpu_s is None else f" ({s.setup_cpu_s:.1f} CPU)"),
            _f(s.peak_rss_mb, 0),
            "-" if s.load_1min is None else f"{s.load_1min[0]:.1f}-{s.load_1min[1]:.1f}",
            "-" if goal is None else f">= {goal.speedup:g}x, set-up <= {goal.setup_s:g} s",
            "-" if met is None else ("yes" if met else "NO"),
        )
    return table
