"""Build the same model in Pyomo (one Block per kind) for other solvers and for export.

The Pyomo path is slower to build than :mod:`vpp.optimizer.emit_highs`; tests pin that both
give the same optimum. Elements keep their names: ``model.battery.soc_kwh[i]``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.appsi.solvers import Highs as AppsiHighs

from vpp.domain import SolveStatus
from vpp.optimizer.emit_highs import new_highs
from vpp.optimizer.linear import LinearModel
from vpp.optimizer.problem import DispatchSettings
from vpp.optimizer.solution import RawSolution


def _block(model: pyo.ConcreteModel, name: str) -> tuple[Any, str]:
    kind, _, element = name.partition(".")
    if model.find_component(kind) is None:
        model.add_component(kind, pyo.Block())
    return model.find_component(kind), element


def to_pyomo(m: LinearModel) -> tuple[pyo.ConcreteModel, list[Any]]:
    """The Pyomo model and its variables in the matrix model's column order."""
    model = pyo.ConcreteModel(name="vpp_dispatch")
    columns: list[Any] = []
    lower = [None if not np.isfinite(v) else float(v) for v in m.col_lower]
    upper = [None if not np.isfinite(v) else float(v) for v in m.col_upper]
    for name, block in m.var_blocks.items():
        parent, element = _block(model, name)
        first = block.start
        integer = bool(block.size and m.integrality[first])
        var = pyo.Var(
            range(block.size),
            domain=pyo.Integers if integer else pyo.Reals,
            bounds=lambda _b, i, first=first: (lower[first + i], upper[first + i]),
        )
        parent.add_component(element, var)
        columns.extend(var[i] for i in range(block.size))

    csr = m.matrix
    for name, block in m.row_blocks.items():
        parent, element = _block(model, name)

        def rule(_b: Any, i: int, start: int = block.start) -> Any:
            row = start + i
            lo, hi = csr.indptr[row], csr.indptr[row + 1]
            expr = pyo.quicksum(
                float(v) * columns[j]
                for j, v in zip(csr.indices[lo:hi], csr.data[lo:hi], strict=True)
            )
            low, high = m.row_lower[row], m.row_upper[row]
            if low == high:
                return expr == float(low)
            return (
                float(low) if np.isfinite(low) else None,
                expr,
                float(high) if np.isfinite(high) else None,
            )

        parent.add_component(element, pyo.Constraint(range(block.size), rule=rule))

    cost = m.cost
    nonzero = np.flatnonzero(cost)
    model.objective = pyo.Objective(
        expr=pyo.quicksum(float(cost[j]) * columns[j] for j in nonzero) + m.objective_constant,
        sense=pyo.minimize,
    )
    return model, columns


def solve_pyomo(m: LinearModel, settings: DispatchSettings) -> RawSolution:
    started = time.perf_counter()
    model, columns = to_pyomo(m)
    new_highs()  # the banner of this process's first Highs goes to the log, not stdout
    solver = AppsiHighs()
    if settings.limits == "wall_clock":
        solver.config.time_limit = settings.time_limit_s
    solver.config.mip_gap = settings.mip_rel_gap
    solver.config.load_solution = False
    options: dict[str, int] = {"threads": settings.threads, "random_seed": settings.seed}
    if settings.mip_max_nodes is not None:
        options["mip_max_nodes"] = settings.mip_max_nodes
    if settings.simplex_iteration_limit is not None:
        options["simplex_iteration_limit"] = settings.simplex_iteration_limit
    solver.highs_options = options
    translated = time.perf_counter()
    results = solver.solve(model)
    solve_s = time.perf_counter() - translated
    termination = str(results.termination_condition).rsplit(".", 1)[-1]
    best = results.best_feasible_objective
    if termination == "optimal":
        status = SolveStatus.OPTIMAL
    elif best is not None and termination in {"maxTimeLimit", "maxIterations", "interrupted"}:
        status = SolveStatus.FEASIBLE
    else:
        return RawSolution(
            None, SolveStatus.FAILED, termination, None, None, solve_s, translated - started
        )
    results.solution_loader.load_vars()
    x = np.array([pyo.value(v) for v in columns], dtype=np.float64)
    bound = results.best_objective_bound
    gap = None
    if best is not None and bound is not None and np.isfinite(bound):
        gap = abs(best - bound) / max(abs(best), 1e-9)
    return RawSolution(
        x,
        status,
        termination,
        float(best) if best is not None else None,
        gap,
        solve_s,
        translated - started,
    )
