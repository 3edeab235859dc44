"""Pass the matrix model straight to HiGHS through highspy (the fast path)."""

from __future__ import annotations

import time

import highspy
import numpy as np

from vpp.domain import SolveStatus
from vpp.optimizer.linear import LinearModel
from vpp.optimizer.problem import DispatchSettings
from vpp.optimizer.solution import RawSolution

_USABLE_AT_LIMIT = {
    highspy.HighsModelStatus.kTimeLimit,
    highspy.HighsModelStatus.kIterationLimit,
    highspy.HighsModelStatus.kSolutionLimit,
    highspy.HighsModelStatus.kInterrupt,
    highspy.HighsModelStatus.kObjectiveBound,
    highspy.HighsModelStatus.kObjectiveTarget,
}


def to_highs(m: LinearModel, settings: DispatchSettings) -> highspy.Highs:
    """A HiGHS instance holding the model, with limits, gap, threads and seed set."""
    csc = m.matrix.tocsc()
    lp = highspy.HighsLp()
    lp.num_col_ = m.n_vars
    lp.num_row_ = m.n_rows
    lp.col_cost_ = m.cost
    lp.offset_ = m.objective_constant
    lp.col_lower_ = m.col_lower
    lp.col_upper_ = m.col_upper
    lp.row_lower_ = m.row_lower
    lp.row_upper_ = m.row_upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
    lp.a_matrix_.index_ = csc.indices.astype(np.int32)
    lp.a_matrix_.value_ = csc.data
    if m.n_integer:
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if flag else highspy.HighsVarType.kContinuous
            for flag in m.integrality
        ]
    h = highspy.Highs()
    h.silent()
    h.setOptionValue("time_limit", float(settings.time_limit_s))
    h.setOptionValue("mip_rel_gap", float(settings.mip_rel_gap))
    h.setOptionValue("threads", int(settings.threads))
    h.setOptionValue("random_seed", int(settings.seed))
    h.passModel(lp)
    return h


def solve_highs(m: LinearModel, settings: DispatchSettings) -> RawSolution:
    started = time.perf_counter()
    h = to_highs(m, settings)
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
    gap = float(info.mip_gap) if m.n_integer else 0.0
    return RawSolution(
        x,
        status,
        termination,
        float(info.objective_function_value),
        gap,
        solve_s,
        translated - started,
    )
