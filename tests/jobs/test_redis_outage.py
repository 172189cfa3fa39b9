"""Redis is an accelerator, never the only copy of owed work: with Redis stopped, scans and an export
request still succeed; when it returns, the sweeper run by `codeloop cron` gets everything done."""

from __future__ import annotations

import socket
import subprocess

import pytest
from sqlalchemy import select

from server.app import create_app
from server.models import BatchExport, Scan, utcnow
from server.services.accounts import create_token, create_user
from tests.conftest import make_config
from tests.consumer.conftest import build_world
from tests.jobs.helpers import CODELOOP, RedisServer, count, env_for, start, stop, wait_for

UNLIMITED = dict(rate_limit_scan="1000000/minute", rate_limit_claim="1000000/minute")
SCANS = 200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.postgres
def test_scans_and_an_export_survive_redis_being_down(pg_engine, pg_url, tmp_path):
    redis_server = RedisServer(tmp_path, free_port())
    redis_server.start()
    app = create_app(
        make_config(pg_url, tmp_path, redis_url=redis_server.url, trusted_proxies=1, **UNLIMITED)
    )
    world = build_world(app, quantity=SCANS)
    runtime = app.extensions["codeloop"]
    with runtime.sessions.begin() as s:
        admin = create_user(s, username="brand", password="brand-password", role="admin", now=utcnow())
        auth = {"Authorization": f"Bearer {create_token(s, user=admin, now=utcnow())[0]}"}
    env = env_for(pg_url, redis_server.url, tmp_path)
    worker = start(["worker"], env, tmp_path / "worker.log")
    cron = start(["cron"], env, tmp_path / "cron.log")
    client = app.test_client()
    try:  # Redis goes away under a running worker and scheduler
        wait_for(lambda: "Listening on" in (tmp_path / "worker.log").read_text(), 60, "the worker")
        wait_for(lambda: "Enqueued job sweep" in (tmp_path / "cron.log").read_text(), 60, "the scheduler")
        redis_server.stop()
        for serial in range(SCANS):
            page = client.get(f"/S/{world.code(serial)}", headers={"X-Forwarded-For": "114.114.114.114"})
            assert page.status_code == 200
        queued = client.post(
            f"/api/v1/batches/{world.batch_id}/exports", json={"roll_size": 100}, headers=auth
        )
        assert queued.status_code == 202 and queued.get_json()["status"] == "queued"
        assert count(world, Scan.outcome == "ok") == SCANS  # every scan recorded, pending its enrichment

        redis_server.start()  # empty: every job Redis held is gone, as after a crash
        wait_for(lambda: count(world, Scan.geo_status == "pending") == 0, 180, "the scans to be enriched")
        wait_for(lambda: _export_status(world) == "done", 180, "the export to be built")
    finally:
        stop(worker)
        stop(cron)
        redis_server.stop()
    assert count(world, Scan.geo_status == "done", Scan.province == "江苏省", Scan.city == "南京市") == SCANS
    check = subprocess.run([CODELOOP, "check"], env=env, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr
    runtime.engine.dispose()


def _export_status(world) -> str:
    with world.session() as s:
        return s.execute(select(BatchExport.status)).scalar_one()
