"""Background work at a glance: per kind of job what is owed, overdue and failed (with its error), and per RQ
queue its length and failed jobs — server/services/jobs_status.py, as `codeloop jobs` prints it."""

from __future__ import annotations

from server.models import utcnow
from server.services.jobs_status import job_status
from server.views.admin_common import ADMIN, blueprint, page
from server.web import db, runtime

bp = blueprint("admin_jobs")


@bp.get("/jobs")
@ADMIN
def job_list():
    return page("admin/jobs.html", status=job_status(db(), runtime().queues, utcnow()))
