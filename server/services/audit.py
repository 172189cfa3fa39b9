"""Reading the audit log: who did what to which object, filtered by actor, object and date, newest first."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from server.models import AuditLog, User

HEADER = ["id", "at", "actor", "action", "object_type", "object_id", "details"]


@dataclass(frozen=True)
class AuditFilter:
    actor_id: int | None = None
    object_type: str | None = None
    object_id: int | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


def _query(f: AuditFilter) -> Select:
    q = select(AuditLog, User.username).outerjoin(User, User.id == AuditLog.actor_id)
    if f.actor_id is not None:
        q = q.where(AuditLog.actor_id == f.actor_id)
    if f.object_type:
        q = q.where(AuditLog.object_type == f.object_type)
    if f.object_id is not None:
        q = q.where(AuditLog.object_id == f.object_id)
    if f.since is not None:
        q = q.where(AuditLog.at >= f.since)
    if f.until is not None:
        q = q.where(AuditLog.at < f.until)
    return q.order_by(AuditLog.id.desc())


def page(session: Session, f: AuditFilter, *, before_id: int | None = None, limit: int = 100):
    """One page of entries (keyset paging on id): [(entry, actor username)], and the id to continue before."""
    q = _query(f)
    if before_id is not None:
        q = q.where(AuditLog.id < before_id)
    rows = session.execute(q.limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return [(entry, username) for entry, username in rows], (rows[-1][0].id if more else None)


def export_rows(session: Session, f: AuditFilter, tz) -> Iterator[list]:
    """Every matching entry as a row of HEADER, fetched in chunks."""
    import json

    for entry, username in session.execute(_query(f).execution_options(yield_per=1000)):
        yield [
            entry.id,
            entry.at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
            username or "",
            entry.action,
            entry.object_type,
            entry.object_id if entry.object_id is not None else "",
            json.dumps(entry.details, ensure_ascii=False, sort_keys=True),
        ]


def object_types(session: Session) -> list[str]:
    return list(
        session.execute(select(AuditLog.object_type).distinct().order_by(AuditLog.object_type)).scalars()
    )


def actors(session: Session) -> list[tuple[int, str]]:
    """Staff members who appear in the log, for the filter's choices."""
    q = (
        select(User.id, User.username)
        .where(User.id.in_(select(AuditLog.actor_id).where(AuditLog.actor_id.isnot(None)).distinct()))
        .order_by(User.username)
    )
    return [tuple(r) for r in session.execute(q)]
