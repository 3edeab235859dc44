"""gateway credentials: broker accounts of the registry, hashes only

Revision ID: 0002_gateway_credentials
Revises: 0001
Create Date: 2026-12-07 03:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import vpp.store.types

revision = "0002_gateway_credentials"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gateway_credentials",
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at", vpp.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username"),
        sa.UniqueConstraint("site_id"),
    )


def downgrade() -> None:
    op.drop_table("gateway_credentials")
