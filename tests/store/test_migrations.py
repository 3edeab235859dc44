"""Opening databases and migrating them: the Alembic revisions build exactly the schema
the ORM declares, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from vpp.store import DatabaseUrlError, Store, create_engine
from vpp.store.engine import current_revision, head_revision
from vpp.store.tables import Base


async def test_upgrade_reaches_head_and_matches_the_declared_tables(store: Store) -> None:
    assert await current_revision(store.engine) == head_revision()
    async with store.engine.connect() as connection:
        diff = await connection.run_sync(
            lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
        )
    assert diff == []


@pytest.mark.parametrize(
    "url",
    ["mysql+aiomysql://x/y", "sqlite:///plain.db", "not a url"],
    ids=["other-database", "sync-driver", "garbage"],
)
def test_create_engine_refuses_unsupported_urls_by_name(url: str) -> None:
    with pytest.raises(DatabaseUrlError, match="--db"):
        create_engine(url)
