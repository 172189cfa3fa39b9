"""The real `codeloop worker` on PostgreSQL: RQ forks a work-horse per job, and every horse must get
database connections of its own (a pooled connection inherited from the parent process would be shared by
every horse: psycopg's prepared statements then collide — DuplicatePreparedStatement "_pg3_0")."""

from __future__ import annotations

import pytest
from redis import Redis
from rq import Queue
from rq.registry import FailedJobRegistry

from server.app import create_app
from server.models import Scan
from tests.conftest import make_config
from tests.consumer.conftest import build_world
from tests.jobs.helpers import add_pending_scans, count, env_for, start, stop, wait_for

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
