"""The Modbus harness as a fixture (modbus_harness.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from modbus_harness import Harness, start_harness


@pytest_asyncio.fixture
async def modbus() -> AsyncIterator[Harness]:
    harness = await start_harness()
    try:
        yield harness
    finally:
        await harness.adapter.kill()
        await harness.site.stop()
