"""``python -m bench.decomposed_check N [--groups G] [--rounds R] [--monolithic]``: one decomposed
dispatch of the bench's N x 16 instance on a fork pool of 2 workers, its phases, bound and
certified gap as JSON on stdout; with ``--monolithic`` also the monolithic MILP at a tight
gap, to check the bound never exceeds its optimum (small N only)."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict

from bench.instances import make_instance
from vpp.optimizer import DispatchSettings, dispatch
from vpp.optimizer.decompose import solve_decomposed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("n_resources", type=int)
    parser.add_argument("--groups", type=int, default=None, help="resources per group")
    parser.add_argument("--rounds", type=int, default=None, help="price rounds of the bound")
    parser.add_argument("--monolithic", action="store_true")
    args = parser.parse_args()
    problem = make_instance(args.n_resources, 16, 0).problem
    settings = DispatchSettings(time_limit_s=30.0, decompose_above_resources=None)
    if args.rounds is not None:
        settings = settings.model_copy(update={"bound_rounds": args.rounds})
    out: dict[str, object] = {"load_before": os.getloadavg()[0]}
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        started = time.perf_counter()
        result, stats = solve_decomposed(
            problem, settings, executor=pool, max_group_resources=args.groups
        )
        out["total_s"] = time.perf_counter() - started
    out |= {
        "stats": asdict(stats) | {"shares_kw": len(stats.shares_kw)},
        "objective_cny": result.solve.objective_cny,
        "rebound_penalty_cny": result.costs.rebound_penalty_cny,
        "certified_gap": result.solve.mip_gap,
        "meets_target": result.meets_target,
        "load_after": os.getloadavg()[0],
    }
    if args.monolithic:
        tight = settings.model_copy(update={"mip_rel_gap": 1e-4, "time_limit_s": 300.0})
        mono = dispatch(problem, tight)
        out["monolithic"] = {
            "status": mono.solve.status.value,
            "objective_cny": mono.solve.objective_cny,
            "mip_gap": mono.solve.mip_gap,
            "bound_below_optimum": stats.lower_bound_cny is not None
            and stats.lower_bound_cny <= (mono.solve.objective_cny or 0.0),
        }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
