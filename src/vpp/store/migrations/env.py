"""Alembic environment: runs on the connection :func:`vpp.store.engine.upgrade` hands over."""

from __future__ import annotations

from alembic import context

from vpp.store.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through vpp.store.engine.upgrade (or `vpp db upgrade`)")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
