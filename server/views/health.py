"""/healthz: is this process able to serve? Database, job queue and GeoIP data.

503 when it cannot serve (the database unreachable or not migrated, Redis unreachable); 200 otherwise,
with `status` "degraded" while Redis runs without `noeviction` and AOF: requests are served, and Redis is
never the only copy of a job (the sweeper enqueues owed work again), but queued jobs can be lost and
redone late."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import text

from server.jobs import redis_status
from server.migrate import current as current_revision
from server.migrate import head_revision
from server.models import utcnow
from server.web import runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    rt = runtime()
    database = _database(rt)
    jobs = redis_status(rt.queues)
    geoip = rt.geo.status(utcnow())
    serving = database["ok"] and jobs["ok"]
    status = "ok" if serving and jobs["durable"] else "degraded"
    body = {"status": status, "database": database, "jobs": jobs, "geoip": geoip}
    return body, 200 if serving else 503


def _database(rt) -> dict:
    try:
        with rt.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        revision, head = current_revision(rt.engine), head_revision()
    except Exception as exc:  # noqa: BLE001 — any failure here is the answer, not a crash
        return {"ok": False, "dialect": rt.engine.dialect.name, "error": str(exc).splitlines()[0]}
    return {"ok": revision == head, "dialect": rt.engine.dialect.name, "revision": revision, "head": head}
