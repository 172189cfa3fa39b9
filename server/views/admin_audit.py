"""The audit log, filtered by actor, object and date, with CSV and XLSX exports."""

from __future__ import annotations

from flask import request

from server.services import audit, spreadsheets
from server.views.admin_common import (
    ADMIN,
    blueprint,
    day_end,
    day_start,
    download,
    ignored,
    page,
    query_day,
    query_int,
)
from server.web import db, runtime

bp = blueprint("admin_audit")


def _filter() -> audit.AuditFilter:
    problems: list[str] = []
    since, until = query_day("from", problems), query_day("to", problems)
    f = audit.AuditFilter(
        actor_id=query_int("actor", problems),
        object_type=(request.args.get("object_type") or "").strip()[:40] or None,
        object_id=query_int("object_id", problems),
        since=day_start(since) if since else None,
        until=day_end(until) if until else None,
    )
    ignored(problems)
    return f


@bp.get("/audit")
@ADMIN
def audit_list():
    f = _filter()
    entries, next_before = audit.page(db(), f, before_id=query_int("before", []))
    return page(
        "admin/audit.html",
        entries=entries,
        next_before=next_before,
        actors=audit.actors(db()),
        object_types=audit.object_types(db()),
        args={k: v for k, v in request.args.items() if k != "before" and v},
    )


@bp.get("/audit.<any(csv, xlsx):fmt>")
@ADMIN
def audit_export(fmt: str):
    rows = audit.export_rows(db(), _filter(), runtime().config.tz)
    if fmt == "csv":
        return download(spreadsheets.iter_csv(audit.HEADER, rows), "audit-log.csv", spreadsheets.CSV_TYPE)
    return download(
        spreadsheets.iter_xlsx(audit.HEADER, rows, "audit"), "audit-log.xlsx", spreadsheets.XLSX_TYPE
    )
