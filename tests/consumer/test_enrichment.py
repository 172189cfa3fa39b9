"""Scan enrichment as an outbox of pending scan rows:
debounced pokes on Redis, batch runs, PG concurrency, inline."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from sqlalchemy import func, select

from server.geo import make_geo
from server.jobs import ENRICH_PENDING
from server.models import Code, Scan, utcnow
from tests.conftest import make_config
from tests.consumer.conftest import build_world
from workers.geo import enrich_scans

UNLIMITED = dict(rate_limit_scan="1000000/minute", rate_limit_claim="1000000/minute")
NANJING, HANGZHOU, BEIJING, US, LOCAL = "114.114.114.114", "223.5.5.5", "180.76.76.76", "8.8.8.8", "127.0.0.1"
PLACE = {ip: make_geo().lookup(ip) for ip in (NANJING, HANGZHOU, BEIJING, US, LOCAL)}


def via(ip):
    """Headers making the app (trusted_proxies=1) see `ip`; the test client itself is 127.0.0.1."""
    return {} if ip == LOCAL else {"X-Forwarded-For": ip}


@pytest.fixture
def make_app(tmp_path):
    from server.app import create_app

    apps = []

    def make(database_url, **overrides):
        apps.append(
            create_app(make_config(database_url, tmp_path, trusted_proxies=1, **UNLIMITED, **overrides))
        )
        return apps[-1]

    yield make
    for app in apps:
        app.extensions["codeloop"].engine.dispose()


class Clock:
    """Stands in for time.monotonic in server.jobs,
    so 'a burst within one second' does not depend on CPU load."""

    now = 1000.0

    def monotonic(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr("server.jobs.time", clock)
    return clock


def rq_queue(redis_url):
    return Queue("enrich", connection=Redis.from_url(redis_url))


def pending(world):
    with world.session() as s:
        return s.execute(
            select(func.count()).select_from(Scan).where(Scan.geo_status == "pending")
        ).scalar_one()


def snapshot(world):
    with world.session() as s:
        scans = s.execute(
            select(
                Scan.id,
                Scan.geo_status,
                Scan.country,
                Scan.province,
                Scan.city,
                Scan.accuracy_km,
                Scan.local_hour,
                Scan.weekday,
            ).order_by(Scan.id)
        ).all()
        codes = s.execute(select(Code.id, Code.first_city).order_by(Code.id)).all()
    return scans, codes


def assert_enriched(world):
    """Every scan matches its IP's GeoIP place and its local time;
    every code's first_city is its earliest scan's city."""
    with world.session() as s:
        for scan in s.execute(select(Scan)).scalars():
            place = PLACE[scan.ip]
            assert scan.geo_status == ("unknown" if place is None else "done"), scan.ip
            assert (scan.country, scan.province, scan.city, scan.accuracy_km) == (
                (None,) * 4
                if place is None
                else (place.country, place.province, place.city, place.accuracy_km)
            )
            local = scan.scanned_at + timedelta(hours=8)  # Asia/Shanghai
            assert (scan.local_hour, scan.weekday) == (local.hour, local.isoweekday())
        for code in s.execute(select(Code)).scalars():
            earliest = s.execute(
                select(Scan).where(Scan.code_id == code.id).order_by(Scan.scanned_at, Scan.id).limit(1)
            ).scalar_one()
            assert code.first_city == (PLACE[earliest.ip].city if PLACE[earliest.ip] else None)


def add_pending_scans(world, count, codes=10):
    """`count` pending scans, one second apart, spread over `codes` codes and five kinds of address."""
    ips = [NANJING, LOCAL, HANGZHOU, US, BEIJING]
    start = utcnow() - timedelta(hours=1)
    with world.session() as s:
        rows = [
            Code(
                batch_id=world.batch_id,
                serial=n,
                kind=0,
                scan_count=1,
                first_scan_at=start,
                last_scan_at=start,
            )
            for n in range(codes)
        ]
        s.add_all(rows)
        s.flush()
        s.add_all(
            Scan(
                code_id=rows[i % codes].id,
                batch_id=world.batch_id,
                serial=i % codes,
                raw_code=world.code(i % codes),
                outcome="ok",
                scanned_at=start + timedelta(seconds=i),
                ip=ips[i % len(ips)],
                geo_status="pending",
            )
            for i in range(count)
        )
        s.commit()


# ---- 1. the web process on Redis: scans stay pending, one poke per interval ------------------------


def test_a_burst_of_scans_pokes_the_batch_job_once_per_interval(make_app, database_url, redis_url, clock):
    app = make_app(database_url, redis_url=redis_url)
    assert app.extensions["codeloop"].enrichment.interval == 1.0
    world = build_world(app)
    client, queue = app.test_client(), rq_queue(redis_url)
    assert queue.count == 0
    for serial in range(12):
        assert client.get(f"/S/{world.code(serial)}", headers=via(NANJING)).status_code == 200
    assert [(job.func_name, job.args, job.kwargs) for job in queue.jobs] == [(ENRICH_PENDING, (), {})]
    assert pending(world) == 12  # recorded, not enriched in the request
    clock.now = 1000.9
    client.get(f"/S/{world.code(12)}")
    assert queue.count == 1
    clock.now = 1001.0  # the interval has passed: the next scan pokes again
    client.get(f"/S/{world.code(13)}")
    assert [job.func_name for job in queue.jobs] == [ENRICH_PENDING, ENRICH_PENDING]
    assert pending(world) == 14


# ---- 2. running the poked job enriches everything pending, and is idempotent ------------------------


def test_the_enqueued_job_enriches_every_pending_scan_once(make_app, database_url, redis_url, clock):
    app = make_app(database_url, redis_url=redis_url)
    world = build_world(app)
    client = app.test_client()
    unknown = world.codec.encode(world.batch_id + 50, 3)  # its tag verifies, its batch does not exist
    visits = [(1, NANJING), (1, LOCAL), (2, LOCAL), (2, HANGZHOU), (3, US), (None, NANJING)]
    for serial, ip in visits:
        client.get(f"/S/{world.code(serial) if serial is not None else unknown}", headers=via(ip))
    clock.now += 5
    client.get(f"/S/{world.code(4)}", headers=via(BEIJING))
    queue = rq_queue(redis_url)
    assert queue.count == 2 and pending(world) == 7
    jobs = queue.jobs

    assert SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert [job.return_value() for job in jobs] == [7, 0]  # the second poke finds nothing left
    assert queue.count == 0 and pending(world) == 0
    assert_enriched(world)
    with world.session() as s:
        first_cities = dict(s.execute(select(Code.serial, Code.first_city)).all())
    assert first_cities == {1: "南京市", 2: None, 3: None, 4: "北京市"}  # code 2's earliest scan had no place

    before = snapshot(world)
    assert enrich_scans() == 0
    assert snapshot(world) == before


# ---- 3. limit per transaction, rounds per run, oldest first ------------------------------------------


@pytest.mark.commits  # on PostgreSQL one chunk commits on a second thread while the next is taken
def test_batches_of_limit_work_through_all_pending_scans_oldest_first(make_app, database_url):
    app = make_app(database_url)
    world = build_world(app)
    add_pending_scans(world, 23)
    assert enrich_scans(limit=4, rounds=2) == 8  # rounds caps one run
    with world.session() as s:
        left = (
            s.execute(select(Scan.id).where(Scan.geo_status == "pending").order_by(Scan.id)).scalars().all()
        )
        everything = s.execute(select(Scan.id).order_by(Scan.id)).scalars().all()
    assert left == everything[8:]
    assert enrich_scans(limit=4) == 15  # four full rounds and a short one
    assert pending(world) == 0
    assert_enriched(world)
    assert enrich_scans(limit=4) == 0


# ---- 4. PostgreSQL: concurrent runs share the work (FOR UPDATE SKIP LOCKED) --------------------------


@pytest.mark.postgres
def test_concurrent_runs_enrich_each_scan_exactly_once(make_app, pg_engine, pg_url):
    app = make_app(pg_url)
    world = build_world(app)
    scans, runs = 400, 4
    add_pending_scans(world, scans, codes=40)
    barrier = threading.Barrier(runs)

    def run(_):
        barrier.wait()
        return enrich_scans(limit=15)

    with ThreadPoolExecutor(runs) as pool:
        futures = [pool.submit(run, i) for i in range(runs)]
        counts = [f.result(timeout=120) for f in futures]  # a deadlock would raise (PostgreSQL) or time out
    assert sum(counts) == scans  # every scan counted by exactly one run: none twice, none missed
    assert sum(1 for c in counts if c) >= 2, counts  # the work really was shared
    assert pending(world) == 0
    assert_enriched(world)


@pytest.mark.postgres
def test_a_run_skips_scans_another_transaction_holds_instead_of_waiting(make_app, pg_engine, pg_url):
    app = make_app(pg_url)
    world = build_world(app)
    add_pending_scans(world, 30)
    with pg_engine.connect() as holder, holder.begin():  # another run's batch, still in its transaction
        held = (
            holder.execute(
                select(Scan.id)
                .where(Scan.geo_status == "pending")
                .order_by(Scan.id)
                .limit(5)
                .with_for_update()
            )
            .scalars()
            .all()
        )
        with ThreadPoolExecutor(1) as pool:
            done = pool.submit(enrich_scans, limit=10)
            try:
                assert (
                    done.result(timeout=120) == 25
                )  # FOR UPDATE without SKIP LOCKED would wait for the holder
            finally:
                holder.rollback()  # lets a blocked run finish, so a failure here cannot hang the test
    with world.session() as s:
        assert (
            s.execute(select(Scan.id).where(Scan.geo_status == "pending").order_by(Scan.id)).scalars().all()
            == held
        )
    assert enrich_scans() == 5 and pending(world) == 0


# ---- 5. the embedded default (inline queue, no Redis) enriches during the request --------------------


def test_inline_queue_enriches_the_scan_during_the_request(make_app, database_url):
    app = make_app(database_url)
    runtime = app.extensions["codeloop"]
    assert runtime.config.redis_url is None and not runtime.queue.is_async
    world = build_world(app)
    client = app.test_client()
    for ip in (HANGZHOU, LOCAL):
        assert client.get(f"/S/{world.code(5)}", headers=via(ip)).status_code == 200
        assert pending(world) == 0
    assert_enriched(world)
    with world.session() as s:
        assert s.execute(select(Code.first_city)).scalar_one() == "杭州市"
    assert enrich_scans() == 0
