"""Rate limits for the consumer routes: the `limits` library's fixed-window counters, kept in Redis when the
deployment has one, and in this process's memory for the embedded default or while Redis is unreachable.

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
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

log = logging.getLogger(__name__)
RETRY_STORAGE_SECONDS = 30.0  # how long the memory fallback serves before Redis is tried again


@lru_cache(maxsize=64)
def _items(limit: str) -> tuple[RateLimitItem, ...]:
    """"60/minute;600/hour" as limit items, parsed once per string."""
    return tuple(parse_many(limit))


class RateLimits:
    """Counts requests per key and window, in `storage` (Redis) or, while it fails, in memory."""

    def __init__(self, storage: Storage | None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._shared = FixedWindowRateLimiter(storage) if storage is not None else None
        self._memory = FixedWindowRateLimiter(MemoryStorage())
        self._clock = clock
        self._shared_down_until = 0.0
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, redis_url: str | None) -> RateLimits:
        """Counters in Redis at `redis_url` (short timeouts: a stalled Redis must not stall scans), else memory."""
        if redis_url is None:
            return cls(None)
        return cls(storage_from_string(redis_url, wrap_exceptions=True, socket_connect_timeout=1, socket_timeout=1))

    def hit(self, limit: str, *keys: str) -> int | None:
        """Count one request against `limit` (e.g. "60/minute;600/hour") for each key; None if every window
        still had room, else the seconds until the first full window resets (for Retry-After)."""
        for item in _items(limit):
            for key in keys:
                strategy = self._strategy()
                try:
                    allowed = strategy.hit(item, key)
                except StorageError as exc:
                    self._storage_failed(exc)
                    strategy = self._memory
                    allowed = strategy.hit(item, key)
                if not allowed:
                    return self._seconds_left(strategy, item, key)
        return None

    def _strategy(self) -> FixedWindowRateLimiter:
        if self._shared is None or self._clock() < self._shared_down_until:
            return self._memory
        return self._shared

    def _storage_failed(self, exc: Exception) -> None:
        with self._lock:
            if self._clock() >= self._shared_down_until:
                log.warning("rate-limit storage unreachable, counting in memory for %ds: %s", RETRY_STORAGE_SECONDS,
                            str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            self._shared_down_until = self._clock() + RETRY_STORAGE_SECONDS

    def _seconds_left(self, strategy: FixedWindowRateLimiter, item: RateLimitItem, key: str) -> int:
        try:
            reset_at = strategy.get_window_stats(item, key).reset_time
        except StorageError:
            return item.get_expiry()
        return max(1, math.ceil(reset_at - time.time()))
