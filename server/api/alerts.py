"""Admin JSON API for alerts: list with filters, one alert with its evidence and money, confirm, dismiss."""

from __future__ import annotations

from flask import request

from server.api import api
from server.api.common import query_int
from server.api.openapi import path
from server.auth import principal, require_staff
from server.errors import validation
from server.models import utcnow
from server.services import alerts
from server.web import db, runtime

ADMIN = require_staff("admin")


def _iso_arg(name: str):
    from datetime import datetime

    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw) if len(raw) <= 40 else None
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise validation(
            f"{name} must be an ISO 8601 time with a time zone", zh=f"{name} 须为带时区的 ISO 8601 时间"
        )
    return value


def _optional_int(name: str) -> int | None:
    return query_int(name, 0) or None if name in request.args else None


@api.get("/alerts")
@ADMIN
def list_alerts():
    rows = alerts.list_alerts(
        db(),
        status=request.args.get("status"),
        kind=request.args.get("kind"),
        store_id=_optional_int("store_id"),
        clerk_id=_optional_int("clerk_id"),
        batch_id=_optional_int("batch_id"),
        since=_iso_arg("since"),
        until=_iso_arg("until"),
        limit=query_int("limit", 100),
        before_id=_optional_int("before_id"),
    )
    return {"alerts": [alerts.alert_summary(a) for a in rows]}


@api.get("/alerts/<int:alert_id>")
@ADMIN
def get_alert(alert_id: int):
    return alerts.alert_detail(db(), alerts.get_alert(db(), alert_id))


def _note() -> str:
    body = request.get_json(silent=True)
    note = body.get("note", "") if isinstance(body, dict) else ""
    if not isinstance(note, str):
        raise validation("note must be text", zh="备注须为文字", field="note")
    return note


@api.post("/alerts/<int:alert_id>/confirm")
@ADMIN
def confirm_alert(alert_id: int):
    body = request.get_json(silent=True)
    void = bool(body.get("void")) if isinstance(body, dict) else False
    result = alerts.confirm(
        db(), alert_id=alert_id, actor_id=principal().user_id, now=utcnow(), void=void, note=_note()
    )
    db().commit()
    return result


@api.post("/alerts/<int:alert_id>/dismiss")
@ADMIN
def dismiss_alert(alert_id: int):
    result = alerts.dismiss(
        db(),
        alert_id=alert_id,
        actor_id=principal().user_id,
        now=utcnow(),
        note=_note(),
        tz=runtime().config.tz,
    )
    db().commit()
    return result


_FILTERS = [
    {"name": n, "in": "query", "required": False, "schema": s}
    for n, s in (
        ("status", {"type": "string", "enum": ["open", "confirmed", "dismissed"]}),
        ("kind", {"type": "string"}),
        ("store_id", {"type": "integer"}),
        ("clerk_id", {"type": "integer"}),
        ("batch_id", {"type": "integer"}),
        ("since", {"type": "string", "format": "date-time"}),
        ("until", {"type": "string", "format": "date-time"}),
        ("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
        ("before_id", {"type": "integer"}),
    )
]
_NOTE = {"type": "object", "properties": {"note": {"type": "string", "maxLength": 500}}}
_COMMON = {
    "tags": ["alerts"],
    "security": [{"bearer": []}],
    "responses": {
        "default": {
            "description": "error",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    },
}
path("/alerts", "get", {**_COMMON, "summary": "Alerts, newest first, filtered", "parameters": _FILTERS})
path(
    "/alerts/{alert_id}", "get", {**_COMMON, "summary": "One alert with its evidence, codes, vouchers, money"}
)
path(
    "/alerts/{alert_id}/confirm",
    "post",
    {
        **_COMMON,
        "summary": "Confirm an open alert: its holds stay; with void=true the held money is reversed",
        "requestBody": {
            "required": False,
            "content": {
                "application/json": {
                    "schema": {**_NOTE, "properties": {**_NOTE["properties"], "void": {"type": "boolean"}}}
                }
            },
        },
    },
)
path(
    "/alerts/{alert_id}/dismiss",
    "post",
    {
        **_COMMON,
        "summary": "Dismiss an open alert: its holds are released",
        "requestBody": {"required": False, "content": {"application/json": {"schema": _NOTE}}},
    },
)
