"""``vpp token``: issue, list and revoke API tokens straight in the database (the first
admin token cannot come from the API)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from vpp.cli.app import app, console, reports_errors
from vpp.store import DEFAULT_DB_URL, Role, open_store

token_app = typer.Typer(help="Issue, list and revoke API tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")

DbOption = Annotated[str, typer.Option(help="database URL (as for vpp serve)")]


@token_app.command("create")
@reports_errors
def create_command(
    role: Annotated[Role, typer.Option(help="what the token may do")],
    enterprise: Annotated[
        str | None, typer.Option(help="the enterprise an enterprise token is scoped to")
    ] = None,
    name: Annotated[str | None, typer.Option(help="a note: who holds it")] = None,
    db: DbOption = DEFAULT_DB_URL,
) -> None:
    """Print a new token's secret (shown once; only its hash is stored)."""

    async def create() -> str:
        async with open_store(db) as store:
            _, secret = await store.tokens.create(role, datetime.now(UTC), enterprise, name)
            return secret

    print(asyncio.run(create()))


@token_app.command("revoke")
@reports_errors
def revoke_command(
    token_id: Annotated[str, typer.Argument(help="the id `vpp token list` shows")],
    db: DbOption = DEFAULT_DB_URL,
) -> None:
    """Revoke a token: the API answers it with 401 from now on."""

    async def revoke() -> None:
        async with open_store(db) as store:
            await store.tokens.revoke(token_id, datetime.now(UTC))

    asyncio.run(revoke())
    console.print(f"revoked {token_id}", highlight=False)


@token_app.command("list")
@reports_errors
def list_command(db: DbOption = DEFAULT_DB_URL) -> None:
    """Every token: id, role, scope, when issued and revoked (never the secret)."""

    async def everything() -> list[tuple[str, ...]]:
        async with open_store(db) as store:
            return [
                (
                    t.token_id,
                    t.role.value,
                    t.enterprise_id or "",
                    t.name or "",
                    f"{t.created_at:%Y-%m-%d %H:%M}",
                    f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "",
                )
                for t in await store.tokens.all()
            ]

    rows = asyncio.run(everything())
    if not rows:
        console.print("no tokens yet: `vpp token create --role admin` issues the first one")
        return
    table = Table(title="API tokens")
    for column in ("id", "role", "enterprise", "name", "created (UTC)", "revoked (UTC)"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)
