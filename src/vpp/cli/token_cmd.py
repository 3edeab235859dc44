"""``vpp token``: issue, list and revoke API tokens straight in the database (the first
admin token cannot come from the API)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from vpp.cli.app import app, console, fail, reports_errors
from vpp.store import DEFAULT_DB_URL, Role, open_store

token_app = typer.Typer(help="Issue, list and revoke API tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")

DbOption = Annotated[str, typer.Option(help="database URL (as for vpp serve)")]

T = TypeVar("T")


def _sqlite_folder(db: str) -> Path | None:
    """The folder an SQLite database file would live in; None for other databases."""
    try:
        url = make_url(db)
    except ArgumentError:
        return None  # the store names the wrong URL itself
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    return Path(url.database).parent


def _on_store(db: str, work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` against the database; one that cannot be opened is an error naming --db."""
    folder = _sqlite_folder(db)
    if folder is not None and not folder.is_dir():
        work.close()  # never started: an SQLite file cannot be made there
        raise fail(f"--db: cannot use the database {db}: no folder {folder}")
    try:
        return asyncio.run(work)
    except (SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise fail(f"--db: cannot use the database {db}: {reason}") from None


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

    print(_on_store(db, create()))


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

    _on_store(db, revoke())
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

    rows = _on_store(db, everything())
    if not rows:
        console.print("no tokens yet: `vpp token create --role admin` issues the first one")
        return
    table = Table(title="API tokens")
    for column in ("id", "role", "enterprise", "name", "created (UTC)", "revoked (UTC)"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)
