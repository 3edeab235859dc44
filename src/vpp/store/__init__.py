"""Persistence: SQLAlchemy 2 (async) on SQLite by default or PostgreSQL, Alembic migrations.

Registrations are kept as validated domain JSON with the columns queries need; events keep
their lifecycle history, dispatch decisions, setpoints, acks and per-interval deliveries as
they happen, so a restarted service can resume them.
"""

from vpp.store.engine import DEFAULT_DB_URL, DatabaseUrlError, create_engine, upgrade
from vpp.store.events import DuplicateEventError, EventRecord, StateRecord
from vpp.store.store import Store, open_store
from vpp.store.tables import DeliveryRow
from vpp.store.tokens import TOKEN_PREFIX, Role, TokenInfo, TokenScopeError

__all__ = [
    "DEFAULT_DB_URL",
    "TOKEN_PREFIX",
    "DatabaseUrlError",
    "DeliveryRow",
    "DuplicateEventError",
    "EventRecord",
    "Role",
    "StateRecord",
    "Store",
    "TokenInfo",
    "TokenScopeError",
    "create_engine",
    "open_store",
    "upgrade",
]
