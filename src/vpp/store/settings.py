"""Small facts the service keeps across restarts, by key."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vpp.store.tables import SettingRow


class Settings:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def get(self, key: str) -> dict[str, Any] | None:
        async with self._sessions() as session:
            row = await session.get(SettingRow, key)
            return None if row is None else row.value

    async def put(self, key: str, value: dict[str, Any]) -> None:
        async with self._sessions.begin() as session:
            await session.merge(SettingRow(key=key, value=value))
