"""The consumer side of the web layer, shared by the H5 pages (views/consumer.py) and the JSON API
(api/consumer.py): who the consumer is, their rate limits, and the one scan edge.

Identity: a signed long-lived cookie `cl_c` (the consumer token, see services/consumers.py) made on first
visit, or the same value as `Authorization: Consumer <token>` or `X-Consumer-Token`; and a device cookie
`cl_d`.
"""

from __future__ import annotations

import functools
import re

from flask import current_app, g, request
from werkzeug.exceptions import TooManyRequests

from server.jobs import enrich_after_scan
from server.models import Consumer, utcnow
from server.services import claims, consumers
from server.services.scans import BatchCache, ScanResult, record_scan
from server.web import db, runtime

COOKIE, DEVICE = "cl_c", "cl_d"
COOKIE_AGE = 2 * 365 * 24 * 3600
STATUS = {"invalid": 404, "inactive": 409, "blacklisted": 410}  # a scan's outcome, other than "ok", in HTTP


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


def batch_cache() -> BatchCache:
    """This process's BatchCache for scan pages (one per app)."""
    cache = current_app.extensions.get("codeloop_batch_cache")
    if cache is None:
        cache = current_app.extensions.setdefault("codeloop_batch_cache", BatchCache())
    return cache


def scanning_public_id() -> str:
    """Who is scanning, without a query: the signed token's public id, or a new consumer on a first visit."""
    return consumers.read_token(runtime().secret, presented_token()) or current_consumer().public_id


def scan(code: str, gtin: str | None = None) -> ScanResult:
    """The scan edge of the page and the API: record this request's scan by its consumer (a new one on a first
    visit), commit, and enqueue the scan's enrichment. A forged code is only counted (runtime.forgeries):
    no row, and no consumer is made for it."""
    result = record_scan(
        db(),
        runtime().codec,
        code,
        secret=runtime().secret,
        public_id=scanning_public_id,  # asked only for a genuine code
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
    return result
