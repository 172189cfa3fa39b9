"""What an admin does with an alert: list, read, confirm, dismiss. Every decision is audit-logged.

- confirm: open → confirmed. The holds stay, so the money stays unpayable; with `void` the held money is
  voided at once (each held transaction reversed in the ledger, the holds closed as 'voided'). A confirmed
  alert whose money is still held can be voided later (confirm again with void).
- dismiss: open → dismissed. The holds are released and the money becomes payable on the next settlement.

A decided alert is not decided again (ALERT_ALREADY_DECIDED), except voiding a confirmed alert's money.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from server.errors import DomainError, Localised, validation
from server.formats import is_id
from server.models import Alert, AlertCode, AlertVoucher, AuditLog, LedgerEntry, LedgerHold
from server.models.ops import ALERT_STATUSES
from server.services import holds
from server.services.alerts.base import mark_alert_days

NOTE_MAX = 500


def get_alert(session: Session, alert_id: int) -> Alert:
    """The alert, or NOT_FOUND."""
    alert = session.get(Alert, alert_id) if is_id(alert_id) else None
    if alert is None:
        raise DomainError("NOT_FOUND", what="alert", id=alert_id)
    return alert


def list_alerts(
    session: Session,
    *,
    status: str | None = None,
    kind: str | None = None,
    store_id: int | None = None,
    clerk_id: int | None = None,
    batch_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[Alert]:
    """Alerts newest first, filtered; page with `before_id` (the last id of the previous page)."""
    if status is not None and status not in ALERT_STATUSES:
        raise DomainError("VALIDATION_FAILED", reason=f"status must be one of {', '.join(ALERT_STATUSES)}")
    query = select(Alert).order_by(Alert.id.desc()).limit(max(1, min(limit, 500)))
    for column, value in (
        (Alert.status, status),
        (Alert.kind, kind),
        (Alert.store_id, store_id),
        (Alert.clerk_id, clerk_id),
        (Alert.batch_id, batch_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(Alert.created_at >= since)
    if until is not None:
        query = query.where(Alert.created_at < until)
    if before_id is not None:
        query = query.where(Alert.id < before_id)
    return list(session.execute(query).scalars())


def alert_detail(session: Session, alert: Alert) -> dict:
    """An alert with its evidence, the codes and vouchers it names and the money it holds."""
    held = session.execute(
        select(LedgerHold.outcome, func.count(), func.coalesce(func.sum(LedgerEntry.amount), 0))
        .join(LedgerEntry, LedgerEntry.id == LedgerHold.entry_id)
        .where(LedgerHold.alert_id == alert.id, LedgerEntry.amount > 0)
        .group_by(LedgerHold.outcome)
    ).all()
    money = {outcome or "held": {"entries": n, "amount": int(total)} for outcome, n, total in held}
    codes = session.execute(select(AlertCode.code_id).where(AlertCode.alert_id == alert.id)).scalars().all()
    vouchers = (
        session.execute(select(AlertVoucher.voucher_id).where(AlertVoucher.alert_id == alert.id))
        .scalars()
        .all()
    )
    return {
        **alert_summary(alert),
        "details": alert.details,
        "codes": sorted(codes),
        "vouchers": sorted(vouchers),
        "money": money,
    }


def alert_summary(alert: Alert) -> dict:
    """The alert's row as JSON (times in ISO 8601 UTC)."""
    iso = lambda t: t.isoformat() if t else None  # noqa: E731
    return {
        "id": alert.id,
        "kind": alert.kind,
        "severity": alert.severity,
        "status": alert.status,
        "batch_id": alert.batch_id,
        "code_id": alert.code_id,
        "store_id": alert.store_id,
        "clerk_id": alert.clerk_id,
        "consumer_id": alert.consumer_id,
        "distributor": alert.distributor,
        "summary": (alert.details or {}).get("summary", ""),
        "created_at": iso(alert.created_at),
        "updated_at": iso(alert.updated_at),
        "resolved_at": iso(alert.resolved_at),
        "resolved_by": alert.resolved_by,
        "resolution_note": alert.resolution_note,
    }


def confirm(
    session: Session, *, alert_id: int, actor_id: int, now: datetime, void: bool = False, note: str = ""
) -> dict:
    """Confirm an open alert (its holds stay); with `void`, void the held money too."""
    alert = get_alert(session, alert_id)
    if not _decide(session, alert, "confirmed", actor_id, now, note) and not (
        void and alert.status == "confirmed"
    ):
        raise _already(alert)
    closed, voided = holds.void_holds(session, alert_id=alert_id, now=now) if void else (0, [])
    return _log(session, alert, "confirmed", actor_id, now, closed, voided, note)


def dismiss(
    session: Session,
    *,
    alert_id: int,
    actor_id: int,
    now: datetime,
    note: str = "",
    tz: ZoneInfo | None = None,
) -> dict:
    """Dismiss an open alert: its holds are released, its scans no longer count as tied to an alert."""
    alert = get_alert(session, alert_id)
    if not _decide(session, alert, "dismissed", actor_id, now, note):
        raise _already(alert)
    closed = holds.release_holds(session, alert_id=alert_id, now=now)
    mark_alert_days(session, alert_id=alert_id, now=now, tz=tz)
    return _log(session, alert, "dismissed", actor_id, now, closed, [], note)


def decide_hold(session: Session, *, alert_id: int, outcome: str, actor_id: int, now: datetime) -> dict:
    """An alert's held money: release it ('released': dismiss the alert) or void it ('voided': confirm the
    alert and void the money)."""
    if outcome == "released":
        return dismiss(session, alert_id=alert_id, actor_id=actor_id, now=now)
    if outcome == "voided":
        return confirm(session, alert_id=alert_id, actor_id=actor_id, now=now, void=True)
    raise DomainError("VALIDATION_FAILED", reason="outcome must be released or voided")


def _decide(session: Session, alert: Alert, status: str, actor_id: int, now: datetime, note: str) -> bool:
    if len(note) > NOTE_MAX:
        raise validation(
            f"note is longer than {NOTE_MAX} characters", zh=f"备注不能超过 {NOTE_MAX} 字", field="note"
        )
    changed = session.execute(
        update(Alert)
        .where(Alert.id == alert.id, Alert.status == "open")
        .values(status=status, resolved_at=now, resolved_by=actor_id, resolution_note=note or None)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(alert)
    return bool(changed)


_STATUS_WORDS = {
    "confirmed": Localised(zh_CN="已确认", en="confirmed"),
    "dismissed": Localised(zh_CN="已驳回", en="dismissed"),
}


def _already(alert: Alert) -> DomainError:
    status = _STATUS_WORDS.get(alert.status, alert.status)
    return DomainError("ALERT_ALREADY_DECIDED", id=alert.id, status=status)


def _log(session, alert, status, actor_id, now, closed, voided, note) -> dict:
    session.add(
        AuditLog(
            at=now,
            actor_id=actor_id,
            action=f"alert.{status}",
            object_type="alert",
            object_id=alert.id,
            details={"holds": closed, "voided_transactions": voided, "note": note},
        )
    )
    session.flush()
    return {
        "alert_id": alert.id,
        "status": alert.status,
        "holds_closed": closed,
        "voided_transactions": voided,
    }
