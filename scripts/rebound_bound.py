"""The least excess over the rebound cap each event's first plan could have, target first.

Simulates a scenario's day (embedded broker), takes each event's first dispatch problem as
the controller solved it (measured battery charge, other events' recovery) and solves it
again with the target priced at 100,000 CNY/kWh and the cap at 1,000 (50x the default), so
the worst excess left is the least the target allows: with the controller's target margin,
with none, and with none and no other event's recovery in the way (README, "Rebound under
a cap"). Usage: python scripts/rebound_bound.py [SCENARIO]
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from pathlib import Path

from vpp.domain import DispatchResult
from vpp.hil_sim.runner import simulate
from vpp.hil_sim.scenario import load_scenario
from vpp.optimizer import DispatchSettings, dispatch

DEMO = Path(__file__).resolve().parent.parent / "configs/scenarios/demo_mqtt_day.yaml"


def worst_excess_kw(result: DispatchResult) -> float:
    return max((i.rebound_excess_kw or 0.0 for i in result.intervals), default=0.0)


def main(path: Path) -> None:
    result = asyncio.run(simulate(load_scenario(path)))
    for event_id, run in result.runs.items():
        if run.problem is None or run.initial is None:
            continue
        margin_pct = result.scenario.controller.planning_margin_pct
        strict = DispatchSettings(
            time_limit_s=120,
            shortfall_penalty_cny_per_kwh=1e5,
            rebound_penalty_cny_per_kwh=1e3,
        )
        alone = replace(run.problem, rebound_other_kw=None)
        cases = [
            (f"target margin {margin_pct:.1f}%", run.problem, margin_pct),
            ("no target margin", run.problem, 0.0),
            ("no margin, no other event's recovery", alone, 0.0),
        ]
        print(f"{event_id}: first plan's worst excess {run.initial.max_rebound_excess_kw:,.0f} kW")
        for label, problem, margin in cases:
            solved = dispatch(problem, strict.model_copy(update={"target_margin_pct": margin}))
            print(
                f"  {label}: least worst excess {worst_excess_kw(solved):,.0f} kW, "
                f"worst shortfall {solved.max_shortfall_kw:,.0f} kW ({solved.solve.status.value})"
            )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEMO)
