"""Rate limits on the consumer routes: 429 RATE_LIMITED with Retry-After, counted in Redis or in memory, and
in memory while Redis is unreachable."""

from __future__ import annotations

import time

import pytest
from limits import parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from server.ratelimits import RETRY_STORAGE_SECONDS, RateLimits
from tests.conftest import make_config
from tests.consumer.conftest import build_world

UNREACHABLE_REDIS = "redis://127.0.0.1:9/0"  # the discard port: nothing listens there


@pytest.mark.parametrize("storage", ["memory", "redis", "unreachable redis"])
def test_rate_limits_answer_429_with_retry_after(request, database_url, tmp_path, storage):
    from server.app import create_app

    redis_url = {
        "memory": None,
        "redis": request.getfixturevalue("redis_url") if storage == "redis" else None,
        "unreachable redis": UNREACHABLE_REDIS,
    }[storage]
    app = create_app(make_config(database_url, tmp_path, redis_url=redis_url, rate_limit_scan="3/minute"))
    world = build_world(app)
    client = app.test_client()
    statuses = [client.get(f"/S/{world.code(1)}").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    r = client.get(f"/S/{world.code(1)}", headers={"Accept-Language": "en"})
    assert (
        r.status_code == 429
        and 0 < int(r.headers["Retry-After"]) <= 60
        and "Too many requests" in r.get_data(as_text=True)
    )
    api = client.get(f"/api/v1/scan/{world.code(1)}")
    assert api.status_code == 200  # its own endpoint, its own budget


def test_the_per_ip_limit_holds_across_consumers(app_with_limit):
    app, world = app_with_limit
    statuses = [
        app.test_client().get(f"/S/{world.code(1)}").status_code for _ in range(4)
    ]  # a new consumer each time
    assert statuses == [200, 200, 200, 429]


def test_the_per_consumer_limit_holds_across_addresses(app_with_limit):
    app, world = app_with_limit
    client = app.test_client()
    first = client.get(
        f"/S/{world.code(2)}", environ_base={"REMOTE_ADDR": "10.0.1.1"}
    )  # a first visit counts by address
    assert first.status_code == 200 and "cl_c=" in first.headers["Set-Cookie"]
    statuses = [
        client.get(f"/S/{world.code(1)}", environ_base={"REMOTE_ADDR": f"10.0.0.{i}"}).status_code
        for i in range(4)
    ]
    assert statuses == [200, 200, 200, 429]


@pytest.fixture
def app_with_limit(database_url, tmp_path):
    from server.app import create_app

    app = create_app(make_config(database_url, tmp_path, rate_limit_scan="3/minute"))
    return app, build_world(app)


class FlakyStorage(MemoryStorage):
    """Memory counters that fail like an unreachable Redis while `down`."""

    down = False
    calls = 0

    def incr(self, key, expiry, amount=1):
        self.calls += 1
        if self.down:
            raise StorageError(ConnectionError("Connection refused"))
        return super().incr(key, expiry, amount)


def test_counts_in_memory_while_the_storage_is_down_then_returns_to_it():
    shared, now = FlakyStorage(), [1000.0]
    limits = RateLimits(shared, clock=lambda: now[0])
    assert [limits.hit("2/minute", "k") for _ in range(2)] == [None, None]
    assert limits.hit("2/minute", "k") > 0 and shared.calls == 3
    shared.down = True
    assert limits.hit("2/minute", "k") is None  # memory starts its own count
    assert shared.calls == 4
    assert [limits.hit("2/minute", "k") for _ in range(2)][
        -1
    ] > 0  # memory's limit holds; Redis is left alone
    assert shared.calls == 4
    now[0] += RETRY_STORAGE_SECONDS + 1
    shared.down = False
    assert limits.hit("2/minute", "k") > 0 and shared.calls == 5  # back on the shared counter, still over


@pytest.mark.parametrize("storage", ["memory", "redis"])
def test_every_limit_in_a_list_counts_for_every_key(request, storage):
    limits = RateLimits.from_url(request.getfixturevalue("redis_url") if storage == "redis" else None)
    assert [limits.hit("5/minute;2/hour", "ip-a", "consumer-a") for _ in range(2)] == [None, None]
    assert 60 < limits.hit("5/minute;2/hour", "ip-a", "consumer-b") <= 3600  # ip-a has had its two this hour
    assert 60 < limits.hit("5/minute;2/hour", "ip-b", "consumer-a") <= 3600  # and so has consumer-a
    assert limits.hit("5/minute;2/hour", "ip-b", "consumer-b") is None


def test_the_counters_are_the_librarys_own(redis_url):
    """One round trip counts every window,
    in the keys, amounts and expiries of limits' FixedWindowRateLimiter."""
    limits = RateLimits.from_url(redis_url)
    for _ in range(3):
        limits.hit("5/minute;10/hour", "ip-a", "consumer-a")
    assert limits.hit("5/minute;10/hour", "ip-b", "consumer-a") is None
    library = FixedWindowRateLimiter(storage_from_string(redis_url))
    minute, hour = parse_many("5/minute;10/hour")
    assert [library.get_window_stats(minute, key).remaining for key in ("ip-a", "consumer-a", "ip-b")] == [
        2,
        1,
        4,
    ]
    assert [library.get_window_stats(hour, key).remaining for key in ("ip-a", "consumer-a", "ip-b")] == [
        7,
        6,
        9,
    ]
    assert 0 < library.get_window_stats(minute, "ip-a").reset_time - time.time() <= 60
    assert 3000 < library.get_window_stats(hour, "ip-a").reset_time - time.time() <= 3600


def test_retry_after_waits_for_the_last_full_window():
    limits = RateLimits(None)
    assert [limits.hit("2/minute;2/hour", "k") for _ in range(2)] == [None, None]
    assert (
        60 < limits.hit("2/minute;2/hour", "k") <= 3600
    )  # the minute's reset would only meet the hour's refusal
