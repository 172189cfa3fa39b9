"""Retention: a scan's raw IP address is dropped after CODELOOP_IP_RETENTION_DAYS (default 30).

What stays: the salted hash of the address (ip_hash), the salted hash of its /24 or /48 (net_hash, which
alert rules and the referral check use), and the place and time enrichment derived — so reports do not
change. Each run is written to the audit log with its cut-off; the next run starts a day before that
cut-off, so a run reads only the scans that aged out since, however large the table."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from server.models import AuditLog, Scan

ACTION = "retention.ip_addresses"
CHUNK = 5000
OVERLAP = timedelta(days=1)  # scans still pending at the last cut-off, enriched since


def window_start(session: Session) -> datetime | None:
    """Where this run starts: a day before the last run's cut-off (None: from the first scan)."""
    last = session.execute(
        select(AuditLog.details).where(AuditLog.action == ACTION).order_by(AuditLog.id.desc()).limit(1)
    ).scalar()
    return datetime.fromisoformat(last["before"]) - OVERLAP if last else None


def drop_addresses(session: Session, *, before: datetime, since: datetime | None, limit: int = CHUNK) -> int:
    """Clear the raw address of up to `limit` placed scans made in [since, before); how many were cleared."""
    ids = select(Scan.id).where(Scan.scanned_at < before, Scan.ip.is_not(None), Scan.geo_status != "pending")
    if since is not None:
        ids = ids.where(Scan.scanned_at >= since)
    ids = ids.order_by(Scan.scanned_at).limit(limit)
    chunk = list(session.execute(ids).scalars())
    if chunk:
        session.execute(
            update(Scan)
            .where(Scan.id.in_(chunk))
            .values(ip=None)
            .execution_options(synchronize_session=False)
        )
    return len(chunk)


def record(session: Session, *, before: datetime, dropped: int, now: datetime) -> None:
    """The run's audit entry (its cut-off is where the next run starts)."""
    session.add(
        AuditLog(
            at=now,
            action=ACTION,
            object_type="scans",
            details={"before": before.isoformat(), "dropped": dropped},
        )
    )
