"""Markdown tables from ``bench/results.json``, for docs/performance.md.

``python -m bench.report [results.json] [--plot PNG]`` prints them (and redraws the
scaling plot); the numbers in the docs come from here, never typed by hand.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench.dispatch_suite import Measured
from bench.plots import scaling_plot
from bench.runner import DEFAULT_OUT, build_ratio, cost_gap, goal_rows


def _f(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _gap(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f} %"


def dispatch_markdown(rows: list[dict[str, Any]]) -> str:
    measured = [Measured(**r) for r in rows]
    by_case: dict[str, dict[str, Measured]] = {}
    for m in measured:
        by_case.setdefault(m.case, {})[m.emitter] = m
    lines = [
        "| resources x intervals | emitter | runs | build s | translate s | solve s | total s "
        "| peak MB | objective CNY | proven gap | status | build ratio | cost vs monolithic "
        "| load |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for m in measured:
        ratio = build_ratio(m, by_case[m.case].get("reference")) if m.emitter == "ours" else None
        mono = by_case[m.case].get("ours")
        vs = cost_gap(m, mono) if m.emitter == "decomposed" and mono is not None else None
        lines.append(
            f"| {m.case} | {m.emitter} | {m.runs} | {_f(m.build_s)} | {_f(m.translate_s, 3)} "
            f"| {_f(m.solve_s)} | {_f(m.total_s)} | {_f(m.peak_rss_mb, 0)} "
            f"| {_f(m.objective_cny, 0)} | {_gap(m.gap)} | {m.status} "
            f"| {'-' if ratio is None else f'{ratio:.2f}x'} "
            f"| {'-' if vs is None else f'{100 * vs:+.2f} %'} | {_f(m.load_before, 1)} |"
        )
    return "\n".join(lines)


def goals_markdown(rows: list[dict[str, Any]]) -> str:
    """Each dispatch goal against its figure and the load while it ran."""
    lines = [
        "| goal (issue 16) | measured | proven gap | load (1 min) | |",
        "|---|---:|---:|---:|---|",
    ]
    for goal, m, met in goal_rows(rows):
        what = f"{goal.case} {goal.emitter} <= {goal.total_s:g} s, gap <= {100 * goal.gap:.1f} %"
        if m is None:
            lines.append(f"| {what} | - | - | - | not run |")
            continue
        load = f"{_f(m.load_before, 1)}-{_f(m.load_after, 1)}"
        verdict = "met" if met else f"**missed** ({m.status})"
        lines.append(f"| {what} | {_f(m.total_s)} s | {_gap(m.gap)} | {load} | {verdict} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__)
    parser.add_argument("results", type=Path, nargs="?", default=DEFAULT_OUT)
    parser.add_argument("--plot", type=Path, default=None, help="redraw the scaling plot here")
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text())
    print(f"machine: {json.dumps(results['machine'])}\n")
    print(dispatch_markdown(results["dispatch"]))
    print()
    print(goals_markdown(results["dispatch"]))
    for name in ("redispatch", "telemetry"):
        if results.get(name):
            print(f"\n{name}: {json.dumps(results[name])}")
    for sim in results.get("simulator", []):
        print(f"\nsimulator: {json.dumps(sim)}")
    if args.plot is not None:
        scaling_plot(results["dispatch"], args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
