"""Alerts with their evidence: the list (by status, rule, date), one alert with the scans, codes, vouchers
and money it names, and the decision — confirm (optionally voiding the held money) or dismiss (releasing
it) — through the alert services of server/services/alerts, audit-logged there."""

from __future__ import annotations

from flask import redirect, request, url_for
from sqlalchemy import select

from server.errors import DomainError
from server.models import Code, utcnow
from server.models.ops import ALERT_STATUSES
from server.services import alerts
from server.services.alerts.rules import RULES
from server.services.people import names
from server.views.admin_common import (
    ADMIN,
    actor_id,
    blueprint,
    day_end,
    day_start,
    form_text,
    ignored,
    page,
    query_day,
    query_int,
    refused,
)
from server.web import db, runtime

bp = blueprint("admin_alerts")
RULE_NAMES = [rule.NAME for rule in RULES]


@bp.get("/alerts")
@ADMIN
def alert_list():
    problems: list[str] = []
    status = request.args.get("status", "open")
    status = status if status in ALERT_STATUSES else None
    kind = request.args.get("kind") or None
    since, until = query_day("from", problems), query_day("to", problems)
    ignored(problems)
    listed = alerts.list_alerts(
        db(),
        status=status,
        kind=kind if kind in RULE_NAMES else None,
        batch_id=query_int("batch", problems),
        since=day_start(since) if since else None,
        until=day_end(until) if until else None,
        before_id=query_int("before", []),
        limit=50,
    )
    args = {k: v for k, v in request.args.items() if k != "before" and v}
    return page(
        "admin/alerts.html",
        alerts=listed,
        status=status,
        kind=kind,
        rules=RULE_NAMES,
        statuses=ALERT_STATUSES,
        args=args,
        more=listed[-1].id if len(listed) == 50 else None,
    )


@bp.get("/alerts/<int:alert_id>")
@ADMIN
def alert_detail(alert_id: int):
    alert = alerts.get_alert(db(), alert_id)
    detail = alerts.alert_detail(db(), alert)
    codec = runtime().codec
    codes = db().execute(select(Code).where(Code.id.in_(detail["codes"]))).scalars()
    return page(
        "admin/alert.html",
        alert=alert,
        detail=detail,
        codes=[codec.encode(c.batch_id, c.serial, c.kind) for c in codes],
        staff=names(db(), [alert.clerk_id, alert.resolved_by]),
    )


@bp.post("/alerts/<int:alert_id>/<any(confirm, dismiss):decision>")
@ADMIN
def alert_decide(alert_id: int, decision: str):
    back = url_for("admin_alerts.alert_detail", alert_id=alert_id)
    note, now = form_text("note", 500), utcnow()
    try:
        if decision == "confirm":
            void = request.form.get("void") == "on"
            alerts.confirm(db(), alert_id=alert_id, actor_id=actor_id(), now=now, void=void, note=note)
        else:
            alerts.dismiss(
                db(), alert_id=alert_id, actor_id=actor_id(), now=now, note=note, tz=runtime().config.tz
            )
    except DomainError as exc:
        return refused(exc, back)
    db().commit()
    return redirect(back)
