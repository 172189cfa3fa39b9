"""Durable jobs (server/jobs.py) on the main test database: the same event delivered twice, poison events,
what the sweeper enqueues, and the failed and overdue work an admin sees (API and CLI)."""

from __future__ import annotations

import subprocess
from datetime import timedelta

from redis import Redis
from rq import Queue
from sqlalchemy import delete, func, select

from server.app import create_app
from server.jobs import EXPORT, submit
from server.models import BatchExport, Code, Scan, utcnow
from server.services.accounts import create_token, create_user
from tests.conftest import make_config
from tests.consumer.conftest import build_world
from tests.jobs.helpers import CODELOOP, add_pending_scans, count
from workers.exports import run_export
from workers.geo import enrich_scan, enrich_scans
from workers.sweeper import sweep


def _snapshot(world):
    with world.session() as s:
        scans = s.execute(select(Scan.__table__).order_by(Scan.id)).all()
        codes = s.execute(select(Code.id, Code.first_city).order_by(Code.id)).all()
    return scans, codes


def _check(env) -> None:
    result = subprocess.run([CODELOOP, "check"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_the_same_enrichment_delivered_twice_leaves_the_same_state(app, cli_env):
    world = build_world(app)
    add_pending_scans(world, 30)
    assert enrich_scans() == 30
    once = _snapshot(world)
    assert enrich_scans() == 0 and enrich_scan(once[0][0].id) == "done"  # the batch job and the single one
    assert _snapshot(world) == once
    _check(cli_env)


def test_a_poison_scan_fails_once_and_the_rest_proceed(app, cli_env):
    world = build_world(app)
    add_pending_scans(world, 5)
    add_pending_scans(world, 1, ip="not-an-ip", start_serial=5)
    add_pending_scans(world, 1, ip="999.1.2.3", start_serial=6)
    add_pending_scans(world, 4, start_serial=7)
    assert enrich_scans() == 11
    assert count(world, Scan.geo_status == "done") == 9
    with world.session() as s:
        failed = s.execute(select(Scan.ip, Scan.enrich_error).where(Scan.geo_status == "failed")).all()
    assert sorted(ip for ip, _ in failed) == ["999.1.2.3", "not-an-ip"]
    assert all(error.startswith("malformed IP address") for _, error in failed)
    assert enrich_scans() == 0  # failed once: not taken again
    assert enrich_scan(10**9) == "missing"  # a deleted (or never made) row is no error
    _check(cli_env)


def test_an_export_delivered_twice_or_for_a_deleted_row(app, cli_env, tmp_path):
    world = build_world(app, quantity=300)
    with world.session() as s:
        export = BatchExport(batch_id=world.batch_id, roll_size=100, status="queued", created_at=utcnow())
        s.add(export)
        s.commit()
        export_id = export.id
    assert run_export(export_id) is not None
    assert run_export(export_id) is None  # done: the second delivery changes nothing
    with world.session() as s:
        done = s.get(BatchExport, export_id)
        assert (done.status, done.attempts, done.done_count) == ("done", 1, 300)
        s.execute(delete(BatchExport))
        s.commit()
    assert run_export(export_id) is None  # deleted
    _check(cli_env)


def test_an_export_whose_run_died_is_taken_over_after_its_lease(app):
    world = build_world(app, quantity=200)
    now = utcnow()
    with world.session() as s:
        held = BatchExport(batch_id=world.batch_id, roll_size=100, status="running", attempts=1,
                           lease_until=now + timedelta(minutes=5), created_at=now)  # fmt: skip
        dead = BatchExport(batch_id=world.batch_id, roll_size=100, status="running", attempts=1,
                           lease_until=now - timedelta(seconds=1), created_at=now)  # fmt: skip
        s.add_all([held, dead])
        s.commit()
        ids = held.id, dead.id
    assert run_export(ids[0]) is None  # a live run holds it
    assert run_export(ids[1]) is not None
    with world.session() as s:
        assert [(e.status, e.attempts) for e in s.scalars(select(BatchExport).order_by(BatchExport.id))] == [
            ("running", 1),
            ("done", 2),
        ]


def test_the_sweeper_enqueues_overdue_work_once(database_url, redis_url, tmp_path):
    app = create_app(make_config(database_url, tmp_path, redis_url=redis_url))
    world = build_world(app)
    add_pending_scans(world, 3)  # a minute old: past the 10 s deadline
    now = utcnow()
    with world.session() as s:
        s.add_all(
            [
                BatchExport(batch_id=world.batch_id, roll_size=100, status="queued",
                            created_at=now - timedelta(minutes=5)),
                BatchExport(batch_id=world.batch_id, roll_size=100, status="queued", created_at=now),
            ]
        )  # fmt: skip
        s.commit()
    # the fresh export is not overdue yet; pending scans owe the rollups and the alert rules nothing yet
    assert sweep() == {"enrich": 1, "export": 1, "settlement": 0, "rollups": 0, "alerts": 0}
    connection = Redis.from_url(redis_url)
    enrich, exports = Queue("enrich", connection=connection), Queue("exports", connection=connection)
    assert [j.id for j in enrich.jobs] == ["codeloop-enrich"] and [j.id for j in exports.jobs] == [
        "codeloop-export-1"
    ]
    sweep()  # the jobs still wait: not doubled
    assert enrich.count == 1 and exports.count == 1
    app.extensions["codeloop"].engine.dispose()


def test_submit_with_redis_down_is_false_and_the_row_stays_owed(database_url, tmp_path):
    app = create_app(make_config(database_url, tmp_path, redis_url="redis://127.0.0.1:1/0"))
    world = build_world(app, quantity=200)
    with world.session() as s:
        export = BatchExport(batch_id=world.batch_id, roll_size=100, status="queued", created_at=utcnow())
        s.add(export)
        s.commit()
        assert submit(app.extensions["codeloop"].queues, EXPORT, export.id, dedupe=True) is False
        assert s.get(BatchExport, export.id).status == "queued"


def test_failed_and_overdue_work_is_shown_to_an_admin(app, cli_env, sessions):
    world = build_world(app)
    add_pending_scans(world, 2, ip="bad address")
    enrich_scans()
    add_pending_scans(world, 3, start_serial=10)  # a minute old and still pending: overdue
    with sessions.begin() as s:
        admin = create_user(s, username="brand", password="brand-password", role="admin", now=utcnow())
        token = create_token(s, user=admin, now=utcnow())[0]
    answer = app.test_client().get("/api/v1/jobs", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and answer.get_json()["ok"] is False
    enrich = next(k for k in answer.get_json()["kinds"] if k["kind"] == "enrich")
    assert (enrich["owed"], enrich["overdue"], enrich["queue"]) == (3, 3, "enrich")
    assert [f["error"] for f in enrich["failed"]] == ["malformed IP address 'bad address'"] * 2
    assert app.test_client().get("/api/v1/jobs").status_code == 401
    listed = subprocess.run([CODELOOP, "jobs"], env=cli_env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 1 and "malformed IP address 'bad address'" in listed.stdout
    assert "overdue       3" in listed.stdout, listed.stdout
    enrich_scans()
    with sessions.begin() as s:
        s.execute(delete(Scan).where(Scan.geo_status == "failed"))
    clean = subprocess.run(
        [CODELOOP, "jobs", "--json"], env=cli_env, capture_output=True, text=True, timeout=120
    )
    assert clean.returncode == 0, clean.stdout
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Scan).where(Scan.geo_status == "pending")) == 0
