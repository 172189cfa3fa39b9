"""Fraud holds on money: an alert keeps its entries unpayable until an admin dismisses it (the holds are
released) or voids the money (the holds close as 'voided').

Voiding reverses each held entry's transaction (new opposite entries, never an edit). The alert's own status
(open / confirmed / dismissed) and the audit log are kept by server/services/alerts/decisions.py.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.errors import DomainError
from server.models import Alert, LedgerEntry, LedgerHold, LedgerTransaction
from server.services import ledger, rewards


def hold_redemption(session: Session, *, alert_id: int, redemption_id: int, now: datetime) -> int:
    """Hold every entry of a redemption's ledger transaction under `alert_id`; returns new holds."""
    txn = session.execute(
        select(LedgerTransaction.id).where(LedgerTransaction.key == rewards.redemption_key(redemption_id))
    ).scalar()
    if txn is None:
        raise DomainError("NOT_FOUND", what="redemption", id=redemption_id)
    entries = session.execute(select(LedgerEntry.id).where(LedgerEntry.transaction_id == txn)).scalars().all()
    return ledger.hold(session, entry_ids=entries, alert_id=alert_id, now=now)


def release_holds(session: Session, *, alert_id: int, now: datetime) -> int:
    """Close an alert's open holds as 'released': the entries become payable again. Returns holds closed."""
    return ledger.release(session, alert_id=alert_id, now=now, outcome="released")


def void_holds(session: Session, *, alert_id: int, now: datetime) -> tuple[int, list[int]]:
    """Reverse every transaction an alert holds (once) and close its holds as 'voided'.

    Returns (holds closed, ids of the transactions reversed now)."""
    txns = (
        session.execute(
            select(LedgerEntry.transaction_id)
            .join(LedgerHold, LedgerHold.entry_id == LedgerEntry.id)
            .where(LedgerHold.alert_id == alert_id, LedgerHold.released_at.is_(None))
            .distinct()
        )
        .scalars()
        .all()
    )
    voided = []
    for txn in sorted(txns):
        if session.execute(select(LedgerTransaction.id).where(LedgerTransaction.reverses_id == txn)).scalar():
            continue  # reversed already (e.g. the till reversed the redemption)
        ledger.reverse(
            session,
            transaction_id=txn,
            key=f"void:{txn}",
            now=now,
            event="fraud_void",
            details={"alert_id": alert_id},
        )
        voided.append(txn)
    return ledger.release(session, alert_id=alert_id, now=now, outcome="voided"), voided


def held(session: Session, *, limit: int = 200) -> list[tuple]:
    """Open holds with their alert and amount, for the admin page."""
    return [
        tuple(r)
        for r in session.execute(
            select(
                LedgerHold.id,
                LedgerHold.alert_id,
                Alert.kind,
                LedgerEntry.id,
                LedgerEntry.amount,
                LedgerEntry.unit,
                LedgerTransaction.key,
            )
            .join(Alert, Alert.id == LedgerHold.alert_id)
            .join(LedgerEntry, LedgerEntry.id == LedgerHold.entry_id)
            .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
            .where(LedgerHold.released_at.is_(None))
            .order_by(LedgerHold.id)
            .limit(limit)
        ).all()
    ]
