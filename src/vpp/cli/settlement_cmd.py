"""``vpp settlement``: each enterprise's earnings across the events of a folder of reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from vpp.cli.app import app, console, fail, reports_errors
from vpp.cli.tables import Column, print_table
from vpp.report.settlements import ReportLine, read_settlement_lines, report_files
from vpp.settlement import EnterpriseTotals, enterprise_totals

_HELP = (
    "Total each enterprise's settlement over every event of the simulation reports under "
    "FOLDER (each `vpp simulate --out` folder's report.json, at any depth).\n\n"
    "Per enterprise: events it was asked something in, events it was asked nothing in "
    "(unasked response: neither paid nor penalised), asked and delivered energy [kWh], the "
    "ratio over all of them, payment, penalty and net [CNY]. The rules are in "
    "docs/settlement.md. --json prints the totals as JSON. Exit code 2 on wrong input."
)


@app.command("settlement", help=_HELP)
@reports_errors
def settlement(
    folder: Annotated[Path, typer.Argument(help="folder of simulation reports, or one report")],
    enterprise: Annotated[
        str | None, typer.Option("--enterprise", help="only this enterprise_id")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Total the settlement lines of a folder of reports (see the help text above)."""
    if not folder.exists():
        raise fail(f"FOLDER: {folder} does not exist")
    files = report_files(folder)
    if not files:
        raise fail(f"FOLDER: no report.json under {folder} (write them with `vpp simulate --out`)")
    lines = [line for path in files for line in read_settlement_lines(path)]
    totals = totals_by_enterprise(lines, enterprise)
    if enterprise is not None and not totals:
        raise fail(f"--enterprise: {enterprise!r} has no settlement line in {len(files)} reports")
    if as_json:
        doc = {
            "reports": [str(p) for p in files],
            "events": len({(line.report, line.event_id) for line in lines}),
            "enterprises": [t.model_dump(mode="json") for t in totals],
        }
        typer.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    _print_totals(totals, len(files), len({(line.report, line.event_id) for line in lines}))


def totals_by_enterprise(lines: list[ReportLine], only: str | None) -> list[EnterpriseTotals]:
    """One total per enterprise, in order of first appearance."""
    by_enterprise: dict[str, list[ReportLine]] = {}
    for line in lines:
        if only is None or line.line.enterprise_id == only:
            by_enterprise.setdefault(line.line.enterprise_id, []).append(line)
    return [
        enterprise_totals(enterprise_id, (x.line for x in mine))
        for enterprise_id, mine in by_enterprise.items()
    ]


def _print_totals(totals: list[EnterpriseTotals], n_reports: int, n_events: int) -> None:
    rows = [_row(t) for t in totals if t.events]
    total = (
        "total",
        str(sum(t.events for t in totals)),
        f"{sum(t.asked_kwh for t in totals):,.0f}",
        f"{sum(t.delivered_kwh for t in totals):,.0f}",
        "",
        f"{sum(t.payment_cny for t in totals):,.0f}",
        f"{sum(t.penalty_cny for t in totals):,.0f}",
        f"{sum(t.net_cny for t in totals):,.0f}",
    )
    names = ("events", "asked", "deliv.", "ratio", "paid", "pen.", "net")
    print_table(
        console,
        [Column("enterprise", numeric=False), *(Column(name) for name in names)],
        rows,
        total=total,
        title=f"settlement totals over {n_events} events in {n_reports} reports",
        caption="energy \\[kWh], money \\[CNY]; events: those it was asked something in",
    )
    unasked = [t for t in totals if t.unasked_events]
    if unasked:
        listed = ", ".join(
            f"{t.enterprise_id} {t.unasked_events} events {t.unasked_kwh:,.1f} kWh" for t in unasked
        )
        console.print(
            f"unasked response (asked nothing: not paid, not penalised): {listed}",
            highlight=False,
        )


def _row(t: EnterpriseTotals) -> tuple[str, ...]:
    ratio = "-" if t.performance_ratio is None else f"{t.performance_ratio:.2f}"
    return (
        t.enterprise_id,
        str(t.events),
        f"{t.asked_kwh:,.0f}",
        f"{t.delivered_kwh:,.0f}",
        ratio,
        f"{t.payment_cny:,.0f}",
        f"{t.penalty_cny:,.0f}",
        f"{t.net_cny:,.0f}",
    )
