"""Solve a built model with the chosen backend; every solve has a time limit and a gap."""

from __future__ import annotations

from vpp.optimizer.linear import LinearModel
from vpp.optimizer.problem import DispatchSettings
from vpp.optimizer.solution import RawSolution


def solve(m: LinearModel, settings: DispatchSettings) -> RawSolution:
    if settings.backend == "pyomo":
        from vpp.optimizer.emit_pyomo import solve_pyomo

        return solve_pyomo(m, settings)
    from vpp.optimizer.emit_highs import solve_highs

    return solve_highs(m, settings)
