"""Consumer pages (H5): scan, claim, voucher, referral, clerk promo.

Identity: a signed long-lived cookie `cl_c` (the consumer token, see services/consumers.py) made on
first visit, and a device cookie `cl_d`. Pages work without JavaScript and load nothing from other
hosts; every response carries a strict CSP.
"""

from __future__ import annotations

import functools
import math
import re

import qrcode
import qrcode.image.svg
from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.exceptions import TooManyRequests

from server.errors import DomainError
from server.jobs import enrich_after_scan
from server.models import Consumer, Scan, Store, utcnow
from server.services import attribution, claims, consumers, referrals, sharing, voucher_tokens
from server.services.scans import BatchCache, record_scan
from server.web import db, language, runtime

bp = Blueprint("consumer", __name__)

COOKIE, DEVICE = "cl_c", "cl_d"
COOKIE_AGE = 2 * 365 * 24 * 3600
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
STATUS = {"invalid": 404, "inactive": 409, "blacklisted": 410}


# ---- identity and limits (shared with the JSON API) ------------------------------------------------


def presented_token() -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth[:9].lower() == "consumer ":
        return auth[9:].strip()
    return request.headers.get("X-Consumer-Token") or request.cookies.get(COOKIE)


def current_consumer(*, create: bool = True) -> Consumer | None:
    """The requesting consumer (cookie or token); a new one on first visit when `create`."""
    if "consumer" not in g:
        secret = runtime().secret
        public_id = consumers.read_token(secret, presented_token())
        consumer = consumers.find(db(), public_id)
        if consumer is None and create:
            g.device_id = (
                _clean_device(request.cookies.get(DEVICE))
                or _clean_device(request.headers.get("X-Device-Id"))
                or consumers.new_device_id()
            )
            consumer = consumers.create(db(), now=utcnow(), device_id=g.device_id[:64])
            g.new_consumer_token = consumers.make_token(secret, consumer.public_id)
        g.consumer = consumer
    return g.consumer


def consumer_token(consumer: Consumer) -> str:
    return consumers.make_token(runtime().secret, consumer.public_id)


def client_ip() -> str | None:
    return request.remote_addr  # ProxyFix has already applied the trusted hops


def device_id() -> str | None:
    return g.get("device_id") or _clean_device(
        request.cookies.get(DEVICE) or request.headers.get("X-Device-Id")
    )


def _clean_device(value: str | None) -> str | None:
    """A device id as we issue them (URL-safe base64); anything else is ignored."""
    return value if value and len(value) <= 64 and re.fullmatch(r"[A-Za-z0-9_-]+", value) else None


def consumer_key() -> str:
    """Rate-limit key per consumer: the token they present, else their address."""
    token = presented_token()
    return "c:" + token[-24:] if token else "ip:" + (client_ip() or "unknown")


def limited(kind: str):
    """Per-IP and per-consumer limits on one route (429 RATE_LIMITED with Retry-After), counted before the
    view runs: the scan limit or the claim limit, as `kind` says. Put it right under the route decorator."""

    def decorate(view):
        @functools.wraps(view)
        def limited_view(*args, **kwargs):
            rt = runtime()
            limit = rt.config.rate_limit_scan if kind == "scan" else rt.config.rate_limit_claim
            where = request.endpoint  # each route counts on its own, the page and its JSON twin included
            wait = rt.rate_limits.hit(
                limit, f"{where}/ip/{client_ip() or 'unknown'}", f"{where}/consumer/{consumer_key()}"
            )
            if wait is not None:
                raise TooManyRequests(retry_after=wait)
            return view(*args, **kwargs)

        return limited_view

    return decorate


def terms() -> claims.Terms:
    config = runtime().config
    return claims.Terms(secret=runtime().secret, tz=config.tz, hold_days=config.hold_days)


def enqueue_enrichment(result) -> None:
    if result.scan_id is not None:  # a forged code recorded nothing
        enrich_after_scan(runtime().queue, runtime().enrichment, result.scan_id)


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


def batch_cache() -> BatchCache:
    cache = current_app.extensions.get("codeloop_batch_cache")
    if cache is None:
        cache = current_app.extensions.setdefault("codeloop_batch_cache", BatchCache())
    return cache


def scanning_public_id() -> str:
    """Who is scanning, without a query: the signed token's public id, or a new consumer on a first visit."""
    return consumers.read_token(runtime().secret, presented_token()) or current_consumer().public_id


def _scan(code: str, gtin: str | None = None):
    result = record_scan(
        db(),
        runtime().codec,
        code,
        secret=runtime().secret,
        public_id=scanning_public_id,  # asked only for a genuine code: a forged one makes no consumer
        ip=client_ip(),
        user_agent=request.headers.get("User-Agent", ""),
        now=utcnow(),
        gtin=gtin,
        cache=batch_cache(),
        forgeries=runtime().forgeries,
    )
    if result.consumer_id is None and not result.forged:  # a signed token for a consumer we no longer have
        current_consumer()
    db().commit()
    enqueue_enrichment(result)
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
