"""Opt in or out of a VTN's event from what the portfolio can deliver, not blindly.

The VEN answers ``optIn`` only when the capability for the window, at the event's notice,
covers the target: ``deliverable_kw >= min_fraction * target_kw``. ``min_fraction`` below 1
is a programme's partial-delivery rule (a Guangdong-type rule pays from 50 % of the
declared amount, for example); the default, 1, promises only what can be met in full.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np

from vpp.domain import District, EventKind, Notice
from vpp.optimizer import DispatchProblem, DispatchSettings, capability
from vpp.planning import make_event, prepare_problem

Opt = Literal["optIn", "optOut"]

#: Solver time limit of one capability question [s].
CAPABILITY_TIME_LIMIT_S = 10.0


@dataclass(frozen=True)
class Decision:
    """The VEN's answer with the figures it rests on, stored on the event's record."""

    opt: Opt
    reason: str
    target_kw: float | None = None
    capability_kw: float | None = None
    margin_kw: float | None = None  # capability minus target; negative is the shortfall

    def as_record(self, vtn_event_id: str, modification_number: int) -> dict[str, Any]:
        return {
            "vtn_event_id": vtn_event_id,
            "modification_number": modification_number,
            **{k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()},
        }


def notice_for(lead: timedelta) -> Notice:
    """The product a lead time falls in: under 1 h real time, under 12 h intraday."""
    if lead < timedelta(hours=1):
        return Notice.REAL_TIME
    if lead < timedelta(hours=12):
        return Notice.INTRADAY
    return Notice.DAY_AHEAD


def decide(target_kw: float, capability_kw: float, min_fraction: float = 1.0) -> Decision:
    """optIn when ``capability_kw`` covers ``min_fraction`` of ``target_kw`` [kW]."""
    margin = capability_kw - target_kw
    if capability_kw >= min_fraction * target_kw - 1e-6:
        reason = f"capability {capability_kw:.1f} kW covers the target {target_kw:.1f} kW"
        return Decision("optIn", reason, target_kw, capability_kw, margin)
    reason = (
        f"capability {capability_kw:.1f} kW is short of "
        f"{min_fraction:.0%} of the target {target_kw:.1f} kW"
    )
    return Decision("optOut", reason, target_kw, capability_kw, margin)


def refuse(reason: str) -> Decision:
    return Decision("optOut", reason)


def deliverable_kw(
    district: District,
    start: datetime,
    end: datetime,
    kind: EventKind,
    notice: Notice,
    issued_at: datetime,
    *,
    executor: Executor | None = None,
) -> tuple[float, float]:
    """(largest response sustained through every interval, mean baseline) [kW]; blocking:
    run it in a thread."""
    event = make_event(
        district, start, end, kind=kind, notice=notice, issued_at=issued_at, event_id="capability"
    )
    problem, _ = prepare_problem(district, event)
    settings = DispatchSettings(time_limit_s=CAPABILITY_TIME_LIMIT_S, mip_rel_gap=1e-4)
    report = capability(problem, settings, executor=executor)  # the caller's pool, if large
    return report.deliverable_kw, _mean_baseline_kw(problem)


def _mean_baseline_kw(problem: DispatchProblem) -> float:
    """The metered loads' summed baseline, averaged over the event's intervals [kW]."""
    starts = problem.grid.starts
    inside = [t for t, s in enumerate(starts) if problem.event.start <= s < problem.event.end]
    if not inside or not problem.load_baselines_kw:
        return float("nan")
    total = sum(float(np.asarray(b)[inside].mean()) for b in problem.load_baselines_kw.values())
    return total
