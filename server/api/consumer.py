"""Consumer JSON API (scan, claim, vouchers, referrals, promo) for a mini-program or app front end.

A consumer identifies with a consumer token: `Authorization: Consumer <token>` or `X-Consumer-Token:
<token>` (the same signed value as the H5 cookie). `POST /consumers` returns a new one; `GET /scan/{code}`
without a token makes a consumer and returns its token as `consumer_token` — except for a forged code, which
records nothing and makes no consumer (no `consumer_token`). Claims need a token.
"""

from __future__ import annotations

from flask import current_app

from server.api import api, spec
from server.api import schemas_consumer as m
from server.api.spec import doc, valid
from server.consumer_web import STATUS, client_ip, consumer_token, current_consumer, device_id, limited, terms
from server.consumer_web import scan as scan_edge
from server.errors import DomainError
from server.models import utcnow
from server.services import attribution, claims, phones, redemptions, referrals, sharing, voucher_tokens
from server.web import db, language, runtime


def _doc(security: list, ok: dict, errors=(), **kw):
    return doc(security=security, ok=ok, errors=errors, tags=("consumer",), **kw)


def _require_consumer():
    consumer = current_consumer(create=False)
    if consumer is None:
        raise DomainError("UNAUTHORIZED")
    return consumer


def sms_sender() -> phones.SmsSender:
    return current_app.extensions.get("codeloop_sms") or phones.ConsoleSender()


def voucher_json(state: claims.VoucherState, *, mine: bool, now, sees_store: bool = True) -> dict:
    """The voucher as the page shows it; for its holder the QR payload and, for a pack voucher, the share.
    Without `sees_store` the redeeming store is only "another store", as the till says."""
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
        "store": _store_json(state.store, sees_store),
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


def _store_json(store, sees: bool) -> dict | None:
    if store is None:
        return None
    if sees:
        return {"id": store.id, "name": store.name}
    return {"id": None, "name": redemptions.ANOTHER_STORE.text(language())}


def _sees_store(who, store) -> bool:
    """Only the redeeming store's own staff (its clerks, POS tokens and owner) and admins see which store
    redeemed a voucher; every other store is told "another store", as its till is."""
    if store is None or who is None or who.role == "admin":
        return True
    return who.store_id == store.id or (who.role == "owner" and store.owner_id == who.user_id)


@api.post("/consumers")
@limited("claim")
@_doc(spec.PUBLIC, {201: m.NewConsumer}, errors=(429,))
def create_consumer():
    """Create an anonymous consumer and return its token"""
    consumer = current_consumer()
    db().commit()
    return {"consumer_token": consumer_token(consumer), "phone": consumer.phone_masked}, 201


@api.get("/scan/<code>")
@limited("scan")
@_doc(spec.CONSUMER_OPTIONAL, {200: m.Scan}, errors=(409, 410, 429), query=m.ScanQuery)
def scan(code: str):
    """Record a scan: verdict, product, scan count, first scan, claimability. Without a consumer token a
    consumer is made and its `consumer_token` returned. Refusals (CODE_INVALID 404, CODE_INACTIVE 409,
    CODE_BLACKLISTED 410) carry `outcome` and `consumer_token` too — except a forged code's (CODE_INVALID
    for a code that does not decode or verify), which records nothing and makes no consumer."""
    result = scan_edge(code, valid("query").gtin)
    consumer = None if result.forged else current_consumer()
    body = {"outcome": result.outcome, **({"consumer_token": consumer_token(consumer)} if consumer else {})}
    if result.outcome != "ok":
        return {**DomainError(result.check.error_code).to_json(_lang()), **body}, STATUS[result.outcome]
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


@api.post("/scan/<code>/claim")
@limited("claim")
@_doc(spec.CONSUMER, {200: m.Claimed, 201: m.Claimed}, errors=(401, 409, 410, 429), query=m.ScanQuery)
def claim(code: str):
    """Issue the pack's voucher; idempotent per consumer (201 the first time, 200 with the same voucher
    after). Refusals: CODE_ALREADY_CLAIMED, CAMPAIGN_NOT_ACTIVE, CAMPAIGN_EXHAUSTED, LIMIT_PER_CONSUMER,
    CODE_NOT_CLAIMABLE."""
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
        gtin=valid("query").gtin,
    )
    body = voucher_json(claims.voucher_state(db(), claimed.voucher, now), mine=True, now=now)
    db().commit()  # with the share link the answer names
    return {"created": claimed.created, "voucher": body}, 201 if claimed.created else 200


@api.get("/vouchers/<code>")
@_doc(spec.HOLDER_OR_STAFF, {200: m.VoucherAnswer}, errors=(401, 409))
def voucher(code: str):
    """Voucher state, for its holder (consumer token) or staff (bearer token); code or rotating token.
    For the holder of a pack voucher, `share`: the share link (`url`), places `left`, the friends'
    vouchers (value, state, the bonus points each earned the sharer) and the `bonus_points` earned."""
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
    state = claims.voucher_state(db(), found, now)
    body = voucher_json(state, mine=mine, now=now, sees_store=mine or _sees_store(principal(), state.store))
    db().commit()  # the share link is made on first sight
    return {"voucher": body}


@api.post("/referrals/<token>/claim")
@limited("claim")
@_doc(spec.CONSUMER, {200: m.Claimed, 201: m.Claimed}, errors=(401, 403, 409, 429))
def referral_claim(token: str):
    """Claim a friend voucher from a share link (one per friend; REFERRAL_SELF, REFERRAL_EXHAUSTED)"""
    consumer = _require_consumer()
    now = utcnow()
    who = referrals.Requester(consumer, device_id(), client_ip())
    voucher_, created = referrals.claim_friend(db(), runtime().ids, token, who, terms=terms(), now=now)
    body = voucher_json(claims.voucher_state(db(), voucher_, now), mine=True, now=now)
    db().commit()
    return {"created": created, "voucher": body}, 201 if created else 200


@api.post("/promo/<promo>/attach")
@limited("scan")
@_doc(spec.CONSUMER, {200: m.Attached}, errors=(401, 429))
def promo_attach(promo: str):
    """Attribute this consumer's claims in the next 30 minutes to the clerk"""
    consumer = _require_consumer()
    clerk, store, attr = attribution.attach(db(), runtime().ids, promo, consumer_id=consumer.id, now=utcnow())
    db().commit()
    return {
        "clerk": {"promo_code": clerk.promo_code, "name": clerk.display_name or clerk.username},
        "store": {"id": store.id, "name": store.name, "city": store.city} if store else None,
        "expires_at": attr.expires_at.isoformat(timespec="seconds"),
    }


@api.post("/consumers/me/phone")
@limited("claim")
@_doc(spec.CONSUMER, {202: m.Sent}, errors=(401, 409, 429), json=m.PhoneIn)
def phone_start():
    """Send a one-time code by SMS to bind a phone"""
    consumer = _require_consumer()
    phone = valid().phone
    phones.start(
        db(), secret=runtime().secret, consumer=consumer, phone=phone, sender=sms_sender(), now=utcnow()
    )
    db().commit()
    return {"sent": True}, 202


@api.post("/consumers/me/phone/verify")
@limited("claim")
@_doc(spec.CONSUMER, {200: m.Phone}, errors=(401, 409, 429), json=m.PhoneVerifyIn)
def phone_verify():
    """Bind the phone with the one-time code"""
    consumer = _require_consumer()
    body = valid()
    phone, code = body.phone, body.code
    try:
        phones.verify(db(), secret=runtime().secret, consumer=consumer, phone=phone, code=code, now=utcnow())
    except DomainError:
        db().commit()  # the failed attempt is counted
        raise
    db().commit()
    return {"phone": consumer.phone_masked}


def _lang() -> str:
    from server.web import language

    return language()
