"""Store-side JSON API: redemptions (idempotent), reversals, stores and clerks, holds, settlements."""

from __future__ import annotations

from datetime import timedelta
from functools import wraps

from flask import Response, request

from server import idempotent
from server.api import api, spec
from server.api import schemas_store as m
from server.api.spec import doc, valid
from server.auth import authorised, principal, principal_and_key_state, require_staff
from server.errors import validation
from server.models import utcnow
from server.services import holds, idempotency, people, redemptions, settlements, store_activity
from server.services.alerts import decisions
from server.web import db, language, runtime

ADMIN = require_staff("admin")
STAFF = require_staff("clerk", "owner", "admin")


def _admin(ok: dict, **kw):
    return doc(security=spec.ADMIN, ok=ok, tags=("store",), **kw)


def _staff(ok: dict, **kw):
    return doc(security=spec.STAFF, ok=ok, tags=("store",), **kw)


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


def _pair(answer) -> tuple:
    """(body, status) of a view's answer; the request-model decorator (spec.doc) answers a Response."""
    if isinstance(answer, Response):
        return answer.get_json(), answer.status_code
    return answer


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
                work=lambda: _pair(view(*args, **kwargs)),
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
@_staff({201: m.Redeemed}, json=m.RedemptionIn, headers=m.IdempotencyHeaders, errors=(403, 409, 422))
def create_redemption():
    """Redeem a voucher at a till (Idempotency-Key: a retry replays the first answer)"""
    body, config = valid(), runtime().config
    result = redemptions.redeem(
        db(),
        voucher_input=body.voucher,
        actor=principal().actor(),
        store_id=body.store_id,
        purchase_fen=body.purchase_fen,
        receipt_ref=body.receipt_ref,
        now=utcnow(),
        hold_days=config.hold_days,
        secret=runtime().secret,
        tz=config.timezone,
    )
    return redemption_json(result, config.reversal_grace_minutes), 201


@api.post("/redemptions/<int:redemption_id>/reverse")
@idempotent_staff("clerk", "owner", "admin")
@_staff({200: m.Reversed}, headers=m.IdempotencyHeaders, errors=(409, 422))
def reverse_redemption(redemption_id: int):
    """Reverse a redemption within the grace window"""
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
@STAFF
@_staff({200: m.Redemptions})
def list_redemptions():
    """Recent redemptions the caller may see (admin: all; owner: own stores; clerk, POS: own store)"""
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
@_admin({201: m.Store}, json=m.StoreIn)
def create_store():
    """Create a store; province and city are matched to the canonical names (深圳 → 深圳市)"""
    values = valid().model_dump(exclude_none=True)
    store = people.create_store(db(), values=values, now=utcnow(), actor_id=principal().user_id)
    db().commit()
    return people.store_json(store), 201


@api.get("/stores")
@ADMIN
@_admin({200: m.Stores})
def list_stores():
    """List stores"""
    return {"stores": [people.store_json(s) for s in people.stores(db())]}


@api.post("/clerks")
@ADMIN
@_admin({201: m.Clerk}, json=m.ClerkIn)
def create_clerk():
    """Create a clerk (login and promo code)"""
    clerk = people.create_clerk(
        db(),
        values=valid().model_dump(exclude_none=True),
        now=utcnow(),
        actor_id=principal().user_id,
        promo_for=lambda n: runtime().ids.encode("promo", n),
    )
    db().commit()
    return people.clerk_json(clerk), 201


@api.get("/clerks")
@ADMIN
@_admin({200: m.Clerks})
def list_clerks():
    """List clerks"""
    return {"clerks": [people.clerk_json(c) for c in people.clerks(db())]}


@api.post("/clerks/<int:user_id>/deactivate")
@ADMIN
@_admin({200: m.Clerk})
def deactivate_clerk(user_id: int):
    """Deactivate a clerk: sessions end and tokens are revoked at once"""
    user = people.deactivate(db(), user_id=user_id, now=utcnow(), actor_id=principal().user_id)
    db().commit()
    return people.clerk_json(user)


@api.post("/stores/<int:store_id>/tokens")
@ADMIN
@_admin({201: m.PosToken}, json=m.TokenIn)
def issue_store_token(store_id: int):
    """Issue a POS token bound to the store (shown once): it redeems and reverses for that store only"""
    plain, token = people.pos_token(
        db(), store_id=store_id, now=utcnow(), actor_id=principal().user_id, name=valid().name or "POS"
    )
    db().commit()
    return {"id": token.id, "store_id": token.store_id, "token": plain, "prefix": token.prefix}, 201


@api.post("/imports/<kind>")
@ADMIN
@_admin({201: m.Imported}, form=m.ImportForm)
def import_people(kind: str):
    """Import stores or clerks from CSV/XLSX (all or nothing); kind is stores or clerks"""
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
@_admin({200: m.Holds})
def list_holds():
    """Open fraud holds"""
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
@_admin({200: m.Decision}, errors=(409,))
def decide_hold(alert_id: int, decision: str):
    """Release an alert's held money, or void it (a ledger reversal)"""
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
@_admin({200: m.SettlementRun, 201: m.SettlementRun}, json=m.SettlementRunIn)
def run_settlements():
    """Close a period into statements (idempotent: 200 when nothing new)"""
    period_end = valid().period_end or utcnow()
    created = settlements.run(db(), period_end=period_end, now=utcnow(), actor_id=principal().user_id)
    db().commit()
    return {
        "period_end": period_end.isoformat(timespec="seconds"),
        "created": created,
    }, 201 if created else 200


@api.get("/settlements")
@STAFF
@_staff({200: m.Statements})
def list_settlements():
    """Statements (admin: all; owner: own stores; clerk: own)"""
    who = principal()
    return {
        "settlements": [
            statement_json(s) for s in settlements.statements(db(), role=who.role, user_id=who.user_id)
        ]
    }


@api.get("/settlements.<any(csv, xlsx):fmt>")
@STAFF
@_staff({200: None})
def export_settlements(fmt: str):
    """Statements as CSV (UTF-8 with BOM) or XLSX"""
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
@_admin({200: m.Paid}, json=m.PaidIn, errors=(409,))
def mark_settlement_paid(settlement_id: int):
    """Mark a statement paid with a reference (once)"""
    settlement = settlements.mark_paid(
        db(),
        settlement_id=settlement_id,
        reference=valid().reference,
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
