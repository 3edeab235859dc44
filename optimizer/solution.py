"""What a backend returns: values, an honest status and the solver's own figures."""

from __future__ import annotations

from dataclasses import dataclass

from vpp.domain import SolveStatus
from vpp.optimizer.linear import FloatArray


@dataclass(frozen=True)
class RawSolution:
    """``x`` is None when the solver found no usable point."""

    x: FloatArray | None
    status: SolveStatus
    termination: str
    objective_cny: float | None
    mip_gap: float | None
    solve_s: float
    translate_s: float = 0.0
