"""Rooftop PV: not dispatchable; its forecast generation enters the net load as negative power.

Applies to Pv; baseline and power are both ``-generation``.
"""

from __future__ import annotations

import numpy as np

from vpp.domain import Pv, ResourceRef, SetpointMode
from vpp.optimizer.linear import FloatArray, LinearModel
from vpp.optimizer.problem import DispatchProblem, ModelContext
from vpp.optimizer.resources._block import KindBlock, resources_of

KIND = "pv"


def add_pv(
    m: LinearModel, refs: list[ResourceRef], problem: DispatchProblem, ctx: ModelContext
) -> KindBlock | None:
    """Power [kW] fixed at the negated generation forecast."""
    if not refs:
        return None
    units: list[Pv] = resources_of(refs, Pv)
    baseline = -np.array([ctx.grid.sample_daily(u.generation_kw) for u in units])
    power = m.add_variables(f"{KIND}.power_kw", baseline.shape, baseline, baseline)

    def setpoint_kw(x: FloatArray) -> FloatArray:
        return np.full(baseline.shape, np.nan)

    return KindBlock(KIND, refs, baseline, power, SetpointMode.RELEASE, setpoint_kw)
