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

import highspy
import numpy as np
from numpy.typing import NDArray

from vpp.domain import SolveStatus
from vpp.optimizer.linear import FloatArray, LinearModel
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
) -> highspy.Highs:
    """A HiGHS instance holding the model, with limits, gap, threads and seed set.

    ``integer`` and ``bounds`` override the model's integrality and column bounds (the
    fallback relaxes and fixes commitments this way without rebuilding the model).
    """
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
    h = to_highs(m, settings, integer, bounds)
    translated = time.perf_counter()
    h.run()
    solve_s = time.perf_counter() - translated
    model_status = h.getModelStatus()
    info = h.getInfo()
    has_point = info.primal_solution_status == 2  # kSolutionStatusFeasible
    termination = h.modelStatusToString(model_status)
    if model_status == highspy.HighsModelStatus.kOptimal:
        status = SolveStatus.OPTIMAL
    elif model_status in _USABLE_AT_LIMIT and has_point:
        status = SolveStatus.FEASIBLE
    else:
        return RawSolution(
            None, SolveStatus.FAILED, termination, None, None, solve_s, translated - started
        )
    x = np.array(h.getSolution().col_value, dtype=np.float64)
    gap = float(info.mip_gap) if integer.any() else 0.0
    return RawSolution(
        x,
        status,
        termination,
        float(info.objective_function_value),
        gap,
        solve_s,
        translated - started,
    )
