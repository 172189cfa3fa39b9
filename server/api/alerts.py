"""Admin JSON API for alerts: list with filters, one alert with its evidence and money, confirm, dismiss."""

from __future__ import annotations

from server.api import api, spec
from server.api import schemas_alerts as m
from server.api.spec import doc, valid
from server.auth import principal, require_staff
from server.models import utcnow
from server.services import alerts
from server.web import db, runtime

ADMIN = require_staff("admin")


def _doc(ok: dict, **kw):
    return doc(security=spec.ADMIN, ok=ok, tags=("alerts",), **kw)


@api.get("/alerts")
@ADMIN
@_doc({200: m.Alerts}, query=m.AlertsQuery)
def list_alerts():
    """Alerts, newest first, filtered"""
    q = valid("query")
    rows = alerts.list_alerts(
        db(),
        status=q.status,
        kind=q.kind,
        store_id=q.store_id or None,
        clerk_id=q.clerk_id or None,
        batch_id=q.batch_id or None,
        since=q.since,
        until=q.until,
        limit=q.limit,
        before_id=q.before_id or None,
    )
    return {"alerts": [alerts.alert_summary(a) for a in rows]}


@api.get("/alerts/<int:alert_id>")
@ADMIN
@_doc({200: m.AlertDetail})
def get_alert(alert_id: int):
    """One alert with its evidence, codes, vouchers, money"""
    return alerts.alert_detail(db(), alerts.get_alert(db(), alert_id))


@api.post("/alerts/<int:alert_id>/confirm")
@ADMIN
@_doc({200: m.Decision}, json=m.ConfirmIn, errors=(409,))
def confirm_alert(alert_id: int):
    """Confirm an open alert: its holds stay; with void=true the held money is reversed"""
    body = valid()
    result = alerts.confirm(
        db(), alert_id=alert_id, actor_id=principal().user_id, now=utcnow(), void=body.void, note=body.note
    )
    db().commit()
    return result


@api.post("/alerts/<int:alert_id>/dismiss")
@ADMIN
@_doc({200: m.Decision}, json=m.NoteIn, errors=(409,))
def dismiss_alert(alert_id: int):
    """Dismiss an open alert: its holds are released"""
    result = alerts.dismiss(
        db(),
        alert_id=alert_id,
        actor_id=principal().user_id,
        now=utcnow(),
        note=valid().note,
        tz=runtime().config.tz,
    )
    db().commit()
    return result
