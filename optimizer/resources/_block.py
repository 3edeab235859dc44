"""What each resource-kind builder hands to the system layer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from vpp.domain import DEVIATION_TOL_KW, ResourceRef, SetpointMode
from vpp.optimizer.linear import FloatArray, IntArray

#: Slack of the independent check of a dispatch (:mod:`vpp.optimizer.check`) [kW, kWh, °C].
TOL_KW = 1e-3
TOL_KWH = 1e-2
TOL_C = 1e-2

ResourceT = TypeVar("ResourceT")


def resources_of(refs: list[ResourceRef], kind: type[ResourceT]) -> list[ResourceT]:
    """The resources of the refs, checked to be of the builder's kind."""
    out: list[ResourceT] = []
    for ref in refs:
        if not isinstance(ref.resource, kind):
            raise TypeError(f"{ref.key} is a {ref.resource.kind}, not a {kind.__name__}")
        out.append(ref.resource)
    return out


@dataclass(frozen=True)
class KindBlock:
    """One resource kind in the model.

    ``power_idx[r, t]`` is the variable of each resource's net consumption [kW]. When
    ``paid_price_cny_per_kwh`` is given, the system layer pays response at that price per
    resource; otherwise the builder priced its own response (curtailment steps).
    ``setpoint_kw(x)`` gives the commanded value per (resource, interval), NaN where the
    resource runs normally.
    """

    kind: str
    refs: list[ResourceRef]
    baseline_kw: FloatArray
    power_idx: IntArray
    mode: SetpointMode
    setpoint_kw: Callable[[FloatArray], FloatArray]
    paid_price_cny_per_kwh: FloatArray | None = None

    @property
    def size(self) -> int:
        return len(self.refs)


def column(units: Sequence[object], attr: str) -> FloatArray:
    """One attribute of every resource as an (r, 1) array, to broadcast over intervals."""
    return np.array([getattr(u, attr) for u in units], dtype=np.float64)[:, None]


def deviating(
    power_kw: FloatArray, baseline_kw: FloatArray, tol_kw: float = DEVIATION_TOL_KW
) -> FloatArray:
    """Power where it departs from the baseline, NaN elsewhere: the commanded intervals."""
    return np.where(np.abs(power_kw - baseline_kw) > tol_kw, power_kw, np.nan)


def held_through(setpoint_kw: FloatArray, power_kw: FloatArray) -> FloatArray:
    """Commands from each resource's first command to its last, the plan's power in
    between [kW].

    Where the plan meets the baseline mid-recovery, a resource left alone does not run at
    its baseline: an EV pool takes the energy it is owed at once, a building's thermostat
    pulls the warm building back to its setpoint at full power (the rebound the cap
    staggers), so the plan's power stays commanded.
    """
    out = setpoint_kw.copy()
    for r in range(out.shape[0]):
        commanded = np.flatnonzero(~np.isnan(out[r]))
        if commanded.size:
            span = slice(commanded[0], commanded[-1] + 1)
            out[r, span] = power_kw[r, span]
    return out
