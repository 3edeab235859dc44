"""The database schema: registrations as validated domain JSON plus the columns we query by,
events with their state history, what was sent and measured, settlements, tokens.

The Alembic migrations in ``vpp.store.migrations`` create exactly these tables; a test
checks that the two agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from vpp.store.types import UtcDateTime

SLUG = String(64)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
    }


class EnterpriseRow(Base):
    __tablename__ = "enterprises"

    enterprise_id: Mapped[str] = mapped_column(SLUG, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    feeder_id: Mapped[str] = mapped_column(SLUG)
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ResourceRow(Base):
    """One row per registered resource, for look-ups by site and by enterprise."""

    __tablename__ = "resources"

    site_id: Mapped[str] = mapped_column(SLUG, primary_key=True)
    resource_id: Mapped[str] = mapped_column(SLUG, primary_key=True)
    enterprise_id: Mapped[str] = mapped_column(
        ForeignKey("enterprises.enterprise_id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))


class EventRow(Base):
    __tablename__ = "events"

    event_id: Mapped[str] = mapped_column(SLUG, primary_key=True)
    data: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    request_digest: Mapped[str | None] = mapped_column(String(64))
    incarnation: Mapped[int] = mapped_column(Integer, default=0)
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    finalized: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(16), default="api", server_default="api")
    vtn_event_id: Mapped[str | None] = mapped_column(String(200), index=True)
    modification_number: Mapped[int | None] = mapped_column(Integer)
    #: the VEN's answer to the VTN: opt, reason, capability and margin [kW]
    openadr: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class EventStateRow(Base):
    """One lifecycle change; ``incarnation`` counts the controller runs of the event
    (a restart starts a new one)."""

    __tablename__ = "event_states"
    __table_args__ = (UniqueConstraint("event_id", "incarnation", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(
        ForeignKey("events.event_id", ondelete="CASCADE"), index=True
    )
    incarnation: Mapped[int]
    seq: Mapped[int]
    at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")


class DecisionRow(Base):
    """A dispatch decision: the first plan of an incarnation or a re-plan."""

    __tablename__ = "dispatch_decisions"
    __table_args__ = (UniqueConstraint("event_id", "incarnation", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(
        ForeignKey("events.event_id", ondelete="CASCADE"), index=True
    )
    incarnation: Mapped[int]
    seq: Mapped[int]
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]]


class SetpointRow(Base):
    """A setpoint sent to a gateway and the gateway's answer."""

    __tablename__ = "setpoints"

    command_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[str | None] = mapped_column(SLUG, index=True)
    enterprise_id: Mapped[str | None] = mapped_column(SLUG, index=True)
    site_id: Mapped[str] = mapped_column(SLUG)
    resource_id: Mapped[str] = mapped_column(SLUG)
    mode: Mapped[str] = mapped_column(String(16))
    power_kw: Mapped[float] = mapped_column(Float)
    issued_at: Mapped[datetime] = mapped_column(index=True)
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]
    ack_status: Mapped[str | None] = mapped_column(String(16))
    ack_reason: Mapped[str | None] = mapped_column(Text)


class TelemetryIntervalRow(Base):
    """Mean measured power of one resource in one interval ``(start, start + interval]``."""

    __tablename__ = "telemetry_intervals"

    site_id: Mapped[str] = mapped_column(SLUG, primary_key=True)
    resource_id: Mapped[str] = mapped_column(SLUG, primary_key=True)
    interval_start: Mapped[datetime] = mapped_column(primary_key=True)
    mean_kw: Mapped[float] = mapped_column(Float)


class DeliveryRow(Base):
    """One participant of an event in one event interval: asked, baseline, measured [kW]."""

    __tablename__ = "event_deliveries"

    event_id: Mapped[str] = mapped_column(
        ForeignKey("events.event_id", ondelete="CASCADE"), primary_key=True
    )
    site_id: Mapped[str] = mapped_column(SLUG, primary_key=True)
    resource_id: Mapped[str] = mapped_column(SLUG, primary_key=True)
    interval_start: Mapped[datetime] = mapped_column(primary_key=True)
    enterprise_id: Mapped[str] = mapped_column(SLUG, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    asked_kw: Mapped[float] = mapped_column(Float)
    baseline_kw: Mapped[float] = mapped_column(Float)
    measured_kw: Mapped[float | None] = mapped_column(Float)
    price_cny_per_kwh: Mapped[float] = mapped_column(Float)
    refused_samples: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Readings refused by the plausibility gate that arrived in the interval."""


class RotationEntryRow(Base):
    """One enterprise in one completed event: the rotation ledger (domain/rotation.py)."""

    __tablename__ = "rotation_entries"

    event_id: Mapped[str] = mapped_column(SLUG, primary_key=True)
    start: Mapped[datetime] = mapped_column(primary_key=True)
    enterprise_id: Mapped[str] = mapped_column(SLUG, primary_key=True)
    called: Mapped[bool]
    asked_kwh: Mapped[float] = mapped_column(Float)
    delivered_kwh: Mapped[float] = mapped_column(Float)
    net_cny: Mapped[float] = mapped_column(Float)


class SettlementRow(Base):
    __tablename__ = "settlements"

    event_id: Mapped[str] = mapped_column(
        ForeignKey("events.event_id", ondelete="CASCADE"), primary_key=True
    )
    enterprise_id: Mapped[str] = mapped_column(SLUG, primary_key=True)
    data: Mapped[dict[str, Any]]


class TokenRow(Base):
    """An API token: only the SHA-256 of its secret is kept."""

    __tablename__ = "tokens"

    token_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    enterprise_id: Mapped[str | None] = mapped_column(SLUG)
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class GatewayCredentialRow(Base):
    """A broker account: a site's gateway (``site_id``) or the controller (``site_id`` None).

    Only the Mosquitto ``$7$`` (salted PBKDF2-SHA512) hash of the password is kept.
    """

    __tablename__ = "gateway_credentials"

    username: Mapped[str] = mapped_column(String(80), primary_key=True)
    site_id: Mapped[str | None] = mapped_column(SLUG, unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class SimulationRow(Base):
    __tablename__ = "simulations"

    simulation_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    scenario: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class SettingRow(Base):
    """Service facts that must survive a restart (the clock's origin)."""

    __tablename__ = "service_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]]
