"""The job queue: RQ on Redis when configured, otherwise RQ running jobs inline on fakeredis.

Server code enqueues by dotted path ("workers.geo.enrich_scans") after its transaction commits,
so server/ never imports workers/.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from rq import Queue

QUEUE_NAME = "codeloop"
log = logging.getLogger(__name__)


def make_queue(redis_url: str | None) -> Queue:
    """A Queue on Redis, or an inline one (is_async=False) for the embedded default."""
    if redis_url is None:
        import fakeredis

        return Queue(QUEUE_NAME, connection=fakeredis.FakeStrictRedis(), is_async=False)
    return Queue(
        QUEUE_NAME, connection=redis.Redis.from_url(redis_url, socket_connect_timeout=3, socket_timeout=5)
    )


def redis_status(queue: Queue) -> dict:
    """Mode and reachability for /healthz; Redis must run with noeviction or jobs can vanish."""
    if not queue.is_async:
        return {"mode": "inline", "ok": True}
    try:
        policy = queue.connection.config_get("maxmemory-policy").get("maxmemory-policy")
        return {
            "mode": "redis",
            "ok": policy == "noeviction",
            "maxmemory_policy": policy,
            "queued": queue.count,
        }
    except redis.RedisError as exc:
        return {"mode": "redis", "ok": False, "error": str(exc).splitlines()[0]}


def enqueue(queue: Queue, path: str, *args, **kwargs):
    """Enqueue job `path` with plain arguments (ids, ISO dates)."""
    return queue.enqueue(path, *args, **kwargs)


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


def enrich_after_scan(queue: Queue, debounce: Debounce, scan_id: int) -> None:
    """Owe the scan its enrichment. Inline (embedded default): enrich it now. On Redis: poke the batch job
    at most once a second from this process; an RQ enqueue costs more than the whole scan's SQL, and the
    pending scan row is the durable record, so a scan the poke misses waits for the next poke or the
    sweeper."""
    if not queue.is_async:
        queue.enqueue(ENRICH_ONE, scan_id)
    elif debounce.due():
        try:
            queue.enqueue(ENRICH_PENDING)
        except redis.RedisError as exc:  # the scan is committed and pending: the sweeper will get to it
            log.warning("could not poke %s: %s", ENRICH_PENDING, exc)
