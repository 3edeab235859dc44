"""``vpp dispatch --explain``: the top reasons in a table that fits the terminal; all as JSON."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from rich.console import Console

from vpp.cli.tables import Column, print_table
from vpp.domain import DispatchExplanation, Reason, ResourceExplanation

#: Resources listed in the printout; the JSON has every one.
TOP_ROWS = 15


def write_explanation(explanation: DispatchExplanation, out_dir: Path) -> Path:
    """Write ``explanation.json`` (beside ``dispatch.json``) and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "explanation.json"
    path.write_text(json.dumps(explanation.model_dump(mode="json"), indent=1), encoding="utf-8")
    return path


#: Which reasons the printout lists first: the margin, then who was left out on price or a
#: limit, then on its own data, then the cheaper called ones; what cannot respond last.
_PRIORITY = {
    Reason.SETS_MARGINAL_PRICE: 0,
    Reason.CALLED_FOR_FIT: 0,
    Reason.ROTATION_TIPPED: 1,
    Reason.FEEDER_LIMIT: 1,
    Reason.REBOUND_CAP: 1,
    Reason.STEP_TOO_LARGE: 1,
    Reason.DEARER_THAN_MARGINAL: 1,
    Reason.NO_HEADROOM: 1,
    Reason.NOTICE_TOO_SHORT: 2,
    Reason.MAX_EVENTS_REACHED: 2,
    Reason.NOT_AVAILABLE: 2,
    Reason.CHEAPER_THAN_MARGINAL: 3,
    Reason.CANNOT_RESPOND: 4,
}


def _order(r: ResourceExplanation) -> tuple[int, int, str]:
    """The decisive reasons first; within each, merit order."""
    return (_PRIORITY[r.reason], r.merit_position or 10**9, r.key)


def _families(labels: tuple[str, ...], at_most: int = 4) -> str:
    """``family (n resources)`` for the first families of ``<family> (<resource>)`` labels."""
    counts = Counter(label.split(" (")[0] for label in labels)
    parts = [f"{family} ({n})" if n > 1 else family for family, n in counts.items()]
    more = f" and {len(parts) - at_most} more" if len(parts) > at_most else ""
    return ", ".join(parts[:at_most]) + more


def print_explanation(explanation: DispatchExplanation, console: Console) -> None:
    """The top reasons, the target's marginal cost and, for a shortfall, what binds."""
    rows = sorted(explanation.resources, key=_order)
    columns = [Column("#"), Column("resource", numeric=False), Column("called")]
    columns += [Column("price\n\\[CNY/kWh]")]
    # one figure for every row, printed again below the table: the first to go when narrow
    columns += [Column("marginal\n\\[CNY/kWh]", optional=1), Column("response\n\\[kW]")]
    columns += [Column("reason: why", numeric=False)]
    shown = [
        [
            "-" if r.merit_position is None else str(r.merit_position),
            f"{r.enterprise_id}/{r.resource_id}",
            "yes" if r.called else "no",
            "-"
            if r.effective_price_cny_per_kwh is None
            else f"{r.effective_price_cny_per_kwh:,.3f}",
            f"{r.marginal_cost_cny_per_kwh:,.3f}",
            f"{r.mean_response_kw:,.0f}",
            f"[bold]{r.reason.value}[/]: {r.detail}",
        ]
        for r in rows[:TOP_ROWS]
    ]
    print_table(
        console, columns, shown, title=f"Why: {explanation.event_id}, the decisive reasons first"
    )
    if len(rows) > TOP_ROWS:
        counts = Counter((r.called, r.reason.value) for r in rows)
        print_table(
            console,
            [Column("called"), Column("reason", numeric=False), Column("resources")],
            [
                ["yes" if called else "no", reason, str(n)]
                for (called, reason), n in sorted(counts.items(), key=lambda kv: -kv[1])
            ],
            title=f"All {len(rows)} resources by reason",
        )
        console.print(f"{len(rows) - TOP_ROWS} more resources in explanation.json")
    console.print(
        f"marginal cost of the target: [bold]{explanation.marginal_cost_cny_per_kwh:,.3f}[/] "
        "CNY/kWh (one more kW through the event)"
    )
    at_price = any(r.reason is Reason.SETS_MARGINAL_PRICE for r in explanation.resources)
    if not at_price and explanation.binding_constraints and explanation.shortfall is None:
        console.print(
            "no asked price sets it; the limits that bind, largest shadow price first: "
            + _families(explanation.binding_constraints)
        )
    shortfall = explanation.shortfall
    if shortfall is not None:
        console.print(
            f"shortfall up to {shortfall.max_shortfall_kw:,.1f} kW: the cheapest extra kW "
            f"costs {shortfall.extra_kw_cost_cny_per_kwh:,.2f} CNY/kWh (unserved, at the "
            "shortfall penalty); binding: " + _families(shortfall.binding_constraints)
        )
    if explanation.status != "explained":
        console.print(f"[yellow]note[/]: {explanation.status}")
