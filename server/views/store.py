"""Store-side pages: the clerk's till (/clerk) and the owner's redemptions and statements (/owner).

The till works as a plain form POST without JavaScript; static/clerk.js adds wedge-scanner handling,
camera scanning and in-place results by posting the same form with Accept: application/json.
"""

from __future__ import annotations

import unicodedata
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from flask import Blueprint, render_template, request
from flask_login import current_user

from server import idempotent
from server.auth import principal, staff_page
from server.errors import DomainError, validation
from server.formats import local_time, yuan
from server.models import Store, utcnow
from server.services import idempotency, ledger, people, redemptions, settlements, store_activity
from server.web import db, language, runtime

bp = Blueprint("store", __name__)


def _purchase_fen(raw: str | None) -> int | None:
    """'68', '68.5', '６８．５０' (full-width) → fen; blank → None."""
    text = (
        unicodedata.normalize("NFKC", raw or "").strip().replace("¥", "").replace("元", "").replace(",", "")
    )
    if not text:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise validation(
            "purchase amount must be a number of yuan", "消费金额须为数字（元）", field="purchase"
        ) from None
    if amount < 0 or amount > 10**8 or amount != amount.quantize(Decimal("0.01")):
        raise validation(
            "purchase amount must be yuan with at most two decimals",
            "消费金额须为元，最多两位小数",
            field="purchase",
        )
    return int(amount * 100)


def _till_result(form) -> dict:
    """Redeem from the till form (idempotent by the form's key); a result for the banner either way."""
    who = principal()
    fields = {k: form.get(k, "") for k in ("voucher", "purchase")}
    done = idempotent.answer(
        db(),
        principal=who.key,
        key=idempotency.check_key(form.get("idem") or None),
        request=("POST", "/clerk", fields),
        work=lambda: (_redeem(who, fields), 200),
        refused=lambda exc: (_refusal(exc, fields), 200),
        now=utcnow(),
    )
    return done.body


def _redeem(who, fields: dict) -> dict:
    config = runtime().config
    done = redemptions.redeem(
        db(),
        voucher_input=fields["voucher"],
        purchase_fen=_purchase_fen(fields["purchase"]),
        actor=who.actor(),
        now=utcnow(),
        hold_days=config.hold_days,
        secret=runtime().secret,
        tz=config.timezone,
    )
    return {
        "ok": True,
        "code": "REDEEMED",
        "voucher": done.voucher.code,
        "value": yuan(done.voucher.value_fen),
        "redemption_id": done.redemption.id,
        "at": local_time(done.redemption.redeemed_at, config.timezone),
    }


def _refusal(exc: DomainError, fields: dict) -> dict:
    """Refused, the same form sent twice with other values, or still running: the banner's words."""
    return {
        "ok": False,
        "code": exc.code,
        "voucher": fields["voucher"][:40],
        "message": exc.message(language()),
    }


def _till_context(result: dict | None) -> dict:
    who, config, now = principal(), runtime().config, utcnow()
    today = store_activity.today(
        db(), store_id=who.store_id, clerk_id=who.user_id, now=now, tz=config.timezone
    )
    balance = ledger.balance(db(), ledger.Account("clerk", who.user_id), now)
    return {
        "result": result,
        "today": today,
        "balance": balance,
        "store": db().get(Store, who.store_id),
        "clerk": current_user.user,
        "yuan": yuan,
        "lang": language(),
        "idem": idempotency_key(),
        "grace": config.reversal_grace_minutes,
    }


def idempotency_key() -> str:
    import secrets

    return "till-" + secrets.token_urlsafe(16)


def _json(result: dict | None, context: dict) -> dict:
    t, b = context["today"], context["balance"]
    return {
        "result": result,
        "today": {
            "count": t.count,
            "value": yuan(t.value_fen),
            "mine": t.clerk_count,
            "earned": yuan(t.clerk_earned_fen),
        },
        "balance": {"held": yuan(b.held), "available": yuan(b.available), "settled": yuan(b.settled)},
        "idem": context["idem"],
    }


@bp.route("/clerk", methods=["GET", "POST"])
@staff_page("clerk")
def till():
    result = _till_result(request.form) if request.method == "POST" else None
    context = _till_context(result)
    if request.accept_mimetypes.best == "application/json":
        return _json(result, context)
    return render_template("store/clerk.html", **context), 200 if result is None or result["ok"] else 409


@bp.post("/clerk/reverse/<int:redemption_id>")
@staff_page("clerk")
def till_reverse(redemption_id: int):
    who, config = principal(), runtime().config
    try:
        redemptions.reverse(
            db(),
            redemption_id=redemption_id,
            actor=who.actor(),
            now=utcnow(),
            grace_minutes=config.reversal_grace_minutes,
            tz=config.timezone,
        )
        db().commit()
        result = {"ok": True, "code": "REVERSED", "redemption_id": redemption_id}
    except DomainError as exc:
        db().rollback()
        result = {"ok": False, "code": exc.code, "message": exc.message(language())}
    context = _till_context(result)
    if request.accept_mimetypes.best == "application/json":
        return _json(result, context)
    return render_template("store/clerk.html", **context), 200 if result["ok"] else 409


@bp.get("/owner")
@staff_page("owner")
def owner():
    who, config, now = principal(), runtime().config, utcnow()
    stores = [s for s in people.stores(db()) if s.owner_id == who.user_id]
    rows = store_activity.recent(db(), store_ids=[s.id for s in stores], limit=100)
    statements = settlements.statements(db(), role="owner", user_id=who.user_id)
    balances = {s.id: ledger.balance(db(), ledger.Account("store", s.id), now) for s in stores}
    return render_template(
        "store/owner.html",
        stores=stores,
        rows=rows,
        statements=statements,
        balances=balances,
        yuan=yuan,
        tz=config.tz,
        lang=language(),
        since=now - timedelta(days=30),
    )
