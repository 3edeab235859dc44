"""``vpp token``: the first admin token comes from the command line."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vpp.cli import app
from vpp.store import Role, TokenInfo, open_store

runner = CliRunner()


def lookup(db: str, secret: str) -> TokenInfo | None:
    async def find() -> TokenInfo | None:
        async with open_store(db) as store:
            return await store.tokens.authenticate(secret)

    return asyncio.run(find())


def test_create_prints_a_secret_the_store_authenticates(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'vpp.db'}"
    result = runner.invoke(
        app, ["token", "create", "--role", "enterprise", "--enterprise", "ent-042", "--db", db]
    )
    assert result.exit_code == 0, result.output
    secret = result.output.strip()
    info = lookup(db, secret)
    assert info is not None
    assert (info.role, info.enterprise_id) == (Role.ENTERPRISE, "ent-042")


def test_list_shows_tokens_without_secrets_and_revoke_disables_one(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'vpp.db'}"
    secret = runner.invoke(app, ["token", "create", "--role", "admin", "--db", db]).output.strip()
    token_id = secret.split("_")[1]
    listed = runner.invoke(app, ["token", "list", "--db", db])
    assert listed.exit_code == 0
    assert token_id in listed.output
    assert secret not in listed.output
    revoked = runner.invoke(app, ["token", "revoke", token_id, "--db", db])
    assert revoked.exit_code == 0, revoked.output
    assert lookup(db, secret) is None


def test_wrong_scope_or_unknown_token_exits_2_with_the_reason(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'vpp.db'}"
    unscoped = runner.invoke(app, ["token", "create", "--role", "enterprise", "--db", db])
    assert unscoped.exit_code == 2
    assert "enterprise: required for role enterprise" in unscoped.output
    unknown = runner.invoke(app, ["token", "revoke", "000000000000", "--db", db])
    assert unknown.exit_code == 2
    assert "token_id: unknown" in unknown.output
    bad_db = runner.invoke(app, ["token", "list", "--db", "mysql://x/y"])
    assert bad_db.exit_code == 2
    assert "--db" in bad_db.output


@pytest.mark.parametrize(
    "db",
    ["sqlite+aiosqlite:////nonexistent/folder/vpp.db", "postgresql+asyncpg://nobody@127.0.0.1:1/x"],
    ids=["sqlite-no-folder", "postgres-nobody-there"],
)
def test_a_database_that_cannot_be_opened_exits_2_naming_db(db: str) -> None:
    result = runner.invoke(app, ["token", "list", "--db", db])
    assert result.exit_code == 2
    assert result.output.startswith("error: --db: cannot use the database")
    assert "Traceback" not in result.output
