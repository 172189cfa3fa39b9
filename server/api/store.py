"""Store-side JSON API: redemptions (idempotent), reversals, stores and clerks, holds, settlements."""

from __future__ import annotations

from datetime import timedelta
from functools import wraps

from flask import Response, request

from server import idempotent
from server.api import api
from server.api.common import datetime_field, int_field, json_body, str_field
from server.api.openapi import path
from server.auth import authorised, principal, principal_and_key_state, require_staff
from server.errors import validation
from server.models import utcnow
from server.services import holds, idempotency, people, redemptions, settlements, store_activity
from server.services.alerts import decisions
from server.web import db, language, runtime

ADMIN = require_staff("admin")


def redemption_json(r: redemptions.Redeemed, grace_minutes: int) -> dict:
    red = r.redemption
    return {
        "redemption": {
            "id": red.id,
            "voucher": r.voucher.code,
            "value_fen": r.voucher.value_fen,
            "store": {"id": r.store.id, "name": r.store.name},
            "clerk_id": red.clerk_id,
            "purchase_fen": red.purchase_fen,
            "receipt_ref": red.receipt_ref,
            "redeemed_at": red.redeemed_at.isoformat(timespec="seconds"),
            "reversible_until": (red.redeemed_at + timedelta(minutes=grace_minutes)).isoformat(
                timespec="seconds"
            ),
        }
    }


def idempotent_staff(*roles: str):
    """require_staff for a write that honours an Idempotency-Key (Stripe semantics, server/idempotent.py):
    the bearer token's lookup reads the key's state too, and the view runs at most once per key."""

    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            raw_key = request.headers.get("Idempotency-Key")
            who, key_state = principal_and_key_state(raw_key)
            who = authorised(who, roles)
            done = idempotent.answer(
                db(),
                principal=who.key,
                key=idempotency.check_key(raw_key),
                request=(request.method, request.path, request.get_json(silent=True)),
                work=lambda: view(*args, **kwargs),
                refused=lambda exc: (exc.to_json(language()), exc.status),
                now=utcnow(),
                key_state=key_state,
            )
            replayed = {"Idempotent-Replayed": "true"} if done.replayed else {}
            return done.body, done.status, replayed

        return wrapped

    return decorate


@api.post("/redemptions")
@idempotent_staff("clerk", "owner", "admin")
def create_redemption():
    body, config = json_body(), runtime().config
    result = redemptions.redeem(
        db(),
        voucher_input=str_field(body, "voucher", required=True, max_len=400),
        actor=principal().actor(),
        store_id=int_field(body, "store_id", required=False),
        purchase_fen=int_field(body, "purchase_fen", required=False),
        receipt_ref=str_field(body, "receipt_ref", max_len=100),
        now=utcnow(),
        hold_days=config.hold_days,
        secret=runtime().secret,
        tz=config.timezone,
    )
    return redemption_json(result, config.reversal_grace_minutes), 201


@api.post("/redemptions/<int:redemption_id>/reverse")
@idempotent_staff("clerk", "owner", "admin")
def reverse_redemption(redemption_id: int):
    config = runtime().config
    red = redemptions.reverse(
        db(),
        redemption_id=redemption_id,
        actor=principal().actor(),
        now=utcnow(),
        grace_minutes=config.reversal_grace_minutes,
        tz=config.timezone,
    )
    return {
        "redemption": {
            "id": red.id,
            "voucher_id": red.voucher_id,
            "reversed_at": red.reversed_at.isoformat(timespec="seconds"),
        }
    }, 200


@api.get("/redemptions")
@require_staff("clerk", "owner", "admin")
def list_redemptions():
    who = principal()
    store_ids = (
        None
        if who.role == "admin" and who.store_id is None
        else (
            [who.store_id]
            if who.store_id is not None
            else [s.id for s in people.stores(db()) if s.owner_id == who.user_id]
        )
    )
    rows = store_activity.recent(db(), store_ids=store_ids, limit=200)
    return {
        "redemptions": [
            {
                "id": r.id,
                "voucher": v.code,
                "value_fen": v.value_fen,
                "store_id": s.id,
                "store": s.name,
                "clerk_id": r.clerk_id,
                "redeemed_at": r.redeemed_at.isoformat(timespec="seconds"),
                "reversed_at": r.reversed_at.isoformat(timespec="seconds") if r.reversed_at else None,
            }
            for r, v, s, _ in rows
        ]
    }


# ---- stores and clerks (admin) -------------------------------------------------------------------------


@api.post("/stores")
@ADMIN
def create_store():
    store = people.create_store(db(), values=json_body(), now=utcnow(), actor_id=principal().user_id)
    db().commit()
    return people.store_json(store), 201


@api.get("/stores")
@ADMIN
def list_stores():
    return {"stores": [people.store_json(s) for s in people.stores(db())]}


@api.post("/clerks")
@ADMIN
def create_clerk():
    clerk = people.create_clerk(
        db(),
        values=json_body(),
        now=utcnow(),
        actor_id=principal().user_id,
        promo_for=lambda n: runtime().ids.encode("promo", n),
    )
    db().commit()
    return people.clerk_json(clerk), 201


@api.get("/clerks")
@ADMIN
def list_clerks():
    return {"clerks": [people.clerk_json(c) for c in people.clerks(db())]}


@api.post("/clerks/<int:user_id>/deactivate")
@ADMIN
def deactivate_clerk(user_id: int):
    user = people.deactivate(db(), user_id=user_id, now=utcnow(), actor_id=principal().user_id)
    db().commit()
    return people.clerk_json(user)


@api.post("/stores/<int:store_id>/tokens")
@ADMIN
def issue_store_token(store_id: int):
    """A POS token bound to one store (shown once); it can redeem and reverse for that store only."""
    body = request.get_json(silent=True) or {}
    plain, token = people.pos_token(
        db(),
        store_id=store_id,
        now=utcnow(),
        actor_id=principal().user_id,
        name=str_field(body, "name", max_len=120) or "POS",
    )
    db().commit()
    return {"id": token.id, "store_id": token.store_id, "token": plain, "prefix": token.prefix}, 201


@api.post("/imports/<kind>")
@ADMIN
def import_people(kind: str):
    upload = request.files.get("file")
    if upload is None:
        raise validation("upload a file in the form field 'file'", field="file")
    rows = people.read_table(upload.filename or "", upload.read())
    report = people.import_rows(
        db(),
        kind=kind,
        rows=rows,
        now=utcnow(),
        actor_id=principal().user_id,
        promo_for=lambda n: runtime().ids.encode("promo", n),
    )
    db().commit()
    return {"kind": report.kind, "rows": report.rows, "created": report.created}, 201


# ---- fraud holds (admin) --------------------------------------------------------------------------------


@api.get("/holds")
@ADMIN
def list_holds():
    return {
        "holds": [
            dict(
                zip(
                    ("hold_id", "alert_id", "alert_kind", "entry_id", "amount", "unit", "transaction"),
                    row,
                    strict=True,
                )
            )
            for row in holds.held(db())
        ]
    }


@api.post("/holds/<int:alert_id>/<any(release, void):decision>")
@ADMIN
def decide_hold(alert_id: int, decision: str):
    outcome = {"release": "released", "void": "voided"}[decision]
    result = decisions.decide_hold(
        db(), alert_id=alert_id, outcome=outcome, actor_id=principal().user_id, now=utcnow()
    )
    db().commit()
    return result


# ---- settlements --------------------------------------------------------------------------------------


def statement_json(st: settlements.Statement) -> dict:
    s = st.settlement
    return {
        "id": s.id,
        "account": {"kind": st.account.kind, "ref_id": st.account.ref_id},
        "payee": st.name,
        "period_end": s.period_end.isoformat(timespec="seconds"),
        "total": s.total,
        "unit": s.unit,
        "entries": st.items,
        "status": s.status,
        "paid_reference": s.paid_reference,
        "paid_at": s.paid_at.isoformat(timespec="seconds") if s.paid_at else None,
    }


@api.post("/settlements/run")
@ADMIN
def run_settlements():
    body = request.get_json(silent=True) or {}
    period_end = datetime_field(body, "period_end") if "period_end" in body else utcnow()
    created = settlements.run(db(), period_end=period_end, now=utcnow(), actor_id=principal().user_id)
    db().commit()
    return {
        "period_end": period_end.isoformat(timespec="seconds"),
        "created": created,
    }, 201 if created else 200


@api.get("/settlements")
@require_staff("admin", "owner", "clerk")
def list_settlements():
    who = principal()
    return {
        "settlements": [
            statement_json(s) for s in settlements.statements(db(), role=who.role, user_id=who.user_id)
        ]
    }


@api.get("/settlements.<any(csv, xlsx):fmt>")
@require_staff("admin", "owner", "clerk")
def export_settlements(fmt: str):
    who = principal()
    rows = settlements.export_rows(
        settlements.statements(db(), role=who.role, user_id=who.user_id), runtime().config.tz
    )
    if fmt == "csv":
        return Response(
            settlements.to_csv(rows),
            mimetype="text/csv; charset=utf-8",
            headers={"Content-Disposition": "attachment; filename=settlements.csv"},
        )
    return Response(
        settlements.to_xlsx(rows),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": "attachment; filename=settlements.xlsx"},
    )


@api.post("/settlements/<int:settlement_id>/paid")
@ADMIN
def mark_settlement_paid(settlement_id: int):
    body = json_body()
    settlement = settlements.mark_paid(
        db(),
        settlement_id=settlement_id,
        reference=str_field(body, "reference", required=True, max_len=120),
        actor_id=principal().user_id,
        now=utcnow(),
    )
    db().commit()
    return {
        "id": settlement.id,
        "status": settlement.status,
        "paid_reference": settlement.paid_reference,
        "paid_at": settlement.paid_at.isoformat(timespec="seconds"),
    }


_STAFF = [{"bearer": []}]
for route, method, summary, extra in [
    (
        "/redemptions",
        "post",
        "Redeem a voucher at a till (Idempotency-Key header: Stripe semantics)",
        {
            "parameters": [
                {"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string"}}
            ],
            "requestBody": {
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["voucher"],
                            "properties": {
                                "voucher": {
                                    "type": "string",
                                    "description": "voucher code or rotating token",
                                },
                                "store_id": {"type": "integer"},
                                "purchase_fen": {"type": "integer"},
                                "receipt_ref": {"type": "string"},
                            },
                        }
                    }
                }
            },
            "responses": {
                "201": {"description": "redeemed"},
                "409": {"description": "refused (VOUCHER_ALREADY_REDEEMED, …)"},
            },
        },
    ),
    ("/redemptions", "get", "Recent redemptions the caller may see", {}),
    ("/redemptions/{redemption_id}/reverse", "post", "Reverse a redemption within the grace window", {}),
    ("/stores", "post", "Create a store", {}),
    ("/stores", "get", "List stores", {}),
    ("/stores/{store_id}/tokens", "post", "Issue a POS token bound to the store", {}),
    ("/clerks", "post", "Create a clerk (login and promo code)", {}),
    ("/clerks", "get", "List clerks", {}),
    (
        "/clerks/{user_id}/deactivate",
        "post",
        "Deactivate a clerk: sessions end and tokens are revoked at once",
        {},
    ),
    ("/imports/{kind}", "post", "Import stores or clerks from CSV/XLSX (all or nothing)", {}),
    ("/holds", "get", "Open fraud holds", {}),
    ("/holds/{alert_id}/release", "post", "Release an alert's held money", {}),
    ("/holds/{alert_id}/void", "post", "Void an alert's held money (ledger reversal)", {}),
    ("/settlements/run", "post", "Close a period into statements (idempotent)", {}),
    ("/settlements", "get", "Statements (admin: all; owner: own stores; clerk: own)", {}),
    ("/settlements.csv", "get", "Statements as CSV (UTF-8 with BOM)", {}),
    ("/settlements.xlsx", "get", "Statements as XLSX", {}),
    ("/settlements/{settlement_id}/paid", "post", "Mark a statement paid with a reference (once)", {}),
]:
    path(route, method, {"summary": summary, "tags": ["store"], "security": _STAFF, **extra})
