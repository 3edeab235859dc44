"""``vpp protocols``: the device protocols a site may name, and whether each can run here."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from vpp.cli.app import app, console, reports_errors
from vpp.device_adapters.registry import UnknownProtocolError, known_protocols, protocol

_HELP = (
    "List the device protocols a site (or one resource) may name in its registration "
    "(`protocol: mqtt` by default): built-in ones and those installed through the "
    "`vpp.device_protocols` entry-point group. A protocol that cannot be loaded here is listed "
    "with the reason. --json prints one JSON document."
)


def protocols_document() -> list[dict[str, Any]]:
    """One entry per known protocol: its summary, whether it takes a connection block and
    reaches resources registered while it runs, or why it cannot be loaded."""
    out: list[dict[str, Any]] = []
    for name in known_protocols():
        try:
            spec = protocol(name)
        except UnknownProtocolError as exc:
            out.append({"name": name, "available": False, "error": str(exc.args[0])})
            continue
        out.append(
            {
                "name": name,
                "available": True,
                "summary": spec.summary,
                "connection_block": spec.connection_model is not None,
                "late_resources": spec.late_resources,
            }
        )
    return out


@app.command("protocols", help=_HELP)
@reports_errors
def protocols(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """List the device protocols (see the help text above)."""
    document = protocols_document()
    if as_json:
        console.print_json(json.dumps({"protocols": document}))
        return
    table = Table(title="Device protocols")
    table.add_column("protocol")
    table.add_column("summary")
    table.add_column("connection block")
    for entry in document:
        if entry["available"]:
            block = "yes" if entry["connection_block"] else "no"
            table.add_row(entry["name"], entry["summary"], block)
        else:
            table.add_row(entry["name"], f"[red]{escape(entry['error'])}[/]", "")
    console.print(table)
