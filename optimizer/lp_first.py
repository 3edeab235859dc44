"""A MILP answered by its rounded LP relaxation where the relaxation's bound proves it.

The relaxation's optimum ``L`` bounds every integer plan from below, so a plan of
objective ``U`` is within ``(U - L) / |U|`` of the optimum whatever found it. The dispatch
model's relaxation has few fractional commitments (DOMAIN.md; 4 of 683 at 1,000 x 16), so
fixing the commitments at their rounded values and solving the LP again (warm, on the same
HiGHS instance: 0.05 s at 1,000 x 16) can give a plan within the asked gap of ``L``: it is
then proven without branch and bound, where HiGHS' MILP spends 2-3 s after its root LP
(central rounding's interior point solve, a restart, separation). Where the rounded plan
is not proven, the MILP runs as it would have, and the relaxation's solve was spent in
vain (not even as the MILP's incumbent: at 1,000 x 96 that made HiGHS several times
slower). Opt-in (``DispatchSettings.lp_first``): which of the two happens depends on the
district (docs/performance.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np
from numpy.typing import NDArray

from vpp.optimizer.linear import FloatArray

#: A rounded plan this close to the bound is proven whatever its relative gap [CNY]
#: (HiGHS' own ``mip_abs_gap``).
ABS_GAP_CNY = 1e-6

#: Rounding of a relaxed commitment, in the order tried: to the nearest integer, then
#: down (never breaks the commitments' packing rows: rest cliques, events per day).
ROUNDINGS = ("nearest", "down")


@dataclass(frozen=True)
class RoundedRelaxation:
    """What relaxing and rounding found: the relaxation's optimum ``bound_cny`` and the best
    rounded plan's objective [CNY] (None where no rounding was feasible), and whether that
    plan is proven within the asked gap (the instance then holds it)."""

    bound_cny: float
    objective_cny: float | None
    proven: bool


def round_relaxation(
    h: highspy.Highs,
    ints: NDArray[np.int32],
    col_bounds: tuple[FloatArray, FloatArray],
    mip_rel_gap: float,
) -> RoundedRelaxation | None:
    """Solve ``h``'s model with the integer columns ``ints`` relaxed, then with them fixed at
    each rounding of the relaxation's values; stop at the first plan proven within
    ``mip_rel_gap`` [-] of the relaxation's optimum.

    Returns None where the relaxation has no optimum (the MILP decides). Unless the result
    is proven, ``h`` is given back as the MILP it was (integrality and ``col_bounds``
    restored).
    """
    set_integer(h, ints, False)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        _restore(h, ints, col_bounds)
        return None
    bound = float(h.getInfo().objective_function_value)
    relaxed = np.asarray(h.getSolution().col_value, dtype=np.float64)[ints]
    best: float | None = None
    for rounding in ROUNDINGS:
        fixed = _rounded(relaxed, rounding, col_bounds[0][ints], col_bounds[1][ints])
        h.changeColsBounds(ints.size, ints, fixed, fixed)
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            continue
        objective = float(h.getInfo().objective_function_value)
        if objective - bound <= max(mip_rel_gap * abs(objective), ABS_GAP_CNY):
            return RoundedRelaxation(bound, objective, proven=True)
        best = objective if best is None else min(best, objective)
    _restore(h, ints, col_bounds)
    return RoundedRelaxation(bound, best, proven=False)


def _rounded(values: FloatArray, rounding: str, lower: FloatArray, upper: FloatArray) -> FloatArray:
    """Relaxed integer values rounded, within their bounds; 1e-6 of an integer counts as it."""
    out = np.round(values) if rounding == "nearest" else np.floor(values + 1e-6)
    clipped: FloatArray = np.clip(out, lower, upper)
    return clipped


def _restore(
    h: highspy.Highs, ints: NDArray[np.int32], col_bounds: tuple[FloatArray, FloatArray]
) -> None:
    """The MILP again: integrality and bounds back."""
    h.changeColsBounds(ints.size, ints, col_bounds[0][ints], col_bounds[1][ints])
    set_integer(h, ints, True)


def set_integer(h: highspy.Highs, ints: NDArray[np.int32], integer: bool) -> None:
    """Mark the columns ``ints`` integer or continuous."""
    kind = highspy.HighsVarType.kInteger if integer else highspy.HighsVarType.kContinuous
    h.changeColsIntegrality(ints.size, ints, np.full(ints.size, int(kind), np.uint8))
