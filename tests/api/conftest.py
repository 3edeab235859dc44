"""Fixtures of the API tests (helpers in api_helpers)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from api_helpers import Api, open_api, settings_for

from postgres_database import pg_database as _pg_database


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    """The service on the wall clock: events stay ahead, nothing moves on its own."""
    async with open_api(settings_for(tmp_path)) as opened:
        yield opened


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    yield from _pg_database()
