"""Dispatch at scale: our build, translation and solve against the reference, per size.

Each (case, emitter) runs in its own spawned process: the instance is generated there (not
timed), then the dispatch runs ``repeats`` times and the process reports every run's
figures and its peak resident memory. "Ours" is the path :func:`vpp.optimizer.dispatch`
takes for one model (build_model, HiGHS translation, solve, extraction and checks), timed
step by step; "pooled" is the same with EV pools as pool power and lazy session checks
(``ev_model="pooled"``); "lp-first" is the same with ``lp_first=True`` (the rounded LP
relaxation where its bound proves it within the gap, else the MILP); "decomposed" is
:func:`vpp.optimizer.decompose.dispatch_decomposed` when that module exists, on a process
pool of all CPUs (pool start-up included in its total); its "proven gap" is certified
against the monolithic problem by the run's own Lagrangian bound (in ``extra``:
``lower_bound_cny``, ``bound_rounds``, ``bound_s``), not the groups' gaps for their shares.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from bench.instances import make_instance
from bench.measure import children_peak_rss_mb, in_fresh_process, median, peak_rss_mb
from bench.reference import solve_reference
from vpp.optimizer import DispatchSettings, build_model
from vpp.optimizer.dispatch import extract_result
from vpp.optimizer.fallback import relax_and_round
from vpp.optimizer.solve import solve

Emitter = Literal["ours", "pooled", "lp-first", "reference", "decomposed"]


@dataclass(frozen=True)
class Case:
    n_resources: int
    n_intervals: int
    repeats: int = 3
    time_limit_s: float = 10.0
    decomposed: bool = False
    """Also run the decomposed dispatch (the large cases)."""
    pooled: bool = False
    """Also run the monolithic dispatch with pooled EV sessions."""
    lp_first: bool = False
    """Also run the monolithic dispatch with the LP relaxation first (``lp_first=True``)."""

    @property
    def label(self) -> str:
        return f"{self.n_resources:,} x {self.n_intervals}"


FULL_CASES = (
    Case(100, 16, pooled=True),
    Case(1_000, 16, pooled=True, lp_first=True),
    # 10 s is too short on a loaded box
    Case(1_000, 96, time_limit_s=30.0, pooled=True, lp_first=True),
    Case(5_000, 16, repeats=1, time_limit_s=30.0, decomposed=True),
    Case(10_000, 16, repeats=1, time_limit_s=30.0, decomposed=True),
)
QUICK_CASES = (
    Case(20, 16, repeats=2, pooled=True, lp_first=True),
    Case(60, 16, repeats=1, decomposed=True),
)


@dataclass
class Run:
    """One run's figures; seconds, CNY; ``gap`` is the proven relative MIP gap."""

    build_s: float
    translate_s: float
    solve_s: float
    extract_s: float
    total_s: float
    status: str
    objective_cny: float | None
    gap: float | None
    meets_target: bool | None = None


@dataclass
class Measured:
    """The median of a case's runs for one emitter, and the process's peak memory."""

    case: str
    n_resources: int
    n_intervals: int
    emitter: str
    runs: int
    build_s: float | None
    translate_s: float | None
    solve_s: float | None
    extract_s: float | None
    total_s: float | None
    status: str
    objective_cny: float | None
    gap: float | None
    meets_target: bool | None
    peak_rss_mb: float
    instance_rss_mb: float
    """Peak memory before the first build: interpreter, libraries and the instance."""
    n_cols: int = 0
    n_rows: int = 0
    n_integer: int = 0
    workers_peak_rss_mb: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    load_before: float | None = None
    """The machine's 1-minute load average when the case started and ended (shared
    machines: a load above the cores slows every figure)."""
    load_after: float | None = None


def run_case(case: Case, emitter: Emitter, seed: int = 0) -> Measured:
    """Run one case for one emitter in a fresh process."""
    return in_fresh_process(_measure, case, emitter, seed)


def _measure(case: Case, emitter: Emitter, seed: int) -> Measured:
    inst = make_instance(case.n_resources, case.n_intervals, seed)
    settings = DispatchSettings(time_limit_s=case.time_limit_s, decompose_above_resources=None)
    if emitter == "pooled":
        settings = settings.model_copy(update={"ev_model": "pooled"})
    if emitter == "lp-first":
        settings = settings.model_copy(update={"lp_first": True})
    load_before = os.getloadavg()[0]
    before = peak_rss_mb()
    runs: list[Run] = []
    sizes = (0, 0, 0)
    extra: dict[str, Any] = {}
    for _ in range(case.repeats):
        if emitter == "reference":
            ref = solve_reference(inst.problem, settings)
            runs.append(
                Run(
                    ref.build_s,
                    ref.translate_s,
                    ref.solve_s,
                    0.0,
                    ref.build_s + ref.translate_s + ref.solve_s,
                    ref.status,
                    ref.objective_cny,
                    ref.mip_gap,
                )
            )
            sizes = (ref.n_cols, ref.n_rows, ref.n_integer)
        elif emitter in ("ours", "pooled", "lp-first"):
            run, sizes = _ours(inst.problem, settings)
            runs.append(run)
        else:
            run, extra = _decomposed(inst.problem, settings)
            runs.append(run)
    last = runs[-1]
    return Measured(
        case=case.label,
        n_resources=case.n_resources,
        n_intervals=case.n_intervals,
        emitter=emitter,
        runs=len(runs),
        build_s=median([r.build_s for r in runs]),
        translate_s=median([r.translate_s for r in runs]),
        solve_s=median([r.solve_s for r in runs]),
        extract_s=median([r.extract_s for r in runs]),
        total_s=median([r.total_s for r in runs]),
        status=last.status,
        objective_cny=median([r.objective_cny for r in runs]),
        gap=median([r.gap for r in runs]),
        meets_target=last.meets_target,
        peak_rss_mb=peak_rss_mb(),
        instance_rss_mb=before,
        n_cols=sizes[0],
        n_rows=sizes[1],
        n_integer=sizes[2],
        workers_peak_rss_mb=children_peak_rss_mb() if emitter == "decomposed" else None,
        extra=extra,
        load_before=load_before,
        load_after=os.getloadavg()[0],
    )


def _ours(problem: Any, settings: DispatchSettings) -> tuple[Run, tuple[int, int, int]]:
    """The monolithic dispatch, step by step as :func:`dispatch_monolithic` takes them."""
    started = time.perf_counter()
    built = build_model(problem, settings, "min_cost")
    raw = solve(built.model, settings)
    if raw.x is None and built.model.n_integer:
        raw = relax_and_round(built.model, settings)
    solved = time.perf_counter()
    result = extract_result(problem, built, raw, settings) if raw.x is not None else None
    done = time.perf_counter()
    m = built.model
    run = Run(
        build_s=built.build_s,
        translate_s=raw.translate_s,
        solve_s=solved - started - built.build_s - raw.translate_s,
        extract_s=done - solved,
        total_s=done - started,
        status=raw.status.value,
        objective_cny=raw.objective_cny,
        gap=raw.mip_gap,
        meets_target=None if result is None else result.meets_target,
    )
    return run, (m.n_vars, m.n_rows, m.n_integer)


def decomposition_available() -> bool:
    return importlib.util.find_spec("vpp.optimizer.decompose") is not None


def _decomposed(problem: Any, settings: DispatchSettings) -> tuple[Run, dict[str, Any]]:
    """On a pool of all CPUs made here and shut down here (its workers' memory is counted)."""
    from vpp.optimizer.decompose import solve_decomposed

    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1, mp_context=context) as pool:
        started = time.perf_counter()
        result, stats = solve_decomposed(problem, settings, executor=pool)
        total = time.perf_counter() - started
    s = result.solve
    run = Run(
        build_s=s.build_s,
        translate_s=0.0,
        solve_s=s.solve_s,
        extract_s=s.extract_s,
        total_s=total,
        status=s.status.value,
        objective_cny=s.objective_cny,
        gap=s.mip_gap,
        meets_target=result.meets_target,
    )
    return run, asdict(stats)
