"""The invariants in docs/api.md as queries: each returns the rows that break one (none when sound)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from server.models import (
    Campaign,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Redemption,
    Settlement,
    SettlementItem,
    User,
    Voucher,
)


@dataclass(frozen=True)
class Violation:
    invariant: str
    description: str
    rows: list[tuple]


def _one_voucher_per_pack():
    return (
        select(Voucher.code_id, func.count())
        .where(Voucher.code_id.is_not(None))
        .group_by(Voucher.code_id)
        .having(func.count() > 1)
    )


def _one_live_redemption():
    return (
        select(Redemption.voucher_id, func.count())
        .where(Redemption.reversed_at.is_(None))
        .group_by(Redemption.voucher_id)
        .having(func.count() > 1)
    )


def _voucher_state_matches_redemptions():
    live = (select(Redemption.voucher_id).where(Redemption.reversed_at.is_(None))).subquery()
    has_live = Voucher.id.in_(select(live.c.voucher_id))
    return select(Voucher.id, Voucher.status).where(
        ((Voucher.status == "redeemed") & ~has_live) | ((Voucher.status == "issued") & has_live)
    )


def _cap_and_budget():
    issued = (
        select(Voucher.campaign_id, func.count().label("n"), func.sum(Voucher.value_fen).label("fen"))
        .group_by(Voucher.campaign_id)
        .subquery()
    )
    return (
        select(
            Campaign.id, Campaign.cap, Campaign.issued_count, issued.c.n, Campaign.budget_fen, issued.c.fen
        )
        .join(issued, issued.c.campaign_id == Campaign.id)
        .where(
            (issued.c.n > Campaign.cap)
            | (issued.c.fen > Campaign.budget_fen)
            | (issued.c.n != Campaign.issued_count)
            | (issued.c.fen != Campaign.spent_fen)
        )
    )


def _transactions_balance():
    return (
        select(LedgerEntry.transaction_id, LedgerEntry.unit, func.sum(LedgerEntry.amount))
        .group_by(LedgerEntry.transaction_id, LedgerEntry.unit)
        .having(func.sum(LedgerEntry.amount) != 0)
    )


def _empty_transactions():
    return select(LedgerTransaction.id).where(~LedgerTransaction.id.in_(select(LedgerEntry.transaction_id)))


def _entry_unit_matches_account():
    return (
        select(LedgerEntry.id, LedgerEntry.unit, LedgerAccount.unit)
        .join(LedgerAccount)
        .where(LedgerEntry.unit != LedgerAccount.unit)
    )


def _settlement_totals():
    items = (
        select(SettlementItem.settlement_id, func.coalesce(func.sum(LedgerEntry.amount), 0).label("sum"))
        .join(LedgerEntry, LedgerEntry.id == SettlementItem.entry_id)
        .group_by(SettlementItem.settlement_id)
        .subquery()
    )
    return (
        select(Settlement.id, Settlement.total, items.c.sum)
        .outerjoin(items, items.c.settlement_id == Settlement.id)
        .where(Settlement.total != func.coalesce(items.c.sum, 0))
    )


def _settled_entries_belong():
    return (
        select(SettlementItem.entry_id)
        .join(Settlement)
        .join(LedgerEntry, LedgerEntry.id == SettlementItem.entry_id)
        .where(LedgerEntry.account_id != Settlement.account_id)
    )


def _clerk_redeems_for_own_store():
    clerk = aliased(User)
    return (
        select(Redemption.id, Redemption.store_id, clerk.store_id)
        .join(clerk, clerk.id == Redemption.clerk_id)
        .where(and_(clerk.role == "clerk", clerk.store_id != Redemption.store_id))
    )


def _redemption_key():
    from sqlalchemy import String, cast, literal

    return literal("redemption:") + cast(Redemption.id, String)


def _redemptions_have_money():
    posted = select(LedgerTransaction.id).where(LedgerTransaction.key == _redemption_key()).exists()
    return select(Redemption.id).where(~posted)


def _reversed_redemptions_are_reversed_in_the_ledger():
    original = aliased(LedgerTransaction)
    reversal = aliased(LedgerTransaction)
    undone = select(reversal.id).where(reversal.reverses_id == original.id).exists()
    return (
        select(Redemption.id)
        .join(original, original.key == _redemption_key())
        .where(Redemption.reversed_at.is_not(None), ~undone)
    )


def _finished_idempotency_keys_store_a_response():
    from server.models import IdempotencyKey

    return select(IdempotencyKey.id).where(
        IdempotencyKey.status == "done", IdempotencyKey.response_status.is_(None)
    )


CHECKS = [
    ("1", "a pack yields at most one voucher", _one_voucher_per_pack),
    ("1", "a voucher has at most one live redemption", _one_live_redemption),
    ("1", "a voucher's state agrees with its redemptions", _voucher_state_matches_redemptions),
    ("2", "issued vouchers within cap and budget, counters exact", _cap_and_budget),
    ("3", "every ledger transaction sums to zero per unit", _transactions_balance),
    ("3", "every ledger transaction has entries", _empty_transactions),
    ("3", "entries are in their account's unit", _entry_unit_matches_account),
    ("4", "a statement's total equals the entries it settled", _settlement_totals),
    ("4", "a statement settles only its own account's entries", _settled_entries_belong),
    ("7", "a clerk redeems only for their own store", _clerk_redeems_for_own_store),
    ("3", "every redemption has its ledger transaction", _redemptions_have_money),
    ("3", "a reversed redemption's money is reversed", _reversed_redemptions_are_reversed_in_the_ledger),
    ("6", "a finished idempotency key stores its response", _finished_idempotency_keys_store_a_response),
]


def run_checks(session: Session, limit: int = 20) -> list[Violation]:
    """Run every invariant query; return one Violation per broken invariant."""
    found = []
    for number, description, query in CHECKS:
        rows = [tuple(r) for r in session.execute(query().limit(limit)).all()]
        if rows:
            found.append(Violation(number, description, rows))
    return found
