"""The demo district scaled to any number of resources, for decomposition tests.

The districts are the benchmark's (:mod:`bench.instances`: copies of the demo park with
their own feeders and jittered prices); only the event's size may differ here.
"""

from __future__ import annotations

from bench.instances import horizon, peak_event, scaled_district

from vpp.optimizer import DispatchProblem

__all__ = ["scaled_district", "scaled_problem"]


def scaled_problem(
    n_resources: int, seed: int = 0, target_pct: float | None = None, intervals: int = 16
) -> DispatchProblem:
    """The benchmark's peak event on a scaled district, optionally at ``target_pct``."""
    district = scaled_district(n_resources, seed)
    event = peak_event(district)
    if target_pct is not None:
        event = event.model_copy(update={"target_pct_of_peak": target_pct})
    return DispatchProblem(district, event, horizon(district, intervals))
