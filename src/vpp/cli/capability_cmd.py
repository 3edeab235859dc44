"""``vpp capability``: can the district deliver its required response in a window?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from vpp.cli.app import app, console, reports_errors
from vpp.cli.options import TIME_LIMIT_S, resolve_window
from vpp.cli.tables import Column, print_table
from vpp.config import load_district
from vpp.domain import Notice
from vpp.optimizer import CapabilityReport, DispatchSettings, capability, process_pool
from vpp.planning import make_event, prepare_problem


@app.command("capability")
@reports_errors
def capability_command(
    district_file: Annotated[Path, typer.Argument(help="district YAML file")],
    window: Annotated[
        str | None,
        typer.Option(help="START/END, e.g. 2026-07-15T11:00/2026-07-15T13:00 (local time)"),
    ] = None,
    day: Annotated[
        str | None,
        typer.Option(
            help="day whose peak hours to assess when --window is absent \\[default: today]"
        ),
    ] = None,
    notice: Annotated[
        Notice, typer.Option(help="notice the resources would get")
    ] = Notice.DAY_AHEAD,
    baseline: Annotated[
        str, typer.Option(help="baseline method for curtailable loads")
    ] = "jiangsu",
    time_limit_s: Annotated[
        float,
        typer.Option("--time-limit", parser=TIME_LIMIT_S, help="solver time limit per solve \\[s]"),
    ] = 10.0,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of tables")] = False,
) -> None:
    """Maximum response each resource kind and enterprise can sustain, against the target.

    Exit code 0 on PASS, 1 on FAIL, 2 on wrong input.
    """
    district = load_district(district_file)
    start, end = resolve_window(district, window, None, None, day)
    event = make_event(district, start, end, notice=notice, event_id="capability")
    problem, _ = prepare_problem(district, event, baseline_method=baseline)
    settings = DispatchSettings(time_limit_s=time_limit_s, mip_rel_gap=1e-4)
    with process_pool() as pool:  # the command's own; processes start only if it decomposes
        report = capability(problem, settings, executor=pool)
    names = {e.enterprise_id: e.name for e in district.enterprises}
    if as_json:
        console.print_json(
            json.dumps(report_document(report, start.isoformat(), end.isoformat(), names))
        )
    else:
        _print_report(report, f"{start:%Y-%m-%d %H:%M}-{end:%H:%M} ({district.timezone})", names)
    if not report.meets_target:
        raise typer.Exit(1)


def report_document(
    report: CapabilityReport, start: str, end: str, names: dict[str, str]
) -> dict[str, object]:
    return {
        "district_peak_kw": report.district_peak_kw,
        "target_pct": report.target_pct,
        "target_kw": report.target_kw,
        "deliverable_kw": round(report.deliverable_kw, 3),
        "percent_of_peak": round(report.percent_of_peak, 3),
        "meets_target": report.meets_target,
        "margin_kw": round(report.margin_kw, 3),
        "window": {"start": start, "end": end},
        "solver_status": report.status.value,
        "by_kind_kw": {k: round(v, 3) for k, v in report.by_kind_kw.items()},
        "by_enterprise": [
            {"enterprise_id": k, "name": names.get(k, k), "deliverable_kw": round(v, 3)}
            for k, v in sorted(report.by_enterprise_kw.items(), key=lambda kv: -kv[1])
        ],
    }


KIND_COLUMN = Column("resource kind", numeric=False)
ALONE_COLUMN = Column("alone \\[kW]")


def _print_report(report: CapabilityReport, window_text: str, names: dict[str, str]) -> None:
    print_table(
        console,
        [KIND_COLUMN, Column("resources"), ALONE_COLUMN, Column("% of peak")],
        [
            [
                kind,
                str(report.resource_count_by_kind.get(kind, 0)),
                f"{value:,.0f}",
                f"{100 * value / report.district_peak_kw:.2f}",
            ]
            for kind, value in sorted(report.by_kind_kw.items(), key=lambda kv: -kv[1])
        ],
        title=f"Deliverable response by resource kind, {window_text}",
    )
    print_table(
        console,
        [Column("enterprise", numeric=False), Column("name", numeric=False), ALONE_COLUMN],
        [
            [enterprise_id, names.get(enterprise_id, ""), f"{value:,.0f}"]
            for enterprise_id, value in sorted(
                report.by_enterprise_kw.items(), key=lambda kv: -kv[1]
            )
        ],
        title="Deliverable response by enterprise (alone)",
    )
    summary = Table(title="District", show_header=False)
    summary.add_column(justify="left")
    summary.add_column(justify="right")
    summary.add_row("district peak", f"{report.district_peak_kw:,.0f} kW")
    summary.add_row(f"target ({report.target_pct:g}% of peak)", f"{report.target_kw:,.0f} kW")
    summary.add_row(
        "deliverable (all together, every interval)", f"{report.deliverable_kw:,.0f} kW"
    )
    summary.add_row("reached", f"{report.percent_of_peak:.2f}% of peak")
    summary.add_row(
        "margin" if report.margin_kw >= 0 else "shortfall", f"{abs(report.margin_kw):,.0f} kW"
    )
    summary.add_row("solver", report.status.value)
    console.print(summary)
    if report.meets_target:
        console.print(
            f"[bold green]PASS[/]: deliverable {report.deliverable_kw:,.0f} kW >= target "
            f"{report.target_kw:,.0f} kW ({report.percent_of_peak:.2f}% of peak, margin "
            f"{report.margin_kw:,.0f} kW)"
        )
    else:
        console.print(
            f"[bold red]FAIL[/]: deliverable {report.deliverable_kw:,.0f} kW < target "
            f"{report.target_kw:,.0f} kW: short by {-report.margin_kw:,.0f} kW "
            f"({report.percent_of_peak:.2f}% of peak reached)"
        )
