"""Rate limits for the consumer routes: the `limits` library's fixed-window counters, kept in Redis when the
deployment has one, and in this process's memory for the embedded default or while Redis is unreachable.
A request counts in every window of every key (per IP and per consumer, per minute and per hour) in one
round trip to Redis, refused or not.

No Flask here: views/consumer.py's `limited` decorator asks `RateLimits.hit` and answers 429 RATE_LIMITED with
Retry-After. (Flask-Limiter wraps this same library; its per-request resolution of limits, scopes and
exemptions cost more CPU than the scan's own SQL statement, see docs/benchmarks.md.)
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from functools import lru_cache

from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage, storage_from_string

log = logging.getLogger(__name__)
RETRY_STORAGE_SECONDS = 30.0  # how long the memory fallback serves before Redis is tried again


@lru_cache(maxsize=64)
def _items(limit: str) -> tuple[RateLimitItem, ...]:
    """ "60/minute;600/hour" as limit items, parsed once per string."""
    return tuple(parse_many(limit))


class RateLimits:
    """Counts requests per key and window, in `storage` (Redis) or, while it fails, in memory."""

    def __init__(self, storage: Storage | None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._shared = storage
        self._memory = MemoryStorage()
        self._clock = clock
        self._shared_down_until = 0.0
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, redis_url: str | None) -> RateLimits:
        """Counters in Redis at `redis_url` (short timeouts: a stalled Redis must not stall scans),
        else memory."""
        if redis_url is None:
            return cls(None)
        return cls(
            storage_from_string(redis_url, wrap_exceptions=True, socket_connect_timeout=1, socket_timeout=1)
        )

    def hit(self, limit: str, *keys: str) -> int | None:
        """Count one request in every window of `limit` (e.g. "60/minute;600/hour") for each key; None if all
        had room, else the seconds until the last full window resets (for Retry-After)."""
        windows = [(item, item.key_for(key)) for item in _items(limit) for key in keys]
        storage = self._storage()
        try:
            counts = _incr_all(storage, windows)
        except StorageError as exc:
            self._storage_failed(exc)
            storage = self._memory
            counts = _incr_all(storage, windows)
        full = [
            (item, key) for (item, key), count in zip(windows, counts, strict=True) if count > item.amount
        ]
        return max(_seconds_left(storage, item, key) for item, key in full) if full else None

    def _storage(self) -> Storage:
        if self._shared is None or self._clock() < self._shared_down_until:
            return self._memory
        return self._shared

    def _storage_failed(self, exc: Exception) -> None:
        with self._lock:
            if self._clock() >= self._shared_down_until:
                log.warning(
                    "rate-limit storage unreachable, counting in memory for %ds: %s",
                    RETRY_STORAGE_SECONDS,
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                )
            self._shared_down_until = self._clock() + RETRY_STORAGE_SECONDS


def _incr_all(storage: Storage, windows: list[tuple[RateLimitItem, str]]) -> list[int]:
    """Add one to each window's counter (what FixedWindowRateLimiter.hit does for one)
    and return the counts."""
    if not isinstance(storage, RedisStorage):
        return [storage.incr(key, item.get_expiry()) for item, key in windows]
    # All counters in one round trip, with the library's own script. EVAL, not EVALSHA: a pipeline of
    # registered scripts asks SCRIPT EXISTS first, which is a second round trip on every request.
    pipe = storage.get_connection().pipeline(transaction=False)
    for item, key in windows:
        pipe.eval(storage.SCRIPT_INCR_EXPIRE, 1, storage.prefixed_key(key), item.get_expiry(), 1)
    try:
        return [int(count) for count in pipe.execute()]
    except storage.base_exceptions as exc:
        raise StorageError(exc) from exc


def _seconds_left(storage: Storage, item: RateLimitItem, key: str) -> int:
    try:
        reset_at = storage.get_expiry(key)
    except StorageError:
        return item.get_expiry()
    return max(1, math.ceil(reset_at - time.time()))
