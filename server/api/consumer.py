"""Consumer JSON API (scan, claim, vouchers, referrals, promo) for a mini-program or app front end.

A consumer identifies with a consumer token: `Authorization: Consumer <token>` or `X-Consumer-Token:
<token>` (the same signed value as the H5 cookie). `POST /consumers` returns a new one; `GET /scan/{code}`
without a token makes a consumer and returns its token as `consumer_token` — except for a forged code, which
records nothing and makes no consumer (no `consumer_token`). Claims need a token.
"""

from __future__ import annotations

from flask import current_app, request

from server.api import api
from server.api.common import json_body, str_field
from server.api.openapi import path
from server.errors import DomainError
from server.models import utcnow
from server.services import attribution, claims, phones, referrals, sharing, voucher_tokens
from server.services.scans import record_scan
from server.views.consumer import (
    batch_cache,
    client_ip,
    consumer_token,
    current_consumer,
    device_id,
    enqueue_enrichment,
    limited,
    terms,
)
from server.web import db, runtime

CONSUMER = [{"consumerToken": []}]
_ERR = {
    "description": "error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _op(summary: str, *, security=CONSUMER, errors=(400, 404, 409, 429), params=None, body=None) -> dict:
    op = {
        "summary": summary,
        "security": security,
        "responses": {"200": {"description": "OK"}, **{str(s): _ERR for s in errors}},
    }
    if params:
        op["parameters"] = [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params
        ]
    if body:
        op["requestBody"] = {"content": {"application/json": {"schema": body}}}
    return op


def _require_consumer():
    consumer = current_consumer(create=False)
    if consumer is None:
        raise DomainError("UNAUTHORIZED")
    return consumer


def sms_sender() -> phones.SmsSender:
    return current_app.extensions.get("codeloop_sms") or phones.ConsoleSender()


def voucher_json(state: claims.VoucherState, *, mine: bool, now) -> dict:
    """The voucher as the page shows it; for its holder the QR payload and, for a pack voucher, the share."""
    v = state.voucher
    body = {
        "code": v.code,
        "kind": v.kind,
        "state": state.state,
        "value_fen": v.value_fen,
        "min_spend_fen": v.min_spend_fen,
        "issued_at": v.issued_at.isoformat(timespec="seconds"),
        "expires_at": v.expires_at.isoformat(timespec="seconds"),
        "campaign": {"id": state.campaign.id, "name": state.campaign.name},
        "redeemed_at": state.redeemed_at.isoformat(timespec="seconds") if state.redeemed_at else None,
        "store": {"id": state.store.id, "name": state.store.name} if state.store else None,
    }
    if mine and state.state == "issued":
        body["qr"] = (
            voucher_tokens.make_token(runtime().secret, v.code, now)
            if state.campaign.rotating_token
            else v.code
        )
        body["qr_refresh_seconds"] = (
            voucher_tokens.seconds_left(now) if state.campaign.rotating_token else None
        )
    if mine and v.kind == "pack":
        shared = sharing.sharing(db(), state, now)
        body["share"] = (
            sharing.to_json(shared, state.campaign, runtime().config.public_url) if shared else None
        )
    return body


@api.post("/consumers")
@limited("claim")
def create_consumer():
    consumer = current_consumer()
    db().commit()
    return {"consumer_token": consumer_token(consumer), "phone": consumer.phone_masked}, 201


path(
    "/consumers", "post", _op("Create an anonymous consumer and return its token", security=[], errors=(429,))
)


@api.get("/scan/<code>")
@limited("scan")
def scan(code: str):
    result = record_scan(
        db(),
        runtime().codec,
        code,
        secret=runtime().secret,
        public_id=lambda: current_consumer().public_id,  # a forged code makes no consumer
        ip=client_ip(),
        user_agent=request.headers.get("User-Agent", ""),
        now=utcnow(),
        gtin=request.args.get("gtin"),
        cache=batch_cache(),
        forgeries=runtime().forgeries,
    )
    db().commit()
    enqueue_enrichment(result)
    consumer = None if result.forged else current_consumer()
    body = {"outcome": result.outcome, **({"consumer_token": consumer_token(consumer)} if consumer else {})}
    if result.outcome != "ok":
        return {**DomainError(result.check.error_code).to_json(_lang()), **body}, {
            "invalid": 404,
            "inactive": 409,
            "blacklisted": 410,
        }[result.outcome]
    campaign = result.campaign
    body.update(
        {
            "verdict": "first_scan" if result.first else "scanned_before",
            "product": {"id": result.product.id, "name": result.product.name, "gtin": result.product.gtin},
            "scan_count": result.scan_count,
            "first_scan": {
                "at": result.first_scan_at.isoformat(timespec="seconds"),
                "city": result.first_city,
            },
            "claimable": result.claimable
            and (result.voucher is None or result.voucher.consumer_id == consumer.id),
            "claimed": result.voucher is not None,
            "voucher": result.voucher.code
            if result.voucher and result.voucher.consumer_id == consumer.id
            else None,
            "offer": {
                "campaign": campaign.name,
                "value_fen": campaign.voucher_value_fen,
                "min_spend_fen": campaign.voucher_min_spend_fen,
            }
            if result.claimable
            else None,
            "claim_token": result.check.code.text if result.claimable else None,
        }
    )
    return body


path(
    "/scan/{code}",
    "get",
    _op(
        "Record a scan: verdict, product, scan count, first scan, claimability. Without a token a consumer "
        "is made and `consumer_token` returned. `claim_token` is the canonical code to POST to "
        "/scan/{claim_token}/claim.",
        params=["code"],
        errors=(404, 409, 410, 429),
    ),
)


@api.post("/scan/<code>/claim")
@limited("claim")
def claim(code: str):
    consumer = _require_consumer()
    now = utcnow()
    claimed = claims.claim(
        db(),
        runtime().codec,
        runtime().ids,
        code,
        consumer_id=consumer.id,
        terms=terms(),
        now=now,
        gtin=request.args.get("gtin"),
    )
    body = voucher_json(claims.voucher_state(db(), claimed.voucher, now), mine=True, now=now)
    db().commit()  # with the share link the answer names
    return {"created": claimed.created, "voucher": body}, 201 if claimed.created else 200


path(
    "/scan/{code}/claim",
    "post",
    _op(
        "Issue the pack's voucher; idempotent per consumer (201 the first time, 200 with the same voucher "
        "after). Refusals: CODE_ALREADY_CLAIMED, CAMPAIGN_NOT_ACTIVE, CAMPAIGN_EXHAUSTED, "
        "LIMIT_PER_CONSUMER, CODE_NOT_CLAIMABLE.",
        params=["code"],
        errors=(401, 404, 409, 410, 429),
    ),
)


@api.get("/vouchers/<code>")
def voucher(code: str):
    from server.auth import principal

    now = utcnow()
    text = code
    if voucher_tokens.is_token(code):  # a clerk's scanner may send the rotating token
        text = voucher_tokens.verify_token(runtime().secret, code, now)
    found = claims.find_voucher(db(), text)
    consumer = current_consumer(create=False)
    mine = consumer is not None and consumer.id == found.consumer_id
    if not mine and principal() is None:
        raise DomainError("VOUCHER_NOT_FOUND")  # only the holder or staff may read a voucher
    body = voucher_json(claims.voucher_state(db(), found, now), mine=mine, now=now)
    db().commit()  # the share link is made on first sight
    return {"voucher": body}


path(
    "/vouchers/{code}",
    "get",
    _op(
        "Voucher state, for its holder (consumer token) or staff (bearer token); code or rotating token. "
        "For the holder of a pack voucher, `share`: the share link (`url`), places `left`, the friends' "
        "vouchers (value, state, the bonus points each earned the sharer) and the `bonus_points` earned.",
        security=[*CONSUMER, {"bearer": []}],
        params=["code"],
    ),
)


@api.post("/referrals/<token>/claim")
@limited("claim")
def referral_claim(token: str):
    consumer = _require_consumer()
    now = utcnow()
    who = referrals.Requester(consumer, device_id(), client_ip())
    voucher_, created = referrals.claim_friend(db(), runtime().ids, token, who, terms=terms(), now=now)
    body = voucher_json(claims.voucher_state(db(), voucher_, now), mine=True, now=now)
    db().commit()
    return {"created": created, "voucher": body}, 201 if created else 200


path(
    "/referrals/{token}/claim",
    "post",
    _op(
        "Claim a friend voucher from a share link (one per friend; REFERRAL_SELF, REFERRAL_EXHAUSTED)",
        params=["token"],
        errors=(401, 403, 404, 409, 429),
    ),
)


@api.post("/promo/<promo>/attach")
@limited("scan")
def promo_attach(promo: str):
    consumer = _require_consumer()
    clerk, store, attr = attribution.attach(db(), runtime().ids, promo, consumer_id=consumer.id, now=utcnow())
    db().commit()
    return {
        "clerk": {"promo_code": clerk.promo_code, "name": clerk.display_name or clerk.username},
        "store": {"id": store.id, "name": store.name, "city": store.city} if store else None,
        "expires_at": attr.expires_at.isoformat(timespec="seconds"),
    }


path(
    "/promo/{promo}/attach",
    "post",
    _op(
        "Attribute this consumer's claims in the next 30 minutes to the clerk",
        params=["promo"],
        errors=(401, 404, 429),
    ),
)


@api.post("/consumers/me/phone")
@limited("claim")
def phone_start():
    consumer = _require_consumer()
    phone = str_field(json_body(), "phone", required=True, max_len=20)
    phones.start(
        db(), secret=runtime().secret, consumer=consumer, phone=phone, sender=sms_sender(), now=utcnow()
    )
    db().commit()
    return {"sent": True}, 202


path(
    "/consumers/me/phone",
    "post",
    _op(
        "Send a one-time code to bind a phone (body: {phone})",
        body={"type": "object", "properties": {"phone": {"type": "string"}}},
    ),
)


@api.post("/consumers/me/phone/verify")
@limited("claim")
def phone_verify():
    consumer = _require_consumer()
    body = json_body()
    phone = str_field(body, "phone", required=True, max_len=20)
    code = str_field(body, "code", required=True, max_len=12)
    try:
        phones.verify(db(), secret=runtime().secret, consumer=consumer, phone=phone, code=code, now=utcnow())
    except DomainError:
        db().commit()  # the failed attempt is counted
        raise
    db().commit()
    return {"phone": consumer.phone_masked}


path(
    "/consumers/me/phone/verify",
    "post",
    _op(
        "Bind the phone with the one-time code (body: {phone, code})",
        body={"type": "object", "properties": {"phone": {"type": "string"}, "code": {"type": "string"}}},
    ),
)


def _lang() -> str:
    from server.web import language

    return language()
