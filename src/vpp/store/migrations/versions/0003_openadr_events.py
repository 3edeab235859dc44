"""openadr events: each event's source, the VTN's event id and modification number, and
the VEN's opt decision

Revision ID: 0003_openadr_events
Revises: 0002_gateway_credentials
Create Date: 2026-12-07 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_openadr_events"
down_revision = "0002_gateway_credentials"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(
            sa.Column("source", sa.String(length=16), server_default="api", nullable=False)
        )
        batch.add_column(sa.Column("vtn_event_id", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("modification_number", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("openadr", sa.JSON(), nullable=True))
        batch.create_index("ix_events_vtn_event_id", ["vtn_event_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_index("ix_events_vtn_event_id")
        batch.drop_column("openadr")
        batch.drop_column("modification_number")
        batch.drop_column("vtn_event_id")
        batch.drop_column("source")
