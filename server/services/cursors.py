"""Cursors of the batch jobs that read source tables by id (the rollup refresh, the alert rules): where each
stands (job_cursors), and how far it may move without passing a row another transaction has yet to commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from server.db import is_postgres
from server.models import JobCursor


def set_cursor(session: Session, name: str, last_id: int, now: datetime) -> None:
    """Move a job's cursor on `name` to `last_id`."""
    if not session.execute(
        update(JobCursor).where(JobCursor.name == name).values(last_id=last_id, updated_at=now)
    ).rowcount:
        session.execute(insert(JobCursor).values(name=name, last_id=last_id, updated_at=now))


def read_cursor(session: Session, name: str) -> int:
    """Where a job's cursor on `name` stands (0 before its first run)."""
    return session.execute(select(JobCursor.last_id).where(JobCursor.name == name)).scalar() or 0


SETTLE_SECONDS = 5
TIMES = {
    "scans": "scanned_at",
    "vouchers": "issued_at",
    "redemptions": "redeemed_at",
    "referrals": "created_at",
}


def cutoff(session: Session, now: datetime) -> datetime | None:
    """Rows made after this may still be joined by rows with lower ids that have not committed yet (concurrent
    transactions commit out of id order on PostgreSQL): a cursor stops before them. None on SQLite (one
    writer at a time)."""
    return now - timedelta(seconds=SETTLE_SECONDS) if is_postgres(session) else None


def settled(session: Session, rows: list, at: str, now: datetime) -> list:
    """The leading rows (in id order) made before the cutoff."""
    limit = cutoff(session, now)
    if limit is None:
        return rows
    young = next((i for i, row in enumerate(rows) if getattr(row, at) >= limit), len(rows))
    return rows[:young]


def settled_top(session: Session, model, at, last: int, now: datetime) -> int:
    """The highest id past `last` a cursor may move to now (below the first row made after the cutoff)."""
    limit = cutoff(session, now)
    young = None
    if limit is not None:
        young = session.execute(select(func.min(model.id)).where(model.id > last, at >= limit)).scalar()
    top = session.execute(select(func.max(model.id))).scalar() or last
    return min(top, young - 1) if young is not None else top
