"""A PostgreSQL database of its own for a test session (store and service tests).

The server comes from ``VPP_TEST_PG_URL`` (default: the local server, as `.ci/run` starts
it); the session creates a database there and drops it afterwards. When no server
answers, PostgreSQL cases are skipped and say why.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator

import asyncpg
import pytest
from sqlalchemy.engine import make_url

PG_URL = os.environ.get("VPP_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def _dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(_dsn(PG_URL), timeout=3)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session; its SQLAlchemy URL."""
    name = f"vpp_test_{secrets.token_hex(4)}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        pytest.skip(f"PostgreSQL at {PG_URL} unreachable ({exc}); set VPP_TEST_PG_URL")
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _reset(url: str) -> None:
    connection = await asyncpg.connect(_dsn(url))
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await connection.close()


def reset(url: str) -> None:
    """An empty public schema: every table and the migration state gone."""
    asyncio.run(_reset(url))
