"""Build the dispatch model: a flat sequence of resource kinds, system rows, objective."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from vpp.domain import ResourceRef
from vpp.optimizer.linear import LinearModel
from vpp.optimizer.problem import (
    DispatchProblem,
    DispatchSettings,
    ModelContext,
    Objective,
    build_context,
)
from vpp.optimizer.resources import RESOURCE_BUILDERS, KindBlock
from vpp.optimizer.system import (
    ReboundLimit,
    add_capability_target,
    add_event_target,
    add_feeder_limits,
    add_paid_response,
    add_rebound_cap,
    rebound_limit,
)


@dataclass(frozen=True)
class BuiltModel:
    model: LinearModel
    blocks: list[KindBlock]
    context: ModelContext
    build_s: float
    rebound: ReboundLimit


def build_model(
    problem: DispatchProblem, settings: DispatchSettings, objective: Objective = "min_cost"
) -> BuiltModel:
    """The whole model for one event; ``max_response`` gives the capability variant."""
    started = time.perf_counter()
    ctx = build_context(problem, settings, objective)
    m = LinearModel()
    by_kind: dict[str, list[ResourceRef]] = defaultdict(list)
    for ref in problem.refs():
        by_kind[ref.resource.kind].append(ref)
    blocks = [
        block
        for kind, add_kind in RESOURCE_BUILDERS.items()
        if (block := add_kind(m, by_kind[kind], problem, ctx)) is not None
    ]
    add_paid_response(m, blocks, ctx)
    if objective == "min_cost":
        add_event_target(m, blocks, ctx)
        rebound = add_rebound_cap(m, blocks, problem, ctx)
    else:
        # Capability is what the portfolio can physically give; the cap prices its
        # aftermath in a dispatch, not the size of the response.
        add_capability_target(m, blocks, ctx)
        peak = rebound_limit(problem, blocks, ctx).baseline_peak_kw
        rebound = ReboundLimit(None, peak, np.full(ctx.n_t, np.nan))
    add_feeder_limits(m, blocks, problem, ctx)
    m.seal()
    return BuiltModel(m, blocks, ctx, time.perf_counter() - started, rebound)
