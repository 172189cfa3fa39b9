"""Print-package exports that run on the worker queue, with progress for the admin page."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from server.errors import DomainError, validation
from server.models import BatchExport
from server.services.batches import get_batch

QUEUE_ABOVE = 200_000  # codes; smaller packages stream straight from the request
MIN_ROLL, MAX_ROLL = 100, 1_000_000
# a run renews its lease with every roll it writes; a run that died is taken over once its lease runs out
LEASE = timedelta(minutes=10)


def check_roll_size(roll_size: int) -> int:
    if type(roll_size) is not int or not MIN_ROLL <= roll_size <= MAX_ROLL:
        raise validation(
            f"roll_size must be a whole number from {MIN_ROLL} to {MAX_ROLL}",
            zh=f"每卷码数须为 {MIN_ROLL} 到 {MAX_ROLL} 之间的整数",
            field="roll_size",
        )
    return roll_size


def request_export(session: Session, *, batch_id: int, roll_size: int, now: datetime) -> BatchExport:
    """Record an export for the worker (enqueue workers.exports.run_export after commit)."""
    get_batch(session, batch_id)
    export = BatchExport(
        batch_id=batch_id, roll_size=check_roll_size(roll_size), status="queued", created_at=now
    )
    session.add(export)
    session.flush()
    return export


def get_export(session: Session, *, batch_id: int, export_id: int) -> BatchExport:
    export = session.get(BatchExport, export_id) if type(export_id) is int else None
    if export is None or export.batch_id != batch_id:
        raise DomainError("NOT_FOUND", what="export", id=export_id)
    return export


def list_exports(session: Session, batch_id: int) -> list[BatchExport]:
    return list(
        session.execute(
            select(BatchExport).where(BatchExport.batch_id == batch_id).order_by(BatchExport.id.desc())
        ).scalars()
    )


def start(session: Session, export_id: int, now: datetime) -> bool:
    """Claim a queued export, or a running one whose run died (its lease ran out), for this run; False if it
    is done, failed, or held by a live run. The row is its own job (server/jobs.py)."""
    result = session.execute(
        update(BatchExport)
        .where(
            BatchExport.id == export_id,
            or_(
                BatchExport.status == "queued",
                and_(BatchExport.status == "running", BatchExport.lease_until < now),
            ),
        )
        .values(
            status="running",
            done_count=0,
            error=None,
            attempts=BatchExport.attempts + 1,
            lease_until=now + LEASE,
        )
    )
    return result.rowcount == 1


def progress(session: Session, export_id: int, done: int, now: datetime) -> None:
    """Record progress and renew the run's lease."""
    session.execute(
        update(BatchExport)
        .where(BatchExport.id == export_id)
        .values(done_count=done, lease_until=now + LEASE)
    )


def finish(session: Session, export_id: int, *, path: Path | None, error: str | None, now: datetime) -> None:
    session.execute(
        update(BatchExport)
        .where(BatchExport.id == export_id)
        .values(
            status="failed" if error else "done",
            path=str(path) if path else None,
            error=error,
            finished_at=now,
            lease_until=None,
        )
    )


def overdue(session: Session, before: datetime) -> list[tuple]:
    """Exports owed work: queued since before `before`, or running with a lease that ran out by then."""
    ids = session.execute(
        select(BatchExport.id)
        .where(
            or_(
                and_(BatchExport.status == "queued", BatchExport.created_at < before),
                and_(BatchExport.status == "running", BatchExport.lease_until < before),
            )
        )
        .order_by(BatchExport.id)
        .limit(100)
    ).scalars()
    return [(export_id,) for export_id in ids]


def failed(session: Session, limit: int) -> list[dict]:
    """Exports that failed, newest first, with their error."""
    rows = session.execute(
        select(BatchExport.id, BatchExport.batch_id, BatchExport.error, BatchExport.finished_at)
        .where(BatchExport.status == "failed")
        .order_by(BatchExport.id.desc())
        .limit(limit)
    ).all()
    return [{"id": r.id, "batch_id": r.batch_id, "error": r.error, "at": r.finished_at} for r in rows]


def iter_export_zip(export: BatchExport):
    """Stream a finished export's folder as a ZIP."""
    from codegen.streams import iter_directory_zip

    if export.status != "done" or not export.path or not Path(export.path).is_dir():
        raise DomainError("NOT_FOUND", what="finished export", id=export.id, status=export.status)
    return iter_directory_zip(export.path)
