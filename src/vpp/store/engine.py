"""Opening the database and bringing its schema up to date (Alembic, run in-process)."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from vpp.domain import VppError

#: Default database: a SQLite file in the working directory.
DEFAULT_DB_URL = "sqlite+aiosqlite:///./vpp.db"

SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")


class DatabaseUrlError(VppError, ValueError):
    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        super().__init__(f"--db {url!r}: {reason}")


def create_engine(url: str) -> AsyncEngine:
    """An async engine for a supported URL; SQLite gets WAL and foreign keys."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUrlError(url, "not a database URL") from None
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise DatabaseUrlError(url, f"driver must be one of {', '.join(SUPPORTED_DRIVERS)}")
    engine = create_async_engine(parsed)
    if parsed.drivername.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", "vpp.store:migrations")
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply every migration up to ``revision``."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, revision)


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda c: MigrationContext.configure(c).get_current_revision()
        )


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
