"""Consumer pages (H5): scan, claim, voucher, referral, clerk promo.

Identity, rate limits and the scan edge are server/consumer_web.py's (the JSON API shares them); this
module sets the identity cookies on the way out. Pages work without JavaScript and load nothing from other
hosts; every response carries a strict CSP.
"""

from __future__ import annotations

import math

import qrcode
import qrcode.image.svg
from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from sqlalchemy import select

from server.consumer_web import (
    COOKIE,
    COOKIE_AGE,
    DEVICE,
    STATUS,
    client_ip,
    current_consumer,
    device_id,
    limited,
    terms,
)
from server.consumer_web import scan as scan_edge
from server.errors import DomainError
from server.models import Consumer, Scan, Store, utcnow
from server.services import attribution, claims, referrals, sharing, voucher_tokens
from server.web import db, language, runtime

bp = Blueprint("consumer", __name__)

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@bp.after_app_request
def _consumer_headers(response):
    token = g.pop("new_consumer_token", None)
    if token and not request.path.startswith("/api/"):
        secure = runtime().config.public_url.startswith("https")
        response.set_cookie(COOKIE, token, max_age=COOKIE_AGE, httponly=True, samesite="Lax", secure=secure)
        if not request.cookies.get(DEVICE) and g.get("device_id"):
            response.set_cookie(
                DEVICE, g.device_id, max_age=COOKIE_AGE, httponly=True, samesite="Lax", secure=secure
            )
    if request.blueprint == "consumer" or g.get("consumer_page"):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cache-Control", "no-store")
    return response


# ---- pages ----------------------------------------------------------------------------------------


@bp.get("/s/<code>")
@bp.get("/S/<code>")
@limited("scan")
def scan(code: str):
    return _scan(code)


@bp.get("/01/<gtin>/21/<code>")
@limited("scan")
def scan_gs1(gtin: str, code: str):
    return _scan(code, gtin)


def _scan(code: str, gtin: str | None = None):
    result = scan_edge(code, gtin)
    if result.outcome != "ok":
        return render_template(
            "consumer/code_problem.html",
            result=result,
            lang=language(),
            message=DomainError(result.check.error_code).message(language()),
        ), STATUS[result.outcome]
    mine = result.voucher if result.voucher and result.voucher.consumer_id == result.consumer_id else None
    return render_template(
        "consumer/scan.html",
        result=result,
        mine=mine,
        code=result.check.code.text,
        gtin=gtin,
        lang=language(),
    )


@bp.post("/s/<code>/claim")
@bp.post("/S/<code>/claim")
@limited("claim")
def claim(code: str):
    consumer = current_consumer()
    claimed = claims.claim(
        db(),
        runtime().codec,
        runtime().ids,
        code,
        consumer_id=consumer.id,
        terms=terms(),
        now=utcnow(),
        gtin=request.form.get("gtin") or None,
    )
    db().commit()
    return redirect(url_for("consumer.voucher", code=claimed.voucher.code), 303)


@bp.get("/V/<code>")
@bp.get("/v/<code>")
def voucher(code: str):
    now = utcnow()
    found = claims.find_voucher(db(), code)
    state = claims.voucher_state(db(), found, now)
    consumer = current_consumer(create=False)
    mine = consumer is not None and consumer.id == found.consumer_id
    shared = sharing.sharing(db(), state, now) if mine else None
    db().commit()
    qr = refresh = None
    if mine and state.state == "issued":
        payload = found.code
        if state.campaign.rotating_token:
            payload = voucher_tokens.make_token(runtime().secret, found.code, now)
            refresh = voucher_tokens.seconds_left(now) + 1
        qr = qr_svg(payload)
    return render_template(
        "consumer/voucher.html",
        v=found,
        state=state,
        mine=mine,
        qr=qr,
        refresh=refresh,
        shared=shared,
        share_url=sharing.share_url(runtime().config.public_url, shared.referral.token) if shared else None,
        stores=nearby_stores(consumer) if state.state == "issued" else [],
        lang=language(),
    )


@bp.get("/R/<token>")
@bp.get("/r/<token>")
def referral(token: str):
    ref = referrals.find(db(), token)
    campaign = referrals.campaign_of(db(), ref)
    consumer = current_consumer(create=False)
    return render_template(
        "consumer/referral.html",
        ref=ref,
        campaign=campaign,
        own=consumer is not None and consumer.id == ref.sharer_id,
        mine=referrals.existing_friend_voucher(db(), ref.id, consumer.id) if consumer else None,
        lang=language(),
        left=max(ref.share_limit - ref.used_count, 0),
    )


@bp.post("/R/<token>/claim")
@bp.post("/r/<token>/claim")
@limited("claim")
def referral_claim(token: str):
    who = referrals.Requester(current_consumer(), device_id(), client_ip())
    voucher_, _ = referrals.claim_friend(db(), runtime().ids, token, who, terms=terms(), now=utcnow())
    db().commit()
    return redirect(url_for("consumer.voucher", code=voucher_.code), 303)


@bp.get("/C/<promo>")
@bp.get("/c/<promo>")
@limited("scan")
def promo(promo: str):
    consumer = current_consumer()
    clerk, store, attr = attribution.attach(db(), runtime().ids, promo, consumer_id=consumer.id, now=utcnow())
    db().commit()
    return render_template("consumer/promo.html", clerk=clerk, store=store, attr=attr, lang=language())


# ---- helpers --------------------------------------------------------------------------------------


def qr_svg(data: str) -> str:
    """An inline SVG QR (qrcode's SvgPathImage), sized by CSS."""
    img = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=4)
    svg = img.to_string(encoding="unicode")
    return (
        svg.replace('width="', 'data-w="', 1)
        .replace('height="', 'data-h="', 1)
        .replace("<svg ", '<svg class="qr" role="img" ', 1)
    )


def _distance_km(lat1, lng1, lat2, lng2) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371 * 2 * math.asin(math.sqrt(min(1.0, a)))


def _coordinate(name: str, bound: float) -> float | None:
    try:
        value = float(request.args.get(name, ""))
    except ValueError:
        return None
    return value if math.isfinite(value) and -bound <= value <= bound else None


def nearby_stores(consumer: Consumer | None, limit: int = 5) -> list[tuple[Store, float | None]]:
    """Stores near the consumer: by distance when ?lat=&lng= are given, else same city, then province; any
    stores when the consumer's place is unknown."""
    lat, lng = _coordinate("lat", 90), _coordinate("lng", 180)
    stores = (
        db()
        .execute(select(Store).where(Store.active.is_(True)).order_by(Store.id).limit(2000))
        .scalars()
        .all()
    )
    if lat is not None and lng is not None:
        located = [
            (s, _distance_km(lat, lng, s.lat, s.lng))
            for s in stores
            if s.lat is not None and s.lng is not None
        ]
        return sorted(located, key=lambda pair: pair[1])[:limit]
    place = None
    if consumer is not None:
        place = (
            db()
            .execute(
                select(Scan.city, Scan.province)
                .where(Scan.consumer_id == consumer.id, Scan.geo_status == "done")
                .order_by(Scan.id.desc())
                .limit(1)
            )
            .first()
        )
    if place is None:  # not placed (yet, or a private address): where it can be used at all
        return [(s, None) for s in stores[:limit]]
    city, province = place
    same_city = [(s, None) for s in stores if city and s.city == city]
    same_province = [(s, None) for s in stores if province and s.province == province and s.city != city]
    return (same_city + same_province)[:limit]


@bp.route("/me/phone", methods=["GET", "POST"])
@limited("claim")
def phone():
    """Bind a phone to this browser's consumer with a one-time code (optional; two steps, no JavaScript)."""
    from server.services import phones

    consumer = current_consumer()
    number, sent, error = request.form.get("phone", "")[:20], False, None
    if request.method == "POST":
        try:
            if request.form.get("code"):
                phones.verify(
                    db(),
                    secret=runtime().secret,
                    consumer=consumer,
                    phone=number,
                    code=request.form["code"][:12],
                    now=utcnow(),
                )
            else:
                sender = current_app.extensions.get("codeloop_sms") or phones.ConsoleSender()
                phones.start(
                    db(),
                    secret=runtime().secret,
                    consumer=consumer,
                    phone=number,
                    sender=sender,
                    now=utcnow(),
                )
                sent = True
        except DomainError as exc:
            error, sent = exc.message(language()), bool(request.form.get("code"))
        db().commit()  # a failed attempt still counts
    else:
        db().commit()
    return render_template(
        "consumer/phone.html", consumer=consumer, number=number, sent=sent, error=error, lang=language()
    ), 400 if error else 200
