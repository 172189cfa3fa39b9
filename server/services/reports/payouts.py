"""Rewards and payouts: what the period's claims and redemptions accrued (rollups, filtered like every
report), and where the money owed to stores and clerks stands now (the ledger, all campaigns): in its
holding period, held by an alert, payable, in a closed statement awaiting payment, paid."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, exists, func, select
from sqlalchemy.orm import Session

from server.models import LedgerAccount, LedgerEntry, LedgerHold, RollupDay, Settlement, SettlementItem
from server.services.reports import Context, Filters, rows, sums, where

ACCRUED = ("payouts_fen", "rewards_fen", "points", "redeemed_value_fen")
STATES = ("holding", "held", "payable", "in_statement", "paid")
PAYEES = ("store", "clerk")


def report(session: Session, f: Filters, ctx: Context) -> dict:
    """{filters, accrued: {payouts_fen, rewards_fen, points, …}, ledger: {store: {state: fen}, clerk: {…},
    as_of}}."""
    accrued = rows(session, select(*sums(RollupDay, ACCRUED)).where(*where(RollupDay, f)))[0]
    accrued["accrued_fen"] = accrued["payouts_fen"] + accrued["rewards_fen"]
    return {"filters": f.json(), "accrued": accrued, "ledger": ledger_states(session, ctx.now)}


def ledger_states(session: Session, now: datetime) -> dict:
    """Fen owed to stores and clerks by state, from the ledger as of `now` (an entry is settled at most once:
    its statement says in_statement or paid; else it is held by an open alert, in its holding period, or
    payable — ledger.balance's rule)."""
    settled = exists().where(SettlementItem.entry_id == LedgerEntry.id)
    held = exists().where(and_(LedgerHold.entry_id == LedgerEntry.id, LedgerHold.released_at.is_(None)))
    state = case(
        (settled, "settled"), (LedgerEntry.available_at > now, "holding"), (held, "held"), else_="payable"
    ).label("state")
    unsettled = (
        select(LedgerAccount.kind, state, func.sum(LedgerEntry.amount).label("fen"))
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerAccount.kind.in_(PAYEES), LedgerAccount.unit == "fen")
        .group_by(LedgerAccount.kind, state)
    )
    out = {kind: dict.fromkeys(STATES, 0) for kind in PAYEES}
    for kind, name, fen in session.execute(unsettled):
        if name != "settled":
            out[kind][name] += int(fen or 0)
    statements = (
        select(LedgerAccount.kind, Settlement.status, func.sum(Settlement.total))
        .join(LedgerAccount, LedgerAccount.id == Settlement.account_id)
        .where(LedgerAccount.kind.in_(PAYEES), Settlement.unit == "fen")
        .group_by(LedgerAccount.kind, Settlement.status)
    )
    for kind, status, total in session.execute(statements):
        out[kind]["paid" if status == "paid" else "in_statement"] += int(total or 0)
    for kind in PAYEES:
        out[kind]["total"] = sum(out[kind][s] for s in STATES)
    return {**out, "as_of": now.isoformat()}
