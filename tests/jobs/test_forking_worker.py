"""The real `codeloop worker` on PostgreSQL: RQ forks a work-horse per job, and every horse must get
database connections of its own (a pooled connection inherited from the parent process would be shared by
every horse: psycopg's prepared statements then collide — DuplicatePreparedStatement "_pg3_0")."""

from __future__ import annotations

import signal
import subprocess

import pytest
from redis import Redis
from rq import Queue
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select

from server.app import create_app
from server.models import Code, Scan
from tests.conftest import make_config
from tests.consumer.conftest import build_world
from tests.jobs.helpers import CODELOOP, add_pending_scans, count, env_for, start, stop, wait_for

JOBS, SCANS_PER_JOB, CHUNK = 20, 60, 5  # 12 chunks a job: each statement runs often enough to be prepared


@pytest.mark.postgres
def test_a_forking_worker_runs_consecutive_batch_enrichment_jobs(pg_engine, pg_url, redis_url, tmp_path):
    app = create_app(make_config(pg_url, tmp_path, redis_url=redis_url))
    world = build_world(app, quantity=JOBS * SCANS_PER_JOB)
    queue = Queue("enrich", connection=Redis.from_url(redis_url))
    log = tmp_path / "worker.log"
    worker = start(["worker", "--queue", "enrich"], env_for(pg_url, redis_url, tmp_path), log)
    try:
        for n in range(JOBS):
            add_pending_scans(world, SCANS_PER_JOB, start_serial=n * SCANS_PER_JOB)
            job = queue.enqueue("workers.geo.enrich_scans", limit=CHUNK)
            status = wait_for(
                lambda j=job: j.get_status(refresh=True).value in ("finished", "failed") and j, 120
            )
            assert status.get_status().value == "finished", f"job {n}: {log.read_text()[-3000:]}"
            assert job.return_value() == SCANS_PER_JOB
        assert count(world, Scan.geo_status == "pending") == 0
        assert count(world, Scan.geo_status == "done") == JOBS * SCANS_PER_JOB
        assert FailedJobRegistry(queue=queue).count == 0
    finally:
        stop(worker)
    assert "DuplicatePreparedStatement" not in log.read_text()
    app.extensions["codeloop"].engine.dispose()


@pytest.mark.postgres
def test_a_worker_killed_mid_batch_and_restarted_leaves_no_duplicates(pg_engine, pg_url, redis_url, tmp_path):
    app = create_app(make_config(pg_url, tmp_path, redis_url=redis_url))
    world = build_world(app, quantity=3000)
    add_pending_scans(world, 3000)
    env = env_for(pg_url, redis_url, tmp_path)
    queue = Queue("enrich", connection=Redis.from_url(redis_url))
    queue.enqueue("workers.geo.enrich_scans", limit=20, rounds=1000)  # many small chunks: slow enough to kill
    worker = start(["worker", "--queue", "enrich"], env, tmp_path / "first.log")
    try:
        wait_for(lambda: count(world, Scan.geo_status == "done") >= 100, 120, "the batch to be under way")
    finally:
        stop(worker, signal.SIGKILL)  # the worker and its work-horse, mid-batch
    left = count(world, Scan.geo_status == "pending")
    assert 0 < left < 3000, left
    worker = start(["worker", "--queue", "enrich", "--queue", "default"], env, tmp_path / "second.log")
    try:
        sweep_runtime = create_app(make_config(pg_url, tmp_path, redis_url=redis_url))  # what cron would run
        with sweep_runtime.app_context():
            from workers.sweeper import sweep

            assert sweep()["enrich"] == 1
        wait_for(lambda: count(world, Scan.geo_status == "pending") == 0, 180, "the rest to be enriched")
    finally:
        stop(worker)
    with world.session() as s:
        assert s.scalar(select(func.count()).select_from(Scan)) == 3000  # nothing written twice
        assert s.scalar(select(func.count(func.distinct(Scan.code_id)))) == 3000
        assert s.scalar(select(func.count()).where(Scan.geo_status == "done", Scan.city == "南京市")) == 3000
        assert s.scalar(select(func.count()).select_from(Code).where(Code.first_city == "南京市")) == 3000
    check = subprocess.run([CODELOOP, "check"], env=env, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr
    app.extensions["codeloop"].engine.dispose()
