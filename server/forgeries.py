"""Forged-code attempts, counted without a database row per attempt (the enumeration alert reads them).

`Forgeries.count(ip, now)` adds one to three per-minute counters — the address's salted hash, its /24 (IPv4)
or /48 (IPv6) network's, and the overall one — in Redis in one pipelined round trip (INCR + EXPIRE, TTL'd),
or in this process's memory when Redis is unset or unreachable (tried again every 30 s, as the rate limits
do). `drain(session, now)` moves every closed minute into the forged_scans table: Redis counters as the
value they hold (set, so draining twice is harmless; the key is deleted after the commit by the caller's
`forget`), memory counters added (and forgotten at once, they belong to this process alone).

No Flask here; the scan edge calls `runtime.forgeries.count(ip, now)` for a code whose MAC fails.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import redis
from sqlalchemy import update
from sqlalchemy.orm import Session

from server.db import insert_ignoring_conflicts
from server.models import ForgedScans
from server.services.consumers import ip_hash, network_hash

log = logging.getLogger(__name__)
PREFIX = "codeloop:forged:"
TTL_SECONDS = 6 * 3600  # a counter not drained by then (no worker for hours) is dropped
RETRY_SECONDS = 30.0
Key = tuple[int, str, str]  # (Unix minute, scope, key)


def minute_of(now: datetime) -> int:
    return int(now.timestamp()) // 60


def keys_for(secret: bytes, ip: str | None) -> list[tuple[str, str]]:
    """(scope, key) pairs an attempt from `ip` counts in: its address, its network, and overall."""
    pairs = [("ip", ip_hash(secret, ip)), ("net", network_hash(secret, ip))]
    return [(scope, key) for scope, key in pairs if key] + [("all", "")]


class Forgeries:
    """Per-minute forged-attempt counters: Redis when configured and reachable, else this process's memory."""

    def __init__(
        self, secret: bytes, client: redis.Redis | None, *, clock: Callable[[], float] = time.monotonic
    ):
        self._secret = secret
        self._redis = client
        self._memory: Counter[Key] = Counter()
        self._lock = threading.Lock()
        self._clock = clock
        self._down_until = 0.0

    @classmethod
    def from_url(cls, secret: bytes, redis_url: str | None) -> Forgeries:
        """Counters in Redis at `redis_url` (short timeouts: Redis must not stall a scan), else in memory."""
        client = (
            redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1) if redis_url else None
        )
        return cls(secret, client)

    def count(self, ip: str | None, now: datetime) -> None:
        """Count one forged attempt from `ip` at `now`: one Redis round trip, or none."""
        minute = minute_of(now)
        keys = [(minute, scope, key) for scope, key in keys_for(self._secret, ip)]
        if self._redis is not None and self._clock() >= self._down_until:
            pipe = self._redis.pipeline(transaction=False)
            for k in keys:
                pipe.incr(_redis_key(k))
                pipe.expire(_redis_key(k), TTL_SECONDS)
            try:
                pipe.execute()
                return
            except redis.RedisError as exc:
                self._failed(exc)
        with self._lock:
            self._memory.update(keys)

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            if self._clock() >= self._down_until:
                log.warning(
                    "forged-scan counters unreachable, counting in memory for %ds: %s", RETRY_SECONDS, exc
                )
            self._down_until = self._clock() + RETRY_SECONDS

    def take_memory(self, before_minute: int) -> Counter[Key]:
        """Remove and return this process's counts of minutes before `before_minute`."""
        with self._lock:
            taken = Counter({k: n for k, n in self._memory.items() if k[0] < before_minute})
            for k in taken:
                del self._memory[k]
        return taken

    def give_back(self, counts: Counter[Key]) -> None:
        """Return counts taken by take_memory that could not be stored."""
        with self._lock:
            self._memory.update(counts)

    def closed_redis(self, before_minute: int) -> dict[Key, int]:
        """Redis counters of minutes before `before_minute`, with their values."""
        if self._redis is None:
            return {}
        names = list(self._redis.scan_iter(match=PREFIX + "*", count=1000))
        keys = [(n, _parse(n)) for n in names]
        keys = [(n, k) for n, k in keys if k is not None and k[0] < before_minute]
        values = self._redis.mget([n for n, _ in keys]) if keys else []
        return {k: int(v) for (_, k), v in zip(keys, values, strict=True) if v is not None}

    def forget_redis(self, keys: list[Key]) -> None:
        """Delete drained Redis counters (after the drain committed)."""
        if self._redis is not None and keys:
            self._redis.delete(*[_redis_key(k) for k in keys])


def _redis_key(k: Key) -> str:
    return f"{PREFIX}{k[0]}:{k[1]}:{k[2]}"


def _parse(name: bytes | str) -> Key | None:
    text = name.decode() if isinstance(name, bytes) else name
    minute, _, rest = text[len(PREFIX) :].partition(":")
    scope, _, key = rest.partition(":")
    return (int(minute), scope, key) if minute.isdigit() and scope in ("ip", "net", "all") else None


def store(session: Session, *, redis_counts: dict[Key, int], memory_counts: Counter[Key]) -> int:
    """Write drained counts into forged_scans: Redis values set, memory counts added. Returns rows touched."""
    for (minute, scope, key), n in sorted(redis_counts.items()):
        _ensure(session, minute, scope, key)
        session.execute(
            update(ForgedScans)
            .where(*_match(minute, scope, key))
            .values(redis_count=n)
            .execution_options(synchronize_session=False)
        )
    for (minute, scope, key), n in sorted(memory_counts.items()):
        _ensure(session, minute, scope, key)
        session.execute(
            update(ForgedScans)
            .where(*_match(minute, scope, key))
            .values(memory_count=ForgedScans.memory_count + n)
            .execution_options(synchronize_session=False)
        )
    return len(redis_counts) + len(memory_counts)


def _at(minute: int) -> datetime:
    return datetime.fromtimestamp(minute * 60, UTC)


def _match(minute: int, scope: str, key: str):
    return ForgedScans.minute == _at(minute), ForgedScans.scope == scope, ForgedScans.key == key


def _ensure(session: Session, minute: int, scope: str, key: str) -> None:
    stmt = insert_ignoring_conflicts(session, ForgedScans, index_elements=["minute", "scope", "key"])
    session.execute(stmt.values(minute=_at(minute), scope=scope, key=key, redis_count=0, memory_count=0))


def drain(forgeries: Forgeries, sessions, now: datetime) -> int:
    """Move every closed minute's counts into forged_scans (one transaction); returns the rows touched."""
    before = minute_of(now)  # the current minute is still counting
    redis_counts = forgeries.closed_redis(before)
    memory_counts = forgeries.take_memory(before)
    try:
        with sessions() as session, session.begin():
            touched = store(session, redis_counts=redis_counts, memory_counts=memory_counts)
    except Exception:
        forgeries.give_back(memory_counts)  # they are this process's only copy
        raise
    forgeries.forget_redis(list(redis_counts))
    return touched
