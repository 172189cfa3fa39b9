"""Fraud holds on money: an open alert keeps its entries unpayable until an admin releases or voids them.

Voiding reverses each held entry's transaction (new opposite entries, never an edit) and closes the holds
with outcome 'voided'. Every decision is audit-logged in the same transaction as the change.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from server.errors import DomainError
from server.models import Alert, AuditLog, LedgerEntry, LedgerHold, LedgerTransaction
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


def _open_alert(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id) if type(alert_id) is int and 0 < alert_id < 2**63 else None
    if alert is None:
        raise DomainError("NOT_FOUND", what="alert", id=alert_id)
    return alert


def decide(session: Session, *, alert_id: int, outcome: str, actor_id: int, now: datetime) -> dict:
    """Release ('released') or void ('voided') an open alert's held money."""
    if outcome not in ("released", "voided"):
        raise DomainError("VALIDATION_FAILED", reason="outcome must be released or voided")
    alert = _open_alert(session, alert_id)
    changed = session.execute(
        update(Alert)
        .where(Alert.id == alert_id, Alert.status == "open")
        .values(status=outcome, resolved_at=now, resolved_by=actor_id)
    ).rowcount
    if not changed:
        raise DomainError("VALIDATION_FAILED", reason=f"alert {alert_id} is already {alert.status}")
    voided = []
    if outcome == "voided":
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
        for txn in sorted(txns):
            if session.execute(
                select(LedgerTransaction.id).where(LedgerTransaction.reverses_id == txn)
            ).scalar():
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
    closed = ledger.release(session, alert_id=alert_id, now=now, outcome=outcome)
    session.add(
        AuditLog(
            at=now,
            actor_id=actor_id,
            action=f"alert.{outcome}",
            object_type="alert",
            object_id=alert_id,
            details={"holds": closed, "voided_transactions": voided},
        )
    )
    session.flush()
    return {"alert_id": alert_id, "status": outcome, "holds_closed": closed, "voided_transactions": voided}


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
