"""Operations: fraud alerts and what they name, staff sightings, forged-scan counts and the audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, utcnow

ALERT_STATUSES = ("open", "confirmed", "dismissed")
ALERT_SEVERITIES = ("info", "warning", "critical")
FORGED_SCOPES = ("ip", "net", "all")


class Alert(Base):
    """A fraud or diversion signal raised by a rule (server/services/alerts/rules/). Alerts hold money; they
    never block a consumer's page.

    status: 'open' (raised; its ledger holds keep the money unpayable), 'confirmed' (an admin agreed: the
    holds stay, and the money may be voided), 'dismissed' (an admin disagreed: the holds are released). What
    happened to each held entry is the hold's own outcome (ledger_holds.outcome: released or voided).
    """

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'confirmed', 'dismissed')", name="status"),
        CheckConstraint("severity IN ('info', 'warning', 'critical')", name="severity"),
        Index("ix_alerts_status", "status", "created_at"),
        Index("ix_alerts_kind", "kind", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # the rule's name, e.g. "geo_velocity"
    severity: Mapped[str] = mapped_column(String(10), default="warning")
    status: Mapped[str] = mapped_column(String(10), default="open")
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)  # a rule fires once per subject
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"))
    code_id: Mapped[int | None] = mapped_column(ForeignKey("codes.id"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    clerk_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    consumer_id: Mapped[int | None] = mapped_column(ForeignKey("consumers.id"))
    distributor: Mapped[str | None] = mapped_column(String(200))  # whom a diversion is charged to
    details: Mapped[dict] = mapped_column(JSON, default=dict)  # the evidence, readable by an admin
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None]  # the last time the rule added evidence
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution_note: Mapped[str | None] = mapped_column(String(500))


class AlertCode(Base):
    """A pack code an alert names: its scans are "tied to an alert" in the rollups."""

    __tablename__ = "alert_codes"

    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), primary_key=True)
    code_id: Mapped[int] = mapped_column(ForeignKey("codes.id"), primary_key=True, index=True)


class AlertVoucher(Base):
    """A voucher an alert names: money it earns later (a redemption after the alert) is held too."""

    __tablename__ = "alert_vouchers"

    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), primary_key=True)
    voucher_id: Mapped[int] = mapped_column(ForeignKey("vouchers.id"), primary_key=True, index=True)


class StaffSighting(Base):
    """A device or network a staff member signed in from (salted hashes), for the clerk self-dealing rule.

    kind 'net': the hash of the /24 or /48 network (as scans.net_hash); 'device': the consumer device cookie
    (as consumers.device_id) the browser carried, i.e. the clerk's phone also scans packs as a consumer."""

    __tablename__ = "staff_sightings"
    __table_args__ = (
        CheckConstraint("kind IN ('net', 'device')", name="kind"),
        Index("ix_staff_sightings_value", "kind", "value"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(6), primary_key=True)
    value: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)


class ForgedScans(Base):
    """Forged-code attempts per minute and network, drained from the counters of server/forgeries.py.

    scope 'ip': key is the salted hash of the address (as scans.ip_hash); 'net': the salted hash of its /24
    (IPv4) or /48 (IPv6) network; 'all': key ''. redis_count is the counter's value as last drained (set,
    never added, so draining twice is harmless); memory_count adds what processes counted in memory while
    Redis was unset or unreachable. The attempts are redis_count + memory_count.
    """

    __tablename__ = "forged_scans"
    __table_args__ = (
        CheckConstraint("scope IN ('ip', 'net', 'all')", name="scope"),
        Index("ix_forged_scans_scope_minute", "scope", "minute"),
    )

    minute: Mapped[datetime] = mapped_column(primary_key=True)  # UTC, the start of the minute
    scope: Mapped[str] = mapped_column(String(3), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    redis_count: Mapped[int] = mapped_column(default=0)
    memory_count: Mapped[int] = mapped_column(default=0)


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
