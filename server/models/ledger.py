"""The append-only double-entry ledger, holds and settlements. Entries are never updated."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, utcnow

ACCOUNT_KINDS = ("store", "clerk", "consumer", "campaign", "platform")
UNITS = ("fen", "points")


class LedgerAccount(Base):
    """One balance: (kind, ref_id, unit). A positive balance is owed by the brand to the holder."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("kind", "ref_id", "unit"),
        CheckConstraint("kind IN ('store', 'clerk', 'consumer', 'campaign', 'platform')", name="kind"),
        CheckConstraint("unit IN ('fen', 'points')", name="unit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    ref_id: Mapped[int] = mapped_column(default=0)  # store/user/consumer/campaign id; 0 for platform
    unit: Mapped[str] = mapped_column(String(6))


class LedgerTransaction(Base):
    """One business event. Its key makes a repeated post a no-op; its entries sum to zero per unit."""

    __tablename__ = "ledger_transactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    event: Mapped[str] = mapped_column(String(40))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"), unique=True)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("transaction_id", "account_id"),  # each event credits an account once
        CheckConstraint("amount <> 0", name="non_zero"),
        CheckConstraint("unit IN ('fen', 'points')", name="unit"),
        Index("ix_ledger_entries_account", "account_id", "available_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount: Mapped[int]  # fen or points, signed
    unit: Mapped[str] = mapped_column(String(6))
    available_at: Mapped[datetime]  # payable from then on, unless an open hold says otherwise
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerHold(Base):
    """An open fraud alert keeps an entry held until an admin releases or voids it."""

    __tablename__ = "ledger_holds"
    __table_args__ = (
        UniqueConstraint("entry_id", "alert_id"),
        CheckConstraint("outcome IS NULL OR outcome IN ('released', 'voided')", name="outcome"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"), index=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(10))


class Settlement(Base):
    """A closed period's statement for one account: the sum of the entries it settled."""

    __tablename__ = "settlements"
    __table_args__ = (
        UniqueConstraint("account_id", "period_end"),
        CheckConstraint("status IN ('open', 'paid')", name="status"),
        CheckConstraint(
            "status = 'open' OR (paid_reference IS NOT NULL AND paid_at IS NOT NULL)", name="paid"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    period_end: Mapped[datetime]  # entries available before this instant and not yet settled
    total: Mapped[int]
    unit: Mapped[str] = mapped_column(String(6))
    status: Mapped[str] = mapped_column(String(6), default="open")
    paid_at: Mapped[datetime | None]
    paid_reference: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SettlementItem(Base):
    """Links an entry to the statement that settled it; an entry is settled at most once."""

    __tablename__ = "settlement_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    settlement_id: Mapped[int] = mapped_column(ForeignKey("settlements.id"), index=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
