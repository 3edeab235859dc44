"""``vpp ocpp password``: a password per charge point for the OCPP central system.

Like gateway credentials: a random password shown once, only its hash stored (in the file
``vpp serve --ocpp-password-file`` reads at every login, so a new one works at once).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from vpp.cli.app import app, console, fail, reports_errors

ocpp_app = typer.Typer(help="OCPP 1.6J charge point credentials.", no_args_is_help=True)
app.add_typer(ocpp_app, name="ocpp")

DEFAULT_PASSWORD_FILE = Path("ocpp/passwd")


@ocpp_app.command("password")
@reports_errors
def password_command(
    charge_point_ids: Annotated[
        list[str] | None, typer.Argument(help="charge point ids (the last part of their URL)")
    ] = None,
    district: Annotated[
        Path | None,
        typer.Option(
            help="issue for every charge point of the district's OCPP pools that has none",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    password_file: Annotated[
        Path, typer.Option(help="hashed passwords, one charge_point_id:hash line each")
    ] = DEFAULT_PASSWORD_FILE,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Issue a new password to each charge point named (replacing its old one) and print it.

    The charge point logs in with HTTP basic auth: user = its id, this password (OCPP
    security profile 1; profile 2 when vpp serve has --ocpp-tls-cert).
    """
    from vpp.device_adapters.ocpp import OcppConnection, issue_password
    from vpp.device_adapters.ocpp.credentials import read_password_file
    from vpp.device_adapters.registry import connection_of

    ids = list(charge_point_ids or [])
    if district is not None:
        from vpp.config import load_district

        known = read_password_file(password_file)
        for ref in load_district(district).resources():
            if ref.protocol == "ocpp":
                for cp in connection_of(ref, OcppConnection).charge_points:
                    if cp.charge_point_id not in known and cp.charge_point_id not in ids:
                        ids.append(cp.charge_point_id)
    if not ids and district is None:
        raise fail("name at least one charge point id, or give --district")
    try:
        issued = {cp_id: issue_password(password_file, cp_id) for cp_id in ids}
    except ValueError as exc:
        raise fail(str(exc)) from None
    if as_json:
        console.print_json(data={"password_file": str(password_file), "issued": issued})
        return
    table = Table("charge point", "password")
    for cp_id, password in issued.items():
        table.add_row(cp_id, password)
    console.print(table)
    console.print(
        f"{len(issued)} password(s) written hashed to {password_file}; they are shown only now.",
        highlight=False,
        soft_wrap=True,
    )
