"""Background work that survives Redis and workers dying: every job is owed by a committed database row.

The one mechanism, for every kind of job — the row is its own outbox entry:

1. The business transaction commits a row that says work is owed: a scan with geo_status 'pending',
   an export with status 'queued', a ledger entry payable but not settled. Nothing else is written.
2. After the commit the web calls `submit(queues, kind, *args)`: an RQ enqueue on the kind's named
   queue (`enrich`, `exports`, `reports`, `default`). If Redis is down it logs and returns False; the
   request still succeeds, since the row is the record of the work.
3. `codeloop cron` runs `workers.sweeper.sweep` every 10 seconds: for each kind it asks the kind's
   `overdue(session, now)` function which work is still owed past the kind's deadline and enqueues it
   again (with a job id per piece of work, so a job still waiting on the queue is not doubled).
4. Every job is idempotent and claims its rows with a conditional UPDATE or FOR UPDATE SKIP LOCKED, so
   a job delivered twice, or a sweep that races a poke, changes nothing the second time. Work is
   batched: one job works through a chunk of rows (one RQ job per event tops out near 250 a second).
5. Failures stay visible: each kind's `failed(session, limit)` lists its rows that failed (a scan that
   can never be placed, an export that raised), with their error; server/services/jobs_status.py adds
   overdue counts and RQ's failed-job registries for `GET /api/v1/jobs` and `codeloop jobs`.

Without CODELOOP_REDIS_URL (the embedded default) every queue is RQ's synchronous queue: `submit` runs
the job at once, in the request.

To add a kind (rollups, alert rules…): write the job in workers/ (idempotent, works through what is
owed), write `overdue` and `failed` functions in its service module (dotted paths, so server/ never
imports workers/), and `register(JobKind(...))` at import time of a module `KIND_MODULES` lists.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import redis
from rq import Queue
from rq.job import Job
from sqlalchemy.orm import Session

QUEUE_NAMES = ("enrich", "default", "reports", "exports")  # `codeloop worker` listens in this order
DEFAULT_QUEUE = "default"
log = logging.getLogger(__name__)


# ---- kinds ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobKind:
    """A kind of durable work.

    name: short id ("enrich"); queue: one of QUEUE_NAMES; job: dotted path of the RQ job function;
    overdue: dotted path of `f(session, now) -> list[tuple]`, the argument tuples of work still owed past
    `deadline` (e.g. [()] for "run the batch job", [(export_id,), …]); failed: dotted path of
    `f(session, limit) -> list[dict]` (each with at least "id", "error", "at"); backlog: dotted path of
    `f(session, before) -> {"owed", "overdue", "oldest"}` for the status page; timeout: RQ job timeout."""

    name: str
    queue: str
    job: str
    overdue: str
    failed: str | None = None
    backlog: str | None = None
    deadline: timedelta = timedelta(seconds=30)
    timeout: int = 600
    description: str = ""

    def overdue_work(self, session: Session, now: datetime) -> list[tuple]:
        return _resolve(self.overdue)(session, now - self.deadline)

    def failures(self, session: Session, limit: int = 20) -> list[dict]:
        return _resolve(self.failed)(session, limit) if self.failed else []

    def backlog_at(self, session: Session, now: datetime) -> dict:
        if self.backlog:
            return _resolve(self.backlog)(session, now - self.deadline)
        late = self.overdue_work(session, now)
        return {"owed": len(late), "overdue": len(late), "oldest": None}


KINDS: dict[str, JobKind] = {}
# modules that register kinds when imported (the other side of "server never imports workers")
KIND_MODULES = ["server.jobs"]


def register(kind: JobKind) -> JobKind:
    """Add a kind (idempotent by name)."""
    if kind.queue not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {kind.queue!r}")
    KINDS[kind.name] = kind
    return kind


def kinds() -> dict[str, JobKind]:
    """Every registered kind (importing the modules that register them)."""
    for module in KIND_MODULES:
        importlib.import_module(module)
    return KINDS


def _resolve(path: str) -> Callable:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


ENRICH = register(
    JobKind(
        "enrich",
        "enrich",
        "workers.geo.enrich_scans",
        "server.services.enrichment.overdue",
        "server.services.enrichment.failed",
        "server.services.enrichment.backlog",
        deadline=timedelta(seconds=10),  # the web pokes at most once a second; the sweeper runs every 10 s
        description="place and time scans",
    )
)
EXPORT = register(
    JobKind(
        "export",
        "exports",
        "workers.exports.run_export",
        "server.services.exports.overdue",
        "server.services.exports.failed",
        deadline=timedelta(seconds=30),
        timeout=4 * 3600,
        description="print packages",
    )
)
SETTLE = register(
    JobKind(
        "settlement",
        "default",
        "workers.settlement.run_daily",
        "server.services.settlements.overdue",
        deadline=timedelta(hours=2),
        timeout=1800,
        description="close yesterday's statements",
    )
)

ROLLUPS = register(
    JobKind(
        "rollups",
        "reports",
        "workers.rollups.refresh_rollups",
        "server.services.rollups.overdue",
        deadline=timedelta(seconds=60),
        timeout=1800,
        description="recompute the report rollups of days touched by new events",
    )
)
ALERTS = register(
    JobKind(
        "alerts",
        "reports",
        "workers.alerts.run_alert_rules",
        "server.services.alerts.overdue",
        deadline=timedelta(seconds=60),
        timeout=1800,
        description="run the alert rules over new events",
    )
)


# ---- queues --------------------------------------------------------------------------------------------


@dataclass
class Queues:
    """The named RQ queues on one Redis connection (or RQ's synchronous queues on fakeredis)."""

    by_name: dict[str, Queue] = field(default_factory=dict)

    @property
    def is_async(self) -> bool:
        return self.by_name[DEFAULT_QUEUE].is_async

    @property
    def connection(self):
        return self.by_name[DEFAULT_QUEUE].connection

    def __getitem__(self, name: str) -> Queue:
        return self.by_name[name]

    def pick(self, names: list[str] | tuple[str, ...] | None = None) -> list[Queue]:
        return [self.by_name[n] for n in (names or QUEUE_NAMES)]


def make_queues(redis_url: str | None) -> Queues:
    """Queues on Redis, or synchronous ones (is_async=False) for the embedded default."""
    if redis_url is None:
        import fakeredis

        connection, is_async = fakeredis.FakeStrictRedis(), False
    else:
        connection = redis.Redis.from_url(redis_url, socket_connect_timeout=3, socket_timeout=5)
        is_async = True
    return Queues({name: Queue(name, connection=connection, is_async=is_async) for name in QUEUE_NAMES})


def job_id(kind: JobKind, args: tuple) -> str:
    """One RQ job id per piece of owed work: the sweeper does not enqueue what still waits."""
    return "-".join(["codeloop", kind.name, *map(str, args)])


def submit(queues: Queues, kind: JobKind | str, *args, dedupe: bool = False) -> bool:
    """Enqueue `kind`'s job after the commit that made its row; False (logged) if Redis is unreachable —
    the row stays owed and the sweeper picks it up. Inline, the job runs now (its errors are logged)."""
    kind = KINDS[kind] if isinstance(kind, str) else kind
    queue = queues[kind.queue]
    options = {"job_timeout": kind.timeout, "failure_ttl": 7 * 86400}
    if dedupe:
        options["job_id"] = job_id(kind, args)
    try:
        if dedupe and queue.is_async and _waiting(queue, options["job_id"]):
            return True
        queue.enqueue(kind.job, *args, **options)
        return True
    except redis.RedisError as exc:
        log.warning("could not enqueue %s%s (the sweeper will): %s", kind.job, args, exc)
        return False
    except Exception:  # noqa: BLE001 — inline: the row stays owed; the sweeper and the failed list show it
        if queue.is_async:
            raise
        log.exception("inline job %s%s failed", kind.job, args)
        return False


def _waiting(queue: Queue, jid: str) -> bool:
    """The job exists and is still to run (queued, scheduled, deferred) or running."""
    try:
        status = Job.fetch(jid, connection=queue.connection).get_status(refresh=False)
    except Exception:  # noqa: BLE001 — NoSuchJobError and a job whose function moved alike
        return False
    return status is not None and status.value in ("queued", "started", "scheduled", "deferred")


def redis_status(queues: Queues) -> dict:
    """Mode and reachability for /healthz; Redis must run with noeviction or jobs can vanish."""
    if not queues.is_async:
        return {"mode": "inline", "ok": True}
    try:
        policy = queues.connection.config_get("maxmemory-policy").get("maxmemory-policy")
        return {
            "mode": "redis",
            "ok": policy == "noeviction",
            "maxmemory_policy": policy,
            "queued": {name: q.count for name, q in queues.by_name.items()},
        }
    except redis.RedisError as exc:
        return {"mode": "redis", "ok": False, "error": str(exc).splitlines()[0]}


def enqueue(queue: Queue, path: str, *args, **kwargs):
    """Enqueue job `path` with plain arguments (ids, ISO dates) — not durable: prefer `submit`."""
    return queue.enqueue(path, *args, **kwargs)


# ---- the scan path's poke ------------------------------------------------------------------------------

ENRICH_ONE, ENRICH_PENDING = "workers.geo.enrich_scan", "workers.geo.enrich_scans"


class Debounce:
    """True at most once per `interval` seconds (per process): for jobs that sweep a whole table."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._next = 0.0
        self._lock = threading.Lock()

    def due(self) -> bool:
        now = time.monotonic()
        with self._lock:
            if now < self._next:
                return False
            self._next = now + self.interval
            return True


def enrich_after_scan(queue: Queue | Queues, debounce: Debounce, scan_id: int) -> None:
    """Owe the scan its enrichment. Inline (embedded default): enrich it now. On Redis: poke the batch job
    at most once a second from this process; an RQ enqueue costs more than the whole scan's SQL, and the
    pending scan row is the durable record, so a scan the poke misses waits for the next poke or the
    sweeper."""
    if isinstance(queue, Queues):
        queue = queue[ENRICH.queue]
    elif queue.name != ENRICH.queue:  # given the runtime's default queue: the same Redis, the enrich queue
        queue = Queue(ENRICH.queue, connection=queue.connection, is_async=queue.is_async)
    if not queue.is_async:
        queue.enqueue(ENRICH_ONE, scan_id)
    elif debounce.due():
        try:
            queue.enqueue(ENRICH_PENDING, job_timeout=ENRICH.timeout)
        except redis.RedisError as exc:  # the scan is committed and pending: the sweeper will get to it
            log.warning("could not poke %s: %s", ENRICH_PENDING, exc)
