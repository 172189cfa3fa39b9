"""What the brand sets up: products, campaigns with their reward rules, batches and serial ranges."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.base import Base, BigId, Fen, utcnow

MAX_BATCH_QUANTITY = 100_000_000


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("url_form IN ('short', 'gs1')", name="url_form"),
        CheckConstraint("url_form = 'short' OR gtin IS NOT NULL", name="gs1_needs_gtin"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    gtin: Mapped[str | None] = mapped_column(String(14), unique=True)  # GTIN-14, check digit validated
    url_form: Mapped[str] = mapped_column(String(8), default="short")
    description: Mapped[str] = mapped_column(Text, default="")
    image_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Campaign(Base):
    """A reward programme: voucher terms, limits and who earns what, in integer fen or points."""

    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="window"),
        CheckConstraint("voucher_value_fen > 0 AND voucher_min_spend_fen >= 0", name="voucher_terms"),
        CheckConstraint("voucher_valid_days > 0", name="validity"),
        CheckConstraint("issued_count >= 0 AND issued_count <= cap", name="cap"),
        CheckConstraint("spent_fen >= 0 AND spent_fen <= budget_fen", name="budget"),
        CheckConstraint("per_consumer_daily_limit > 0", name="per_consumer"),
        CheckConstraint(
            "clerk_claim_reward_fen >= 0 AND clerk_redeem_reward_fen >= 0 AND store_fee_fen >= 0"
            " AND referral_bonus_points >= 0 AND referral_friend_value_fen >= 0"
            " AND referral_limit_per_share >= 0",
            name="rewards_non_negative",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    voucher_value_fen: Mapped[int] = mapped_column(Fen)
    voucher_min_spend_fen: Mapped[int] = mapped_column(Fen, default=0)
    voucher_valid_days: Mapped[int] = mapped_column(Integer, default=30)
    cap: Mapped[int] = mapped_column(Fen)  # vouchers that may be issued, pack and friend together
    budget_fen: Mapped[int] = mapped_column(Fen)  # face value of issued vouchers may not exceed this
    issued_count: Mapped[int] = mapped_column(Fen, default=0)
    spent_fen: Mapped[int] = mapped_column(Fen, default=0)
    per_consumer_daily_limit: Mapped[int] = mapped_column(Integer, default=3)
    referral_bonus_points: Mapped[int] = mapped_column(Fen, default=0)
    referral_friend_value_fen: Mapped[int] = mapped_column(Fen, default=0)
    referral_limit_per_share: Mapped[int] = mapped_column(Integer, default=0)
    clerk_claim_reward_fen: Mapped[int] = mapped_column(Fen, default=0)
    clerk_redeem_reward_fen: Mapped[int] = mapped_column(Fen, default=0)
    store_fee_fen: Mapped[int] = mapped_column(Fen, default=0)
    rotating_token: Mapped[bool] = mapped_column(Boolean, default=False)
    attribution_minutes: Mapped[int] = mapped_column(Integer, default=30)
    paused_at: Mapped[datetime | None]  # set: claims are refused (CAMPAIGN_NOT_ACTIVE) until resumed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Batch(Base):
    """N codes derived from (batch id, serial) and the secret: one row, however many codes."""

    __tablename__ = "batches"
    __table_args__ = (
        CheckConstraint(f"quantity > 0 AND quantity <= {MAX_BATCH_QUANTITY}", name="quantity"),
        CheckConstraint("url_form IN ('short', 'gs1')", name="url_form"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    quantity: Mapped[int] = mapped_column(Fen)
    paired: Mapped[bool] = mapped_column(Boolean, default=False)
    url_form: Mapped[str] = mapped_column(String(8), default="short")
    code_version: Mapped[int] = mapped_column(Integer, default=1)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    product: Mapped[Product] = relationship()
    campaign: Mapped[Campaign] = relationship()


class BatchRange(Base):
    """An activated or blacklisted span of serials; ranges of one kind never overlap in a batch."""

    __tablename__ = "batch_ranges"
    __table_args__ = (
        CheckConstraint("kind IN ('activate', 'blacklist')", name="kind"),
        CheckConstraint("first_serial >= 0 AND last_serial >= first_serial", name="span"),
        Index("ix_batch_ranges_lookup", "batch_id", "kind", "first_serial"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"))
    kind: Mapped[str] = mapped_column(String(10))
    first_serial: Mapped[int] = mapped_column(Fen)
    last_serial: Mapped[int] = mapped_column(Fen)
    distributor: Mapped[str | None] = mapped_column(String(200))
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)  # intended places: canonical names
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class BatchExport(Base):
    """A print-package export running on the worker queue, with progress for the admin page."""

    __tablename__ = "batch_exports"
    __table_args__ = (CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), index=True)
    roll_size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="queued")
    done_count: Mapped[int] = mapped_column(Fen, default=0)
    path: Mapped[str | None] = mapped_column(String(500))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    # the row is its own job (server/jobs.py): a run holds it until lease_until, renewed as it progresses;
    # a queued export past its deadline, or a running one whose lease ran out, is swept to the queue again
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None]
