"""The sweeper: whatever work is still owed past its kind's deadline goes back on its queue (server/jobs.py).

Run by `codeloop cron` every 10 seconds. It only enqueues; each job is idempotent and claims its own rows,
so a sweep that races a poke or a running job does no harm, and a job still waiting is not doubled."""

from __future__ import annotations

import logging

from server.jobs import kinds, submit
from server.models import utcnow
from server.runtime import current

log = logging.getLogger(__name__)


def sweep() -> dict[str, int]:
    """Enqueue every kind's overdue work; returns how many jobs were enqueued per kind."""
    runtime, now, out = current(), utcnow(), {}
    with runtime.sessions() as session:
        owed = {kind: kind.overdue_work(session, now) for kind in kinds().values()}
    for kind, work in owed.items():
        out[kind.name] = sum(submit(runtime.queues, kind, *args, dedupe=True) for args in work)
        if work:
            log.warning("sweeper: %d overdue %s job(s) enqueued again", out[kind.name], kind.name)
    return out
