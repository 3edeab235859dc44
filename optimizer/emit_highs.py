"""Pass the matrix model straight to HiGHS through highspy (the fast path).

HiGHS writes its banner straight to the process's standard output the first time a
``Highs`` is made, before any option can silence it; :func:`new_highs` sends it to the log
instead, so ``--json`` output stays parseable.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import tempfile
import threading
import time
from dataclasses import replace

import highspy
import numpy as np
from numpy.typing import NDArray

from vpp.domain import SolveStatus
from vpp.optimizer.linear import Cut, FloatArray, LinearModel
from vpp.optimizer.lp_first import round_relaxation, set_integer
from vpp.optimizer.problem import DispatchSettings
from vpp.optimizer.solution import RawSolution

logger = logging.getLogger(__name__)

_banner_lock = threading.Lock()
_banner_pid: int | None = None  # the process whose banner went to the log (forks inherit)

_USABLE_AT_LIMIT = {
    highspy.HighsModelStatus.kTimeLimit,
    highspy.HighsModelStatus.kIterationLimit,
    highspy.HighsModelStatus.kSolutionLimit,
    highspy.HighsModelStatus.kInterrupt,
    highspy.HighsModelStatus.kObjectiveBound,
    highspy.HighsModelStatus.kObjectiveTarget,
}


def to_highs(
    m: LinearModel,
    settings: DispatchSettings,
    integer: NDArray[np.bool_] | None = None,
    bounds: tuple[FloatArray, FloatArray] | None = None,
    *,
    lazy: bool = False,
) -> highspy.Highs:
    """A HiGHS instance holding the model, with limits, gap, threads and seed set.

    ``integer`` and ``bounds`` override the model's integrality and column bounds (the
    fallback relaxes and fixes commitments this way without rebuilding the model). A model
    with lazy constraints is only a relaxation without them: ``lazy`` says the caller
    runs :func:`solve_highs`'s loop (else ValueError).
    """
    if m.separators and not lazy:
        raise ValueError("the model has lazy constraints: solve it with solve_highs")
    integer = m.integrality if integer is None else integer
    col_lower, col_upper = bounds if bounds is not None else (m.col_lower, m.col_upper)
    csc = m.matrix.tocsc()
    lp = highspy.HighsLp()
    lp.num_col_ = m.n_vars
    lp.num_row_ = m.n_rows
    lp.col_cost_ = m.cost
    lp.offset_ = m.objective_constant
    lp.col_lower_ = col_lower
    lp.col_upper_ = col_upper
    lp.row_lower_ = m.row_lower
    lp.row_upper_ = m.row_upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
    lp.a_matrix_.index_ = csc.indices.astype(np.int32)
    lp.a_matrix_.value_ = csc.data
    if integer.any():
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if flag else highspy.HighsVarType.kContinuous
            for flag in integer
        ]
    h = new_highs()
    if settings.limits == "wall_clock":
        h.setOptionValue("time_limit", float(settings.time_limit_s))
    if settings.mip_max_nodes is not None:
        h.setOptionValue("mip_max_nodes", int(settings.mip_max_nodes))
    if settings.simplex_iteration_limit is not None:
        h.setOptionValue("simplex_iteration_limit", int(settings.simplex_iteration_limit))
    h.setOptionValue("mip_rel_gap", float(settings.mip_rel_gap))
    h.setOptionValue("threads", int(settings.threads))
    h.setOptionValue("random_seed", int(settings.seed))
    h.passModel(lp)
    return h


def new_highs() -> highspy.Highs:
    """A silent ``Highs``; the banner HiGHS prints once per process goes to the log."""
    global _banner_pid
    with _banner_lock:
        if _banner_pid == os.getpid():
            h = highspy.Highs()
        else:
            h, banner = _capture_stdout(highspy.Highs)
            _banner_pid = os.getpid()
            if banner:
                logger.debug("HiGHS: %s", banner)
    h.silent()
    return h


def _capture_stdout(make: type[highspy.Highs]) -> tuple[highspy.Highs, str]:
    """Call ``make`` with file descriptor 1 on a temporary file; what C code printed there."""
    sys.stdout.flush()
    libc = ctypes.CDLL(None)
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(1)
        try:
            os.dup2(sink.fileno(), 1)
            made = make()
            libc.fflush(None)  # C stdio buffers a redirected stdout
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        sink.seek(0)
        return made, sink.read().decode(errors="replace").strip()


def solve_highs(
    m: LinearModel,
    settings: DispatchSettings,
    integer: NDArray[np.bool_] | None = None,
    bounds: tuple[FloatArray, FloatArray] | None = None,
) -> RawSolution:
    started = time.perf_counter()
    integer = m.integrality if integer is None else integer
    h = to_highs(m, settings, integer, bounds, lazy=True)
    translated = time.perf_counter()
    col_bounds = bounds if bounds is not None else (m.col_lower, m.col_upper)
    if m.separators:
        return _solve_with_cuts(h, m, integer, settings, (started, translated), col_bounds)
    ints = np.flatnonzero(integer).astype(np.int32)
    if ints.size and settings.lp_first:
        rounded = round_relaxation(h, ints, col_bounds, settings.mip_rel_gap)
        if rounded is not None and rounded.proven:
            note = "; LP relaxation rounded, proven against its bound"
            return _read(h, False, (started, translated), rounded.bound_cny, note)
    h.run()
    return _read(h, bool(ints.size), (started, translated))


def _read(
    h: highspy.Highs,
    mip: bool,
    clock: tuple[float, float],
    bound: float | None = None,
    note: str = "",
) -> RawSolution:
    """The solution HiGHS holds, its status and gap; ``bound`` is a proven lower bound on
    the objective from an earlier MILP run (the gap is then measured against it)."""
    started, translated = clock
    solve_s = time.perf_counter() - translated
    model_status = h.getModelStatus()
    info = h.getInfo()
    has_point = info.primal_solution_status == 2  # kSolutionStatusFeasible
    termination = h.modelStatusToString(model_status) + note
    if model_status == highspy.HighsModelStatus.kOptimal:
        status = SolveStatus.OPTIMAL
    elif model_status in _USABLE_AT_LIMIT and has_point:
        status = SolveStatus.FEASIBLE
    else:
        return RawSolution(
            None, SolveStatus.FAILED, termination, None, None, solve_s, translated - started
        )
    x = np.array(h.getSolution().col_value, dtype=np.float64)
    objective = float(info.objective_function_value)
    gap = float(info.mip_gap) if mip else 0.0
    if bound is not None:
        gap = max(0.0, objective - bound) / max(abs(objective), 1e-9)
    return RawSolution(x, status, termination, objective, gap, solve_s, translated - started)


#: Share of the asked MIP gap the relaxed MILP may use; the repair takes the rest.
REPAIR_GAP_SHARE = 0.8

#: MILP runs (each with the cuts found so far) before the best repaired plan is returned.
MAX_MILP_ROUNDS = 10

#: Rounds of lazy constraints before a solve gives up (each adds the cuts the separators
#: find; the benchmark districts need 5-40 on the LP and few after the MILP).
MAX_CUT_ROUNDS = 200

#: Share of the time limit a repair may take past it: a MILP run that used the whole limit
#: still gets its plan repaired, and the solve ends within 1.1 x the limit.
REPAIR_TIME_SHARE = 0.1


def _solve_with_cuts(
    h: highspy.Highs,
    m: LinearModel,
    integer: NDArray[np.bool_],
    settings: DispatchSettings,
    clock: tuple[float, float],
    col_bounds: tuple[FloatArray, FloatArray],
) -> RawSolution:
    """Solve a model with lazy constraints: the MILP without them; where its solution
    breaks one, its integers are fixed and the LP is cut and re-solved (warm-started
    simplex, cheap) until none is broken. The result satisfies every lazy constraint and
    its gap is measured against the MILP's bound, which bounds the whole model too (the
    lazy rows only remove points the whole model does not have). Where that gap is above
    the asked one, the MILP runs again with every cut found so far. Cutting the LP
    relaxation before the first MILP was measured slower: the MILP solves its root again.

    On wall-clock limits the time limit is the whole solve's: a MILP run gets what is left
    of it, none starts once it is spent, and the repair of the last run's plan may take
    ``REPAIR_TIME_SHARE`` of the limit past it.
    """
    deadline = _deadline(clock[1], settings)
    ints = np.flatnonzero(integer).astype(np.int32)
    if not ints.size:
        rounds = _cut_loop(h, m, deadline)
        return _read(h, False, clock) if rounds is not None else _failed_rounds(clock)
    # The repair costs a little objective (1e-4 on the benchmark districts): the MILP is
    # asked for a slightly smaller gap so the repaired plan usually meets the asked one.
    h.setOptionValue("mip_rel_gap", float(settings.mip_rel_gap) * REPAIR_GAP_SHARE)
    best: RawSolution | None = None
    bound = -np.inf
    for milp_round in range(MAX_MILP_ROUNDS):
        if milp_round and _spent(deadline):
            break
        set_integer(h, ints, True)
        h.changeColsBounds(ints.size, ints, col_bounds[0][ints], col_bounds[1][ints])
        _run(h, deadline)
        info = h.getInfo()
        if info.primal_solution_status != 2:
            return best or _read(h, True, clock)
        x = np.array(h.getSolution().col_value, dtype=np.float64)
        cuts = _separate(m, x)
        if not cuts:
            return _read(h, True, clock, max(bound, float(info.mip_dual_bound)))
        bound = max(bound, float(info.mip_dual_bound))
        proven = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        solution = h.getSolution()
        set_integer(h, ints, False)
        fixed = np.round(x[ints])
        h.changeColsBounds(ints.size, ints, fixed, fixed)
        # A basis from the MILP's point (crossover, ~0.1 s) warm-starts the repair: a
        # cold LP after the MIP took 1-2 s and 4x the iterations at 1,000 x 16.
        h.crossover(solution)
        _add_cuts(h, cuts)
        repaired = _cut_loop(h, m, _repair_deadline(deadline, settings))
        if repaired is None:
            return best or _failed_rounds(clock)
        note = (
            f"; {milp_round + 1} MILP runs, EV pools cut {repaired + 1} rounds with fixed integers"
        )
        raw = _read(h, True, clock, bound, note)
        if raw.x is None or raw.mip_gap is None or raw.objective_cny is None:
            continue
        if best is None or best.objective_cny is None or raw.objective_cny < best.objective_cny:
            best = raw
        if proven and raw.mip_gap <= settings.mip_rel_gap + 1e-9:
            return raw
    timed_out = _spent(deadline)
    if best is None:
        return _failed_rounds(clock, "time limit reached before a plan held" if timed_out else "")
    note = "; time limit reached" if timed_out else ""
    return replace(best, status=SolveStatus.FEASIBLE, termination=best.termination + note)


def _deadline(translated: float, settings: DispatchSettings) -> float | None:
    """When a solve's time limit ends [perf_counter s]; None on deterministic limits."""
    if settings.limits != "wall_clock":
        return None
    return translated + float(settings.time_limit_s)


def _repair_deadline(deadline: float | None, settings: DispatchSettings) -> float | None:
    """A repair's deadline: the solve's, or a share of the limit from now if that is later."""
    if deadline is None:
        return None
    return max(deadline, time.perf_counter() + REPAIR_TIME_SHARE * settings.time_limit_s)


def _spent(deadline: float | None) -> bool:
    return deadline is not None and time.perf_counter() >= deadline


def _run(h: highspy.Highs, deadline: float | None) -> None:
    """One run within what is left until ``deadline`` (HiGHS counts its time limit over
    all runs of an instance, so the limit is set from its run time so far)."""
    if deadline is not None:
        left = max(deadline - time.perf_counter(), 1e-3)
        h.setOptionValue("time_limit", h.getRunTime() + left)
    h.run()


def _cut_loop(h: highspy.Highs, m: LinearModel, deadline: float | None) -> int | None:
    """Run and add violated lazy rows until none is; the rounds taken (None: ran out of
    rounds). A run stopped by the deadline is reported as it is."""
    for rounds in range(MAX_CUT_ROUNDS):
        _run(h, deadline)
        if h.getInfo().primal_solution_status != 2:  # nothing to check: report as it is
            return rounds
        cuts = _separate(m, np.array(h.getSolution().col_value, dtype=np.float64))
        if not cuts:
            return rounds
        _add_cuts(h, cuts)
    return None


def _separate(m: LinearModel, x: FloatArray) -> list[Cut]:
    return [cut for separator in m.separators for cut in separator(x)]


def _failed_rounds(clock: tuple[float, float], reason: str = "") -> RawSolution:
    started, translated = clock
    termination = reason or f"lazy constraints still violated after {MAX_CUT_ROUNDS} rounds"
    solve_s = time.perf_counter() - translated
    return RawSolution(
        None, SolveStatus.FAILED, termination, None, None, solve_s, translated - started
    )


def _add_cuts(h: highspy.Highs, cuts: list[Cut]) -> None:
    starts = np.cumsum([0] + [cut.cols.size for cut in cuts[:-1]]).astype(np.int32)
    index = np.concatenate([cut.cols for cut in cuts]).astype(np.int32)
    value = np.concatenate([cut.vals for cut in cuts])
    lower = np.array([cut.lower for cut in cuts])
    upper = np.array([cut.upper for cut in cuts])
    lower[np.isinf(lower)] = -highspy.kHighsInf
    upper[np.isinf(upper)] = highspy.kHighsInf
    h.addRows(len(cuts), lower, upper, index.size, starts, index, value)
