"""Alembic migrations of the vpp store (run by :func:`vpp.store.engine.upgrade`)."""
