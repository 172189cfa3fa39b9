"""Forged-code attempts are counted per address, /24 and overall per minute without a row per attempt: in
real Redis (one pipeline, TTL'd keys), or in memory when Redis is unset or unreachable; draining them into
forged_scans twice counts nothing twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis
from sqlalchemy import select

from server.forgeries import PREFIX, TTL_SECONDS, Forgeries, drain, keys_for
from server.models import ForgedScans

NOW = datetime(2026, 3, 10, 8, 0, 30, tzinfo=UTC)
SECRET = b"secret"


def rows(sessions) -> dict:
    with sessions() as s:
        return {
            (r.minute, r.scope, r.key): r.redis_count + r.memory_count for r in s.scalars(select(ForgedScans))
        }


def test_counts_in_redis_with_a_ttl_and_drains_once(redis_url, sessions):
    counters = Forgeries.from_url(SECRET, redis_url)
    for _ in range(3):
        counters.count("203.0.113.7", NOW)
    counters.count("203.0.113.8", NOW)
    counters.count("2001:db8::1", NOW + timedelta(minutes=1))
    client = redis.Redis.from_url(redis_url)
    keys = client.keys(PREFIX + "*")
    assert len(keys) == 4 + 3  # minute 0: two addresses, one /24, all; minute 1: address, /48, all
    assert all(0 < client.ttl(k) <= TTL_SECONDS for k in keys)
    drain(counters, sessions, NOW + timedelta(minutes=1))  # minute 1 is still counting: it stays in Redis
    minute = NOW.replace(second=0)
    ip, net = (key for _, key in keys_for(SECRET, "203.0.113.7")[:2])
    assert rows(sessions) == {
        (minute, "ip", ip): 3,
        (minute, "ip", keys_for(SECRET, "203.0.113.8")[0][1]): 1,
        (minute, "net", net): 4,
        (minute, "all", ""): 4,
    }
    assert len(client.keys(PREFIX + "*")) == 3
    drain(counters, sessions, NOW + timedelta(minutes=5))
    drain(counters, sessions, NOW + timedelta(minutes=5))  # again: nothing counted twice
    assert rows(sessions)[(minute + timedelta(minutes=1), "all", "")] == 1
    assert rows(sessions)[(minute, "all", "")] == 4 and client.keys(PREFIX + "*") == []


def test_counts_in_memory_without_redis(sessions):
    counters = Forgeries.from_url(SECRET, None)
    for _ in range(5):
        counters.count("203.0.113.7", NOW)
    counters.count(None, NOW)  # no address: counted overall only
    drain(counters, sessions, NOW + timedelta(minutes=2))
    drain(counters, sessions, NOW + timedelta(minutes=2))
    counts = rows(sessions)
    assert counts[(NOW.replace(second=0), "all", "")] == 6 and sorted(counts.values()) == [5, 5, 6]


def test_falls_back_to_memory_while_redis_is_unreachable(sessions):
    clock = [0.0]
    counters = Forgeries(SECRET, redis.Redis(port=1, socket_connect_timeout=10), clock=lambda: clock[0])
    counters.count("203.0.113.7", NOW)  # Redis refused: counted in memory, not lost, no exception
    counters.count("203.0.113.7", NOW)  # within the retry pause: straight to memory
    assert sum(counters.take_memory(10**12).values()) == 6
    clock[0] = 31.0
    counters.count("203.0.113.7", NOW)  # tried again after 30 s, refused again, still counted
    counters.give_back(counters.take_memory(10**12))
    drain(Forgeries(SECRET, None), sessions, NOW)  # another process's drain takes nothing of ours
    assert rows(sessions) == {}
    assert sum(counters.take_memory(10**12).values()) == 3
