"""event deliveries: readings refused by the plausibility gate, per participant and interval

So the service's settlement lines say how many readings of each meter were refused, as the
simulator's do (docs/settlement.md).

Revision ID: 0004_delivery_refused_samples
Revises: 0003_openadr_events
Create Date: 2026-12-07 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_delivery_refused_samples"
down_revision = "0003_openadr_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("event_deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("refused_samples", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("event_deliveries", schema=None) as batch_op:
        batch_op.drop_column("refused_samples")
