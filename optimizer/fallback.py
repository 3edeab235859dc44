"""A dispatch when the MILP gives nothing usable within its limits: relax, round, re-solve.

The LP relaxation of this formulation has few fractional commitments (DOMAIN.md), so
solving it, fixing each commitment (rounded up, else, if that breaks a rest or events rule,
rounded down) and solving the LP again gives a dispatch within every limit. It is reported
as ``fallback``, never as optimal.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from vpp.domain import SolveStatus
from vpp.optimizer.emit_highs import solve_highs
from vpp.optimizer.linear import FloatArray, LinearModel
from vpp.optimizer.problem import DispatchSettings
from vpp.optimizer.solution import RawSolution

logger = logging.getLogger(__name__)


def relax_and_round(m: LinearModel, settings: DispatchSettings) -> RawSolution:
    """LP relaxation, commitments rounded and fixed, LP again; status FALLBACK or FAILED."""
    started = time.perf_counter()
    integer = m.integrality.copy()
    relaxed = solve_highs(m, settings, integer=np.zeros_like(integer))
    if relaxed.x is None:
        return relaxed
    for rounding, nudge in ((np.ceil, -1e-6), (np.floor, 1e-6)):
        # within 1e-6 of an integer is that integer, rounded either way
        fixed = np.clip(
            rounding(relaxed.x[integer] + nudge), m.col_lower[integer], m.col_upper[integer]
        )
        lower, upper = m.col_lower.copy(), m.col_upper.copy()
        lower[integer] = upper[integer] = fixed
        attempt = solve_highs(m, settings, integer=np.zeros_like(integer), bounds=(lower, upper))
        if attempt.x is not None:
            logger.warning("MILP gave no solution within its limits; using a rounded LP")
            return RawSolution(
                _snap(attempt.x, integer),
                SolveStatus.FALLBACK,
                f"relaxed LP, commitments rounded {'up' if rounding is np.ceil else 'down'}",
                attempt.objective_cny,
                None,
                time.perf_counter() - started,
            )
    return RawSolution(None, SolveStatus.FAILED, "rounded LP infeasible", None, None, 0.0)


def _snap(x: FloatArray, integer: np.ndarray) -> FloatArray:
    out = x.copy()
    out[integer] = np.round(out[integer])
    return out
