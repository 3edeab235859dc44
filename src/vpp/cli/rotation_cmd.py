"""``vpp rotation``: who was called how often over the rotation window, and how fairly."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from vpp.cli.app import app, console, fail, reports_errors
from vpp.cli.options import parse_moment
from vpp.cli.tables import Column, print_table
from vpp.config import load_district
from vpp.domain import EnterpriseRotation, fairness, rotation_counts
from vpp.rotation_ledger import read_ledger

#: The window ends just after the last entry, so it counts.
_EPSILON = timedelta(seconds=1)

_HELP = (
    "Show, per enterprise of DISTRICT_FILE, its calls, asked and delivered energy [kWh] and "
    "net earnings [CNY] recorded in LEDGER (a JSON-lines rotation ledger that `vpp simulate "
    "--ledger` appends to) over the district's rotation window, its registered flexibility "
    "and calls per MW of it, and the fairness figure: the spread (max - min) and coefficient "
    "of variation of calls per MW; 0 is perfectly even. The counts column is what the "
    "optimiser's rotation adder would read now (rounds included). docs/rotation.md explains. "
    "Exit code 2 on wrong input."
)


@app.command("rotation", help=_HELP)
@reports_errors
def rotation(
    ledger_file: Annotated[Path, typer.Argument(help="rotation ledger (JSON lines)")],
    district_file: Annotated[Path, typer.Argument(help="district YAML file")],
    at: Annotated[
        str | None,
        typer.Option(help="ISO time the window ends at [default: after the last entry]"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Rotation over the window (see the help text above)."""
    if not ledger_file.is_file():
        raise fail(f"LEDGER: {ledger_file} is not a file")
    ledger = read_ledger(ledger_file)
    district = load_district(district_file)
    until = _until(at, [e.start for e in ledger.entries])
    window = ledger.between(district.rotation.window_start(until), until)
    rows = window.summary(district)
    counts = rotation_counts(district, ledger, until)
    spread, cv = fairness(rows)
    if as_json:
        doc = {
            "until": until.isoformat(),
            "events": len({(e.event_id, e.start) for e in window.entries}),
            "fairness": {"calls_per_mw_spread": spread, "calls_per_mw_cv": cv},
            "enterprises": [
                r.model_dump(mode="json") | {"rotation_count": counts.get(r.enterprise_id, 0)}
                for r in rows
            ],
        }
        typer.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    n_events = len({(e.event_id, e.start) for e in window.entries})
    _print_rows(rows, counts, n_events, until)
    console.print(
        f"fairness: calls per MW of registered flexibility spread {spread:.2f} "
        f"(max - min), coefficient of variation {cv:.2f}",
        highlight=False,
    )


def _until(at: str | None, starts: list[datetime]) -> datetime:
    if at is None:
        return max(starts, default=datetime.now(UTC)) + _EPSILON
    return parse_moment(at, "--at")


def _print_rows(
    rows: list[EnterpriseRotation], counts: dict[str, int], n_events: int, until: datetime
) -> None:
    names = ("calls", "asked", "deliv.", "net", "flex", "/MW", "count")
    print_table(
        console,
        [Column("enterprise", numeric=False), *(Column(name) for name in names)],
        [
            [
                r.enterprise_id,
                str(r.calls),
                f"{r.asked_kwh:,.0f}",
                f"{r.delivered_kwh:,.0f}",
                f"{r.net_cny:,.0f}",
                f"{r.flexibility_kw:,.0f}",
                "-" if r.calls_per_mw is None else f"{r.calls_per_mw:.2f}",
                str(counts.get(r.enterprise_id, 0)),
            ]
            for r in rows
        ],
        title=f"rotation over {n_events} events up to {until:%Y-%m-%d %H:%M}",
        caption="energy \\[kWh], net \\[CNY], flex \\[kW]; count: what the optimiser reads now",
    )
