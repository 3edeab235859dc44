"""``vpp gateways provision``: broker accounts, ACL and config for every site's gateway.

From a district file or the service's registry (``--db``). Re-provisioning keeps the
accounts already in the folder's password file (or the registry) unless ``--rotate``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from vpp.cli.app import app, console, fail, reports_errors

if TYPE_CHECKING:
    from vpp.device_adapters.mqtt.broker_files import BrokerUser, IssuedCredentials

gateways_app = typer.Typer(
    help="Broker credentials, ACL and config for field gateways.", no_args_is_help=True
)
app.add_typer(gateways_app, name="gateways")


@gateways_app.command("provision")
@reports_errors
def provision_command(
    district_file: Annotated[
        Path | None,
        typer.Argument(help="district file whose sites get gateways (or give --db)", exists=True),
    ] = None,
    out: Annotated[
        Path, typer.Option(help="folder for passwd, acl, mosquitto.conf and credentials")
    ] = Path("broker"),
    db: Annotated[
        str | None, typer.Option(help="provision the sites of this service database instead")
    ] = None,
    rotate: Annotated[
        bool, typer.Option("--rotate", help="issue new passwords to every account")
    ] = False,
) -> None:
    """Write a Mosquitto password file, ACL and config, and one credentials file per site.

    A gateway (user gw-SITE) may publish only its own site's telemetry, acks and status
    and read only its own setpoints; only the controller (user vpp-controller) publishes
    setpoints. Existing accounts keep their passwords unless --rotate.
    """
    from vpp.device_adapters.mqtt.broker_files import (
        PASSWORD_FILE,
        plan_users,
        read_password_file,
    )

    if (district_file is None) == (db is None):
        raise fail("give either a district file or --db (the service's registry), not both")
    if db is not None:
        users, issued = asyncio.run(_provision_registry(db, rotate))
    else:
        from vpp.config import load_district

        assert district_file is not None
        district = load_district(district_file)
        site_ids = [s.site_id for e in district.enterprises for s in e.sites]
        users, issued = plan_users(site_ids, read_password_file(out / PASSWORD_FILE), rotate=rotate)
    _write(out, users, issued)


async def _provision_registry(
    db: str, rotate: bool
) -> tuple[list[BrokerUser], list[IssuedCredentials]]:
    from vpp.store import open_store

    async with open_store(db) as store:
        site_ids = [s.site_id for e in await store.enterprises.all() for s in e.sites]
        return await store.gateway_credentials.provision(site_ids, datetime.now(UTC), rotate=rotate)


def _write(out: Path, users: list[BrokerUser], issued: list[IssuedCredentials]) -> None:
    from vpp.device_adapters.mqtt.broker_files import (
        remove_stale_credentials,
        write_broker_files,
        write_credentials,
    )

    written = write_broker_files(out, users)
    files = {c.username: write_credentials(out, c) for c in issued}
    removed = remove_stale_credentials(out, [u.site_id for u in users if u.site_id is not None])
    table = Table("user", "site", "password", "credentials file")
    for user in users:
        path = files.get(user.username)
        table.add_row(
            user.username,
            user.site_id or "(controller)",
            "new" if path is not None else "kept",
            "" if path is None else str(path),
        )
    console.print(table)
    for path in written:
        console.print(f"wrote {path}", highlight=False, soft_wrap=True)
    for path in removed:
        console.print(f"removed {path} (site no longer registered)", highlight=False)
    console.print(
        f"{len(issued)} account(s) issued, {len(users) - len(issued)} kept; give each gateway "
        "its own credentials file only. Reload the broker (SIGHUP) to apply.",
        highlight=False,
    )
