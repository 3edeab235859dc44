"""The store: one object the service and the CLI open, holding one repository per concern."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from vpp.store.engine import create_engine, upgrade
from vpp.store.events import Events
from vpp.store.gateway_credentials import GatewayCredentials
from vpp.store.records import Records
from vpp.store.registrations import Registrations
from vpp.store.rotation import Rotation
from vpp.store.settings import Settings
from vpp.store.simulations import Simulations
from vpp.store.tokens import Tokens


class Store:
    """Repositories over one database; every write is one transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.enterprises = Registrations(sessions)
        self.events = Events(sessions)
        self.records = Records(sessions)
        self.tokens = Tokens(sessions)
        self.simulations = Simulations(sessions)
        self.settings = Settings(sessions)
        self.gateway_credentials = GatewayCredentials(sessions)
        self.rotation = Rotation(sessions)

    async def close(self) -> None:
        await self.engine.dispose()


@asynccontextmanager
async def open_store(url: str, *, migrate: bool = True) -> AsyncIterator[Store]:
    """Open the database at ``url``, bring its schema to the latest revision, close after."""
    store = Store(create_engine(url))
    try:
        if migrate:
            await upgrade(store.engine)
        yield store
    finally:
        await store.close()
