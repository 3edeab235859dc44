"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21 12:52:07.825388
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import vpp.store.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "enterprises",
        sa.Column("enterprise_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("feeder_id", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", vpp.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", vpp.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("enterprise_id"),
    )
    op.create_table(
        "events",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("request_digest", sa.String(length=64), nullable=True),
        sa.Column("incarnation", sa.Integer(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=True),
        sa.Column("finalized", sa.Boolean(), nullable=False),
        sa.Column("created_at", vpp.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", vpp.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_state"), ["state"], unique=False)

    op.create_table(
        "service_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "setpoints",
        sa.Column("command_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.Column("enterprise_id", sa.String(length=64), nullable=True),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("power_kw", sa.Float(), nullable=False),
        sa.Column("issued_at", vpp.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("valid_from", vpp.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("valid_until", vpp.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ack_status", sa.String(length=16), nullable=True),
        sa.Column("ack_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("command_id"),
    )
    with op.batch_alter_table("setpoints", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_setpoints_enterprise_id"), ["enterprise_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_setpoints_event_id"), ["event_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_setpoints_issued_at"), ["issued_at"], unique=False)

    op.create_table(
        "simulations",
        sa.Column("simulation_id", sa.String(length=32), nullable=False),
        sa.Column("scenario", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("created_at", vpp.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", vpp.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("simulation_id"),
    )
    op.create_table(
        "telemetry_intervals",
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("interval_start", vpp.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("mean_kw", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "resource_id", "interval_start"),
    )
    op.create_table(
        "tokens",
        sa.Column("token_id", sa.String(length=32), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("enterprise_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("created_at", vpp.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", vpp.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token_id"),
        sa.UniqueConstraint("secret_sha256"),
    )
    op.create_table(
        "dispatch_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("incarnation", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", vpp.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.event_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "incarnation", "seq"),
    )
    with op.batch_alter_table("dispatch_decisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dispatch_decisions_event_id"), ["event_id"], unique=False
        )

    op.create_table(
        "event_deliveries",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("interval_start", vpp.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("enterprise_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("asked_kw", sa.Float(), nullable=False),
        sa.Column("baseline_kw", sa.Float(), nullable=False),
        sa.Column("measured_kw", sa.Float(), nullable=True),
        sa.Column("price_cny_per_kwh", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.event_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("event_id", "site_id", "resource_id", "interval_start"),
    )
    with op.batch_alter_table("event_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_event_deliveries_enterprise_id"), ["enterprise_id"], unique=False
        )

    op.create_table(
        "event_states",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("incarnation", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", vpp.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.event_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "incarnation", "seq"),
    )
    with op.batch_alter_table("event_states", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_states_event_id"), ["event_id"], unique=False)

    op.create_table(
        "resources",
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("enterprise_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.enterprise_id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("site_id", "resource_id"),
    )
    with op.batch_alter_table("resources", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_resources_enterprise_id"), ["enterprise_id"], unique=False
        )

    op.create_table(
        "settlements",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("enterprise_id", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.event_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("event_id", "enterprise_id"),
    )


def downgrade() -> None:
    op.drop_table("settlements")
    with op.batch_alter_table("resources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resources_enterprise_id"))

    op.drop_table("resources")
    with op.batch_alter_table("event_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_states_event_id"))

    op.drop_table("event_states")
    with op.batch_alter_table("event_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_deliveries_enterprise_id"))

    op.drop_table("event_deliveries")
    with op.batch_alter_table("dispatch_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dispatch_decisions_event_id"))

    op.drop_table("dispatch_decisions")
    op.drop_table("tokens")
    op.drop_table("telemetry_intervals")
    op.drop_table("simulations")
    with op.batch_alter_table("setpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_setpoints_issued_at"))
        batch_op.drop_index(batch_op.f("ix_setpoints_event_id"))
        batch_op.drop_index(batch_op.f("ix_setpoints_enterprise_id"))

    op.drop_table("setpoints")
    op.drop_table("service_settings")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_state"))

    op.drop_table("events")
    op.drop_table("enterprises")
