"""Operations: fraud alerts, report rollups and the audit log."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, utcnow


class Alert(Base):
    """A fraud or diversion signal. Alerts hold money; they never block a consumer's page."""

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'released', 'voided')", name="status"),
        CheckConstraint("severity IN ('info', 'warning', 'critical')", name="severity"),
        Index("ix_alerts_status", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(10), default="warning")
    status: Mapped[str] = mapped_column(String(10), default="open")
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)  # a rule fires once per subject
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"))
    code_id: Mapped[int | None] = mapped_column(ForeignKey("codes.id"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    clerk_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    consumer_id: Mapped[int | None] = mapped_column(ForeignKey("consumers.id"))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Rollup(Base):
    """A report counter per day and dimensions; re-derivable from scans, vouchers and redemptions."""

    __tablename__ = "rollups"
    __table_args__ = (
        UniqueConstraint(
            "metric", "day", "hour", "campaign_id", "batch_id", "store_id", "clerk_id", "province", "city"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    metric: Mapped[str] = mapped_column(String(30))
    day: Mapped[date] = mapped_column(Date)  # in the deployment's time zone
    hour: Mapped[int] = mapped_column(SmallInteger, default=-1)  # -1: whole day
    campaign_id: Mapped[int] = mapped_column(default=0)  # 0: any; dimensions are never NULL so the key holds
    batch_id: Mapped[int] = mapped_column(default=0)
    store_id: Mapped[int] = mapped_column(default=0)
    clerk_id: Mapped[int] = mapped_column(default=0)
    province: Mapped[str] = mapped_column(String(80), default="")
    city: Mapped[str] = mapped_column(String(80), default="")
    value: Mapped[int] = mapped_column(default=0)


class AuditLog(Base):
    """Who did what to which object; written in the same transaction as the action."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[int | None]
    details: Mapped[dict] = mapped_column(JSON, default=dict)
