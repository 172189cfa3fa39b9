"""What the background work owes and what failed, per kind of job (server/jobs.py) and per RQ queue:
for `GET /api/v1/jobs`, `codeloop jobs` and the admin console."""

from __future__ import annotations

from datetime import datetime

import redis
from rq.registry import FailedJobRegistry
from sqlalchemy.orm import Session

from server.jobs import Queues, kinds

RQ_FAILED_SHOWN = 20


def job_status(session: Session, queues: Queues, now: datetime, limit: int = 20) -> dict:
    """Per kind: owed, overdue (past its deadline), oldest, failed rows with their error; per queue: its
    length and RQ's failed jobs (their exception's last line). `ok`: nothing is overdue or failed."""
    out_kinds = []
    for kind in kinds().values():
        backlog = kind.backlog_at(session, now)
        failed = kind.failures(session, limit)
        out_kinds.append(
            {
                "kind": kind.name,
                "description": kind.description,
                "queue": kind.queue,
                "job": kind.job,
                "deadline_seconds": int(kind.deadline.total_seconds()),
                **backlog,
                "failed": failed,
            }
        )
    out_queues = _queues(queues)
    ok = not any(k["overdue"] or k["failed"] for k in out_kinds) and not any(
        q.get("failed") for q in out_queues
    )
    return {
        "ok": ok,
        "mode": "redis" if queues.is_async else "inline",
        "kinds": out_kinds,
        "queues": out_queues,
    }


def _queues(queues: Queues) -> list[dict]:
    if not queues.is_async:
        return []
    out = []
    for name, queue in queues.by_name.items():
        try:
            registry = FailedJobRegistry(queue=queue)
            jobs = [
                job
                for job in queue.job_class.fetch_many(
                    registry.get_job_ids(0, RQ_FAILED_SHOWN - 1), connection=queue.connection
                )
                if job
            ]
            failed = [
                {
                    "id": job.id,
                    "job": job.func_name,
                    "args": [str(a) for a in job.args],
                    "error": _last_line(job),
                    "at": job.ended_at,
                }
                for job in jobs
            ]
            out.append(
                {"queue": name, "queued": queue.count, "failed_count": registry.count, "failed": failed}
            )
        except redis.RedisError as exc:
            out.append({"queue": name, "error": str(exc).splitlines()[0]})
    return out


def _last_line(job) -> str | None:
    try:
        info = job.latest_result().exc_string if job.latest_result() else job.exc_info
    except Exception:  # noqa: BLE001 — an old or odd job: show what there is
        info = getattr(job, "exc_info", None)
    lines = [line for line in (info or "").strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else None
