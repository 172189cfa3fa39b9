"""Rewards and payouts: what the period's claims and redemptions accrued (rollups, filtered like every
report), and where the money owed to stores and clerks stands now (the ledger, all campaigns): held by an
alert, in a closed statement awaiting payment, paid."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from server.models import LedgerAccount, LedgerEntry, LedgerHold, RollupSlice, Settlement, SettlementItem
from server.services.reports import Context, Filters, rows, sums, where

ACCRUED = ("payouts_fen", "rewards_fen", "points", "redeemed_value_fen")
STATES = ("held", "in_statement", "paid")
PAYEES = ("store", "clerk")


def report(session: Session, f: Filters, ctx: Context) -> dict:
    """{filters, accrued: {payouts_fen, rewards_fen, points, …}, ledger: {store: {state: fen}, clerk: {…},
    as_of}}."""
    accrued = rows(session, select(*sums(RollupSlice, ACCRUED)).where(*where(RollupSlice, f, part="")))[0]
    accrued["accrued_fen"] = accrued["payouts_fen"] + accrued["rewards_fen"]
    return {"filters": f.json(), "accrued": accrued, "ledger": ledger_states(session, ctx.now)}


def ledger_states(session: Session, now: datetime) -> dict:
    """Fen owed to stores and clerks that an open alert holds (not yet settled), and what closed statements
    hold: awaiting payment or paid. From the ledger's holds and the statements, all campaigns; entries merely
    in their holding period or payable are on the payouts page (per account, ledger.balance)."""
    out = {kind: dict.fromkeys(STATES, 0) for kind in PAYEES}
    held = (
        select(LedgerAccount.kind, func.sum(LedgerEntry.amount))
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(
            LedgerEntry.id.in_(select(LedgerHold.entry_id).where(LedgerHold.released_at.is_(None))),
            ~exists().where(SettlementItem.entry_id == LedgerEntry.id),
            LedgerAccount.kind.in_(PAYEES),
            LedgerAccount.unit == "fen",
        )
        .group_by(LedgerAccount.kind)
    )
    for kind, fen in session.execute(held):
        out[kind]["held"] = int(fen or 0)
    statements = (
        select(LedgerAccount.kind, Settlement.status, func.sum(Settlement.total))
        .join(LedgerAccount, LedgerAccount.id == Settlement.account_id)
        .where(LedgerAccount.kind.in_(PAYEES), Settlement.unit == "fen")
        .group_by(LedgerAccount.kind, Settlement.status)
    )
    for kind, status, total in session.execute(statements):
        out[kind]["paid" if status == "paid" else "in_statement"] += int(total or 0)
    return {**out, "as_of": now.isoformat()}
