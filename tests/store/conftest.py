"""The store tests run against SQLite and PostgreSQL.

PostgreSQL comes from ``VPP_TEST_PG_URL`` (default: the local server, as `.ci/run` starts
it); the session creates a database of its own there and drops it afterwards. When no
server answers, the PostgreSQL cases are skipped and say why.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from postgres_database import pg_database as _pg_database
from postgres_database import reset
from vpp.store import Store, open_store


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    yield from _pg_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'vpp.db'}"
    url: str = request.getfixturevalue("pg_database")
    reset(url)
    return url


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    async with open_store(db_url) as opened:
        yield opened
