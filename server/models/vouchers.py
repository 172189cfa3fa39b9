"""Vouchers, referrals, redemptions and the idempotency keys that make till retries safe."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, utcnow


class Referral(Base):
    """A share link made from a consumer's voucher; each friend who opens it may claim once."""

    __tablename__ = "referrals"
    __table_args__ = (CheckConstraint("used_count >= 0 AND used_count <= share_limit", name="limit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(40), unique=True)
    voucher_id: Mapped[int] = mapped_column(ForeignKey("vouchers.id", use_alter=True), unique=True)
    sharer_id: Mapped[int] = mapped_column(ForeignKey("consumers.id"), index=True)
    share_limit: Mapped[int] = mapped_column(Integer)
    used_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Voucher(Base):
    """An e-voucher redeemable only in a store. A pack yields at most one (code_id is unique)."""

    __tablename__ = "vouchers"
    __table_args__ = (
        CheckConstraint("kind IN ('pack', 'friend')", name="kind"),
        CheckConstraint("status IN ('issued', 'redeemed')", name="status"),
        CheckConstraint("(kind = 'pack') = (code_id IS NOT NULL)", name="pack_has_code"),
        CheckConstraint("(kind = 'friend') = (referral_id IS NOT NULL)", name="friend_has_referral"),
        CheckConstraint("value_fen > 0 AND min_spend_fen >= 0", name="terms"),
        CheckConstraint("expires_at > issued_at", name="expiry"),
        UniqueConstraint("referral_id", "consumer_id"),
        Index("ix_vouchers_consumer_day", "consumer_id", "issued_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(24), unique=True)  # short uppercase, typed at the till
    kind: Mapped[str] = mapped_column(String(8), default="pack")
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    code_id: Mapped[int | None] = mapped_column(ForeignKey("codes.id"), unique=True)
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"))
    consumer_id: Mapped[int] = mapped_column(ForeignKey("consumers.id"))
    clerk_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # attributed clerk
    value_fen: Mapped[int]
    min_spend_fen: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(10), default="issued")
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    # seconds from the claiming consumer's scan of the pack (else its first scan) to the claim
    scan_to_claim_s: Mapped[int | None] = mapped_column(Integer)
    # friend vouchers: claimed from the network of one of the sharer's recent scans (referral-loop evidence);
    # NULL for pack vouchers and for claims from no, loopback or private addresses
    same_network: Mapped[bool | None]


class Redemption(Base):
    """A voucher used at a till. At most one live (unreversed) redemption per voucher."""

    __tablename__ = "redemptions"
    __table_args__ = (
        CheckConstraint("purchase_fen IS NULL OR purchase_fen >= 0", name="purchase"),
        CheckConstraint("reversed_at IS NULL OR reversed_at >= redeemed_at", name="reversal"),
        Index(
            "uq_redemptions_live_voucher",
            "voucher_id",
            unique=True,
            sqlite_where=text("reversed_at IS NULL"),
            postgresql_where=text("reversed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    voucher_id: Mapped[int] = mapped_column(ForeignKey("vouchers.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    clerk_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    api_token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"))
    purchase_fen: Mapped[int | None]
    receipt_ref: Mapped[str | None] = mapped_column(String(100))
    redeemed_at: Mapped[datetime] = mapped_column(default=utcnow)
    reversed_at: Mapped[datetime | None]
    reversed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claim_to_redeem_s: Mapped[int | None] = mapped_column(Integer)  # seconds since the voucher was issued
    province: Mapped[str | None] = mapped_column(String(80))  # the store's place, copied at redemption
    city: Mapped[str | None] = mapped_column(String(80))


class IdempotencyKey(Base):
    """Stripe semantics: same key and body replays the stored response; another body is refused."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("principal", "key"),
        CheckConstraint("status IN ('started', 'done')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    principal: Mapped[str] = mapped_column(String(40))  # "user:12" or "token:3"
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(8), default="started")
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
