"""``vpp dispatch``: solve the dispatch for one event and write setpoints and a plot."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Literal

import typer

from vpp.cli.app import app, console, fail, reports_errors
from vpp.cli.explain_view import print_explanation, write_explanation
from vpp.cli.options import (
    HOLD_MIN,
    MIP_GAP,
    RESOURCE_COUNT,
    TARGET_KW,
    TARGET_PCT,
    TIME_LIMIT_S,
    WORKERS,
    parse_time,
    resolve_window,
    writable_folder,
)
from vpp.cli.tables import Column, print_table
from vpp.config import load_district
from vpp.domain import DispatchExplanation, DispatchResult, EventKind, Notice, ReboundCap
from vpp.optimizer import DispatchSettings, dispatch, dispatch_executor
from vpp.optimizer.explain import dispatch_explained
from vpp.optimizer.problem import Backend
from vpp.planning import make_event, prepare_problem
from vpp.report import plot_dispatch, write_dispatch_files

GroupBy = Literal["enterprise", "feeder"]


@app.command("dispatch")
@reports_errors
def dispatch_command(
    district_file: Annotated[Path, typer.Argument(help="district YAML file")],
    start: Annotated[
        str | None, typer.Option(help="event start, ISO (local time if no offset)")
    ] = None,
    end: Annotated[str | None, typer.Option(help="event end, ISO")] = None,
    day: Annotated[
        str | None,
        typer.Option(help="without --start/--end: the district's peak hours on this day"),
    ] = None,
    target_kw: Annotated[
        float | None, typer.Option(parser=TARGET_KW, help="response per interval \\[kW]")
    ] = None,
    target_pct: Annotated[
        float | None,
        typer.Option(parser=TARGET_PCT, help="response per interval \\[% of district peak]"),
    ] = None,
    kind: Annotated[
        EventKind, typer.Option(help="peak_shaving reduces load, valley_filling raises it")
    ] = EventKind.PEAK_SHAVING,
    notice: Annotated[Notice, typer.Option(help="notice given to resources")] = Notice.DAY_AHEAD,
    issued_at: Annotated[
        str | None, typer.Option(help="when the event was issued \\[default: by notice]")
    ] = None,
    baseline: Annotated[
        str, typer.Option(help="baseline method for curtailable loads")
    ] = "jiangsu",
    backend: Annotated[
        Backend, typer.Option(help="highs (direct) or pyomo (same model via Pyomo)")
    ] = "highs",
    time_limit_s: Annotated[
        float, typer.Option("--time-limit", parser=TIME_LIMIT_S, help="solver time limit \\[s]")
    ] = 10.0,
    gap: Annotated[
        float, typer.Option(parser=MIP_GAP, help="relative MIP gap accepted as optimal")
    ] = 0.005,
    out: Annotated[
        Path, typer.Option(help="folder for setpoints.csv/.json, dispatch.json, dispatch.png")
    ] = Path("out/dispatch"),
    decompose_above: Annotated[
        int | None,
        typer.Option(
            parser=RESOURCE_COUNT,
            help="decompose into groups solved in parallel above this many resources "
            "\\[default: 2500]",
        ),
    ] = None,
    group_by: Annotated[
        GroupBy, typer.Option(help="decomposed groups keep whole: enterprise or feeder")
    ] = "enterprise",
    group_resources: Annotated[
        int, typer.Option(parser=RESOURCE_COUNT, help="resources per decomposed group, about")
    ] = DispatchSettings().group_resources,
    workers: Annotated[
        int | None,
        typer.Option(parser=WORKERS, help="processes for decomposed groups \\[default: all CPUs]"),
    ] = None,
    dask: Annotated[
        str | None,
        typer.Option(help="solve decomposed groups on this Dask scheduler (tcp://host:8786)"),
    ] = None,
    rebound_cap: Annotated[
        str | None,
        typer.Option(
            help="portfolio load cap outside the window: baseline_peak, a figure \\[kW] or "
            "none \\[default: the district's rebound_cap]"
        ),
    ] = None,
    release_hold: Annotated[
        int | None,
        typer.Option(
            "--release-hold",
            parser=HOLD_MIN,
            help="minutes a curtailment may be held past the window so releases are "
            "staggered under the rebound cap; 0: all end with the window \\[default: 60]",
        ),
    ] = None,
    lp_first: Annotated[
        bool,
        typer.Option(
            "--lp-first",
            help="answer from the rounded LP relaxation where its bound proves the plan "
            "within --gap, else solve the MILP as without (docs/performance.md)",
        ),
    ] = False,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="say why each resource was called or not and what the target's last kW "
            "cost; writes explanation.json",
        ),
    ] = False,
) -> None:
    """Least-cost, rotation-aware dispatch of one event; the shortfall is reported, never hidden."""
    district = load_district(district_file)
    if target_kw is not None and target_pct is not None:
        raise fail("give one of --target-kw and --target-pct, not both")
    if dask is not None and not re.fullmatch(r"[a-z][a-z0-9+.-]*://\S+", dask):
        raise fail(f"--dask: expected a scheduler address such as tcp://host:8786, got {dask!r}")
    cap = parse_rebound_cap(rebound_cap)
    window_start, window_end = resolve_window(district, None, start, end, day)
    issued = parse_time(issued_at, district.tz, "--issued-at") if issued_at else None
    if issued is not None and issued > window_start:
        raise fail(
            f"--issued-at: {issued.isoformat()} is after the event start "
            f"{window_start.isoformat()}; an event is issued before it starts"
        )
    event = make_event(
        district,
        window_start,
        window_end,
        target_kw=target_kw,
        target_pct=target_pct,
        kind=kind,
        notice=notice,
        issued_at=issued,
    )
    problem, baselines = prepare_problem(district, event, baseline_method=baseline)
    writable_folder(out)
    settings = DispatchSettings(
        time_limit_s=time_limit_s,
        mip_rel_gap=gap,
        backend=backend,
        group_by=group_by,
        group_resources=group_resources,
        decompose_above_resources=(
            DispatchSettings().decompose_above_resources
            if decompose_above is None
            else decompose_above
        ),
        rebound_cap=cap,
        lp_first=lp_first,
        release_hold_max_min=(
            DispatchSettings().release_hold_max_min if release_hold is None else release_hold
        ),
    )
    explanation: DispatchExplanation | None = None
    limit = settings.decompose_above_resources
    decomposes = limit is not None and len(problem.refs()) > limit
    # the command owns the pool (or the Dask client): opened once, closed when it is done
    owner = dispatch_executor(workers, dask) if decomposes else nullcontext(None)
    with owner as executor, console.status("solving dispatch"):
        if explain:
            result, explanation = dispatch_explained(problem, settings, executor=executor)
        else:
            result = dispatch(problem, settings, executor=executor)
    paths = write_dispatch_files(result, out, event.issued_at)
    paths["plot"] = plot_dispatch(
        result, out / "dispatch.png", title=f"{district.name}: {event.event_id}"
    )
    print_summary(result)
    if explanation is not None:
        print_explanation(explanation, console)
        paths["explanation_json"] = write_explanation(explanation, out)
    elif explain:
        console.print(
            "[yellow]note[/]: no explanation: a decomposed dispatch has no single model to price "
            "(raise --decompose-above)"
        )
    for note in baselines.notes[:5]:
        console.print(f"[yellow]note[/]: {note}")
    if len(baselines.notes) > 5:
        console.print(f"[yellow]note[/]: ... and {len(baselines.notes) - 5} more baseline notes")
    for label, path in paths.items():
        console.print(f"wrote {label}: {path}")


def parse_rebound_cap(text: str | None) -> ReboundCap | None:
    """``--rebound-cap``: baseline_peak, none or a positive figure [kW]; None if not given."""
    if text is None:
        return None
    if text in ("baseline_peak", "none"):
        return "baseline_peak" if text == "baseline_peak" else "none"
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value) or value <= 0:
        raise fail(f"--rebound-cap: expected baseline_peak, none or kW above 0, got {text!r}")
    return value


def print_rebound(result: DispatchResult) -> None:
    """The planned load after the window against the cap and the baseline peak."""
    peak = result.baseline_peak_kw
    if result.rebound_cap_kw is None or peak is None:
        console.print("rebound: no cap")
        return
    line = (
        f"rebound: post-event peak {result.post_event_peak_kw:,.0f} kW planned, cap "
        f"{result.rebound_cap_kw:,.0f} kW (baseline peak {peak:,.0f} kW)"
    )
    if result.max_rebound_excess_kw > 1e-3:
        over = [i for i in result.intervals if i.rebound_excess_kw > 1e-3]
        console.print(
            f"{line}; [bold red]above the cap[/] by up to {result.max_rebound_excess_kw:,.1f} kW "
            f"in {len(over)} intervals: energy that must come back does not fit under it"
        )
    else:
        console.print(f"{line}: [green]held[/]")


def print_summary(result: DispatchResult) -> None:
    event = result.event
    headers = ("interval", "target \\[kW]", "baseline \\[kW]", "expected \\[kW]")
    columns = [Column(h) for h in (*headers, "response \\[kW]", "shortfall \\[kW]")]
    intervals = result.event_intervals
    print_table(
        console,
        columns,
        [
            [
                f"{i.start:%H:%M}",
                f"{i.target_kw:,.0f}",
                f"{i.baseline_kw:,.0f}",
                f"{i.expected_power_kw:,.0f}",
                f"{i.expected_response_kw:,.0f}",
                f"{i.shortfall_kw:,.1f}",
            ]
            for i in intervals
        ],
        row_styles=["red" if i.shortfall_kw > 1e-3 else None for i in intervals],
        title=f"{event.event_id}: {event.kind.value}, target {result.target_kw:,.0f} kW",
    )

    by_kind: dict[str, float] = defaultdict(float)
    used: dict[str, int] = defaultdict(int)
    window = result.grid.slice_of(event.start, event.end)
    for schedule in result.schedules:
        pairs = zip(schedule.baseline_kw[window], schedule.power_kw[window], strict=True)
        response = sum(event.direction * (b - p) for b, p in pairs)
        by_kind[schedule.kind] += response / max(1, window.stop - window.start)
        used[schedule.kind] += any(v is not None for v in schedule.setpoint_kw)
    print_table(
        console,
        [Column("kind", numeric=False), Column("dispatched"), Column("mean response \\[kW]")],
        [
            [kind_name, str(used[kind_name]), f"{value:,.0f}"]
            for kind_name, value in sorted(by_kind.items(), key=lambda kv: -kv[1])
        ],
        title="Mean response in the window by kind",
    )

    c, stats = result.costs, result.solve
    console.print(
        f"cost {c.cost_cny:,.2f} CNY (compensation {c.compensation_cny:,.2f}, degradation "
        f"{c.degradation_cny:,.2f}, energy {c.energy_cny:,.2f}; "
        f"rotation adder {c.rotation_cny:,.2f})"
    )
    gap_text = "n/a" if stats.mip_gap is None else f"{100 * stats.mip_gap:.3f}%"
    console.print(
        f"solver: [bold]{stats.status.value}[/] ({stats.termination}, gap {gap_text}, "
        f"{stats.backend}); build {stats.build_s:.3f} s, solve {stats.solve_s:.3f} s, "
        f"extract {stats.extract_s:.3f} s; {stats.n_variables} variables "
        f"({stats.n_integer} integer), {stats.n_constraints} constraints"
    )
    if result.meets_target:
        console.print(
            f"[bold green]target met[/] in all {len(result.event_intervals)} event intervals"
        )
    else:
        short = [i for i in result.event_intervals if i.shortfall_kw > 1e-3]
        console.print(
            f"[bold red]shortfall[/]: up to {result.max_shortfall_kw:,.1f} kW in {len(short)} of "
            f"{len(result.event_intervals)} intervals; "
            "this is the largest response the portfolio can give"
        )
    print_rebound(result)
    for violation in result.violations:
        console.print(f"[bold red]limit check failed[/]: {violation}")
