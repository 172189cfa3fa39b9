"""/healthz reports the database, the job queue and the GeoIP data."""

import socket

import redis

from server.jobs import enqueue
from tests.conftest import make_config
from tests.jobs.helpers import RedisServer, wait_for


def test_healthz_embedded_default(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] and body["database"]["revision"] == body["database"]["head"]
    assert body["jobs"] == {"mode": "inline", "ok": True, "durable": True}
    assert body["geoip"]["bundled"] and body["geoip"]["build_date"] == "2018-07-03"
    assert body["geoip"]["stale"] is True and body["geoip"]["type"] == "GeoLite2-City"


def test_healthz_with_real_redis(database_url, tmp_path, redis_url):
    from server.app import create_app

    app = create_app(make_config(database_url, tmp_path, redis_url=redis_url))
    body = app.test_client().get("/healthz").get_json()
    assert body["jobs"]["mode"] == "redis" and body["jobs"]["ok"]
    assert body["jobs"]["maxmemory_policy"] == "noeviction" and body["jobs"]["appendonly"] in ("yes", "no")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rewriting(client) -> bool:
    persistence = client.info("persistence")
    # a SIGTERM that arrives during this first rewrite is lost, and the server would outlive the test
    return bool(persistence["aof_rewrite_in_progress"] or persistence["aof_rewrite_scheduled"])


def test_healthz_reports_redis_without_aof_or_noeviction_as_degraded(database_url, tmp_path):
    """README: Redis runs with noeviction and AOF, and anything else is reported as degraded. A redis-server
    of the test's own (the shared one is never reconfigured), read with CONFIG GET as /healthz reads it."""
    from server.app import create_app

    own = RedisServer(tmp_path, free_port())  # started with --appendonly no
    own.start()
    try:
        client = redis.Redis(port=own.port)
        app = create_app(make_config(database_url, tmp_path, redis_url=own.url))
        web = app.test_client()
        without_aof = web.get("/healthz")
        body = without_aof.get_json()
        # still serving (Redis is never the only copy of a job), but said to be degraded
        assert without_aof.status_code == 200 and body["status"] == "degraded"
        assert body["jobs"]["appendonly"] == "no" and body["jobs"]["durable"] is False
        client.config_set("appendonly", "yes")  # Redis writes the AOF's base in the background
        wait_for(lambda: not _rewriting(client), 30, "Redis to write its first AOF")
        durable = web.get("/healthz")
        assert durable.status_code == 200 and durable.get_json()["status"] == "ok"
        assert durable.get_json()["jobs"] | {"queued": None} == {
            "mode": "redis",
            "ok": True,
            "durable": True,
            "maxmemory_policy": "noeviction",
            "appendonly": "yes",
            "queued": None,
        }
        client.config_set("maxmemory-policy", "allkeys-lru")
        evicting = web.get("/healthz").get_json()
        assert evicting["status"] == "degraded" and evicting["jobs"]["durable"] is False
        app.extensions["codeloop"].engine.dispose()
    finally:
        own.stop()


def test_healthz_unreachable_redis_is_degraded(database_url, tmp_path):
    from server.app import create_app

    app = create_app(make_config(database_url, tmp_path, redis_url="redis://127.0.0.1:1/0"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.get_json()["jobs"]["ok"] is False


def test_healthz_unmigrated_database_is_degraded(tmp_path):
    from server.app import create_app

    app = create_app(make_config(f"sqlite:///{tmp_path / 'empty.sqlite3'}", tmp_path))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.get_json()["database"]["revision"] is None


def test_inline_jobs_run_at_once(app):
    job = enqueue(app.extensions["codeloop"].queue, "workers.maintenance.check_invariants")
    assert job.is_finished and job.return_value() == []


def test_a_real_worker_runs_queued_jobs(database_url, tmp_path, redis_url):
    from rq import SimpleWorker

    from server.app import create_app

    app = create_app(make_config(database_url, tmp_path, redis_url=redis_url))
    queue = app.extensions["codeloop"].queue
    job = enqueue(queue, "workers.maintenance.check_invariants")
    assert job.get_status() == "queued"
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert job.get_status(refresh=True) == "finished" and job.return_value() == []


def test_api_errors_are_typed_and_localised(client):
    zh = client.get("/api/v1/no-such-thing")
    en = client.get("/api/v1/no-such-thing", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert zh.status_code == en.status_code == 404
    assert (
        zh.get_json()["error"]["code"] == "NOT_FOUND"
        and zh.get_json()["error"]["message"] == "找不到该页面或对象，请检查链接。"
    )
    assert en.get_json()["error"]["message"] == "This page or item does not exist; please check the link."
    page = client.get("/no-such-page", headers={"Accept-Language": "en"})
    assert page.status_code == 404 and b"This page or item does not exist" in page.data


def test_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.") and "Error" in doc["components"]["schemas"]
