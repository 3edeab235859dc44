"""rotation ledger: per settled event and enterprise, called or not, asked, delivered, net

Revision ID: 0005_rotation_entries
Revises: 0004_delivery_refused_samples
Create Date: 2026-12-07 04:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import vpp.store.types

revision = "0005_rotation_entries"
down_revision = "0004_delivery_refused_samples"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rotation_entries",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("start", vpp.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("enterprise_id", sa.String(length=64), nullable=False),
        sa.Column("called", sa.Boolean(), nullable=False),
        sa.Column("asked_kwh", sa.Float(), nullable=False),
        sa.Column("delivered_kwh", sa.Float(), nullable=False),
        sa.Column("net_cny", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "start", "enterprise_id"),
    )


def downgrade() -> None:
    op.drop_table("rotation_entries")
