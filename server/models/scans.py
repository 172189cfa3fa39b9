"""Consumers, the codes they scanned (a row only once scanned), every scan, and clerk attribution."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, utcnow

SCAN_OUTCOMES = ("ok", "invalid", "inactive", "blacklisted")


class Consumer(Base):
    __tablename__ = "consumers"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)  # in the signed cookie and token
    device_id: Mapped[str | None] = mapped_column(String(64), index=True)
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)  # salted hash; never the number
    phone_masked: Mapped[str | None] = mapped_column(String(20))  # 138****1234
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Code(Base):
    """A pack code that has been scanned at least once."""

    __tablename__ = "codes"
    __table_args__ = (
        UniqueConstraint("batch_id", "serial", "kind"),
        CheckConstraint("kind IN (0, 1)", name="kind"),  # 0 outer, 1 inner
        CheckConstraint("scan_count >= 1", name="scan_count"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"))
    serial: Mapped[int]
    kind: Mapped[int] = mapped_column(SmallInteger, default=0)
    scan_count: Mapped[int] = mapped_column(default=1)
    first_scan_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_city: Mapped[str | None] = mapped_column(String(80))
    last_scan_at: Mapped[datetime] = mapped_column(default=utcnow)


class Scan(Base):
    """Every scan of a code whose tag verifies (code_id is null unless it is active); forged attempts are
    only counted (server/forgeries.py, forged_scans)."""

    __tablename__ = "scans"
    __table_args__ = (
        CheckConstraint("outcome IN ('ok', 'invalid', 'inactive', 'blacklisted')", name="outcome"),
        # failed: the scan can never be placed (a malformed address); its error is in enrich_error
        CheckConstraint("geo_status IN ('pending', 'done', 'unknown', 'failed')", name="geo_status"),
        Index("ix_scans_code_time", "code_id", "scanned_at"),
        Index("ix_scans_time", "scanned_at"),
        # the enrichment queue: a pending scan is its own outbox entry (workers/geo.py)
        Index(
            "ix_scans_pending",
            "id",
            sqlite_where=text("geo_status = 'pending'"),
            postgresql_where=text("geo_status = 'pending'"),
        ),
        # scans per network (alert rules); partial, so the scan's own INSERT (net_hash still NULL) skips it
        Index(
            "ix_scans_net_hash_time",
            "net_hash",
            "scanned_at",
            sqlite_where=text("net_hash IS NOT NULL"),
            postgresql_where=text("net_hash IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code_id: Mapped[int | None] = mapped_column(ForeignKey("codes.id"))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), index=True)
    serial: Mapped[int | None]
    raw_code: Mapped[str] = mapped_column(String(64))  # truncated, control characters escaped
    outcome: Mapped[str] = mapped_column(String(12))
    scanned_at: Mapped[datetime] = mapped_column(default=utcnow)  # the server's clock
    ip: Mapped[str | None] = mapped_column(String(45))  # dropped after the retention window
    ip_hash: Mapped[str | None] = mapped_column(String(64))  # salted; kept after the address is dropped
    net_hash: Mapped[str | None] = mapped_column(String(64))  # salted hash of the /24 (IPv4) or /48 (IPv6)
    user_agent: Mapped[str] = mapped_column(String(400), default="")
    consumer_id: Mapped[int | None] = mapped_column(ForeignKey("consumers.id"), index=True)
    clerk_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    geo_status: Mapped[str] = mapped_column(String(8), default="pending")
    enrich_error: Mapped[str | None] = mapped_column(String(200))
    # the place, filled by enrichment: canonical names of server/regions.py (上海市, 南京市)
    country_code: Mapped[str | None] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    country: Mapped[str | None] = mapped_column(String(80))
    province: Mapped[str | None] = mapped_column(String(80))
    city: Mapped[str | None] = mapped_column(String(80))
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    accuracy_km: Mapped[int | None] = mapped_column(Integer)
    local_hour: Mapped[int | None] = mapped_column(SmallInteger)
    weekday: Mapped[int | None] = mapped_column(SmallInteger)
    # the activated range the serial fell in, and whole days since it was activated
    range_id: Mapped[int | None] = mapped_column(ForeignKey("batch_ranges.id"))
    days_since_activation: Mapped[int | None] = mapped_column(Integer)


class Attribution(Base):
    """A consumer scanned a clerk's promo code: their claims until expires_at credit that clerk."""

    __tablename__ = "attributions"
    __table_args__ = (
        CheckConstraint("expires_at > started_at", name="window"),
        Index("ix_attributions_consumer", "consumer_id", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    consumer_id: Mapped[int] = mapped_column(ForeignKey("consumers.id"))
    clerk_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class PhoneChallenge(Base):
    """A one-time code sent to bind a phone; the code itself is stored hashed."""

    __tablename__ = "phone_challenges"
    __table_args__ = (CheckConstraint("attempts >= 0", name="attempts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    consumer_id: Mapped[int] = mapped_column(ForeignKey("consumers.id"), index=True)
    phone_hash: Mapped[str] = mapped_column(String(64))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None]
