"""The evaluator: what each completed event interval delivered against its plan and target.

An interval is judged ``evaluation_delay_s`` after it ends, once its last telemetry is in.
A resource that gave less than ``under_delivery_ratio`` of a plan it had time to ramp to
is dropped; a portfolio short of its plan beyond the tolerance asks the re-planner to make
up the gap, and one short of the target with nobody under-delivering asks for a refill.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from vpp.controller.monitor import Monitor
from vpp.controller.planning import response_kw
from vpp.controller.run import EventRun, Fault
from vpp.controller.settings import ControllerSettings
from vpp.domain import kind_of
from vpp.settlement import counted_from

#: Plans smaller than this are too small to judge a resource by [kW].
JUDGED_FROM_KW = 5.0


@dataclass
class Verdict:
    """What the evaluation of an event's newly completed intervals found."""

    reasons: list[str] = field(default_factory=list)  # "key: why", one per dropped resource
    faults: list[Fault] = field(default_factory=list)
    bias_kw: float | None = None  # shortfall to make up [kW]; 0 asks only for a refill


class Evaluator:
    """Judges delivery from the monitor's trusted telemetry against the customer baselines."""

    def __init__(self, settings: ControllerSettings, monitor: Monitor) -> None:
        self.settings = settings
        self.monitor = monitor

    def measured_response(self, run: EventRun, key: str, t: int) -> float | None:
        """One resource's measured response in interval ``t`` [kW]; None without trusted
        telemetry."""
        mean = self.monitor.trusted_mean_kw(key, run.grid.starts[t])
        if mean is None:
            return None
        return run.event.direction * (run.schedules[key].baseline_kw[t] - mean)

    def delivered_kw(self, run: EventRun, t: int) -> float:
        """Measured response of every resource still in the event, in interval ``t``, from
        each one's first ask on (:func:`vpp.settlement.counted_from`)."""
        window = run.window
        assert window.start is not None
        total = 0.0
        for key in run.kept():
            asked = response_kw(run.schedules[key], run.event.direction)[window]
            if window.start + counted_from(asked.tolist()) <= t:
                total += self.measured_response(run, key, t) or 0.0
        return total

    def evaluate(self, run: EventRun, now: datetime) -> Verdict:
        """Judge the event intervals completed since the last call; under-delivering
        resources are dropped from ``run`` as they are found."""
        verdict = Verdict()
        delay = timedelta(seconds=self.settings.evaluation_delay_s)
        window = run.window
        for t in range(window.start, window.stop):
            if t in run.evaluated or run.end_of(t) + delay > now:
                continue
            run.evaluated.add(t)
            planned_total = measured_total = 0.0
            under: dict[str, str] = {}
            for key in run.kept():
                planned = float(response_kw(run.schedules[key], run.event.direction)[t])
                if planned <= 0 or not commanded_before(run, key, t):
                    continue
                measured = self.measured_response(run, key, t)
                got = 0.0 if measured is None else measured
                planned_total += planned
                measured_total += got
                if planned >= JUDGED_FROM_KW and got < self.settings.under_delivery_ratio * planned:
                    under[key] = f"delivered {got:.0f} of {planned:.0f} kW"
            verdict.faults += run.drop(now, under)
            verdict.reasons += [f"{k}: {r}" for k, r in sorted(under.items())]
            tolerance = self.settings.shortfall_tolerance_pct / 100.0 * run.target_kw
            gap = planned_total - measured_total
            if gap > tolerance and not under:
                verdict.bias_kw = max(verdict.bias_kw or 0.0, gap)
            elif run.target_kw - self.delivered_kw(run, t) > tolerance and verdict.bias_kw is None:
                verdict.bias_kw = 0.0  # short of the target with nobody under-delivering: refill
        return verdict


def commanded_before(run: EventRun, key: str, t: int) -> bool:
    """Whether the resource has had time to reach the command in ``t``: only then does a
    shortfall say something about it. A kind that ramps in seconds has, in any commanded
    interval (its lease is sent before the interval starts), so a plan that commands it
    every other interval still judges it; a slow one only where ``t`` keeps the command
    of the interval before."""
    setpoint = run.schedules[key].setpoint_kw
    if not kind_of(run.schedules[key].kind).ramp_lead_s:  # ramps in seconds
        return setpoint[t] is not None
    current = setpoint[t]
    return current is not None and _same_command(setpoint, t, max(1.0, 0.1 * abs(current)))


def _same_command(setpoint: tuple[float | None, ...], t: int, tol_kw: float) -> bool:
    """Whether interval ``t`` keeps the command of the interval before it."""
    if t == 0:
        return False
    before, now = setpoint[t - 1], setpoint[t]
    return before is not None and now is not None and abs(now - before) <= tol_kw
