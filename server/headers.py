"""Security headers on every response of the app, set in one place (an after_request hook on the app).

Every response, pages, the API, static files and the error pages alike, carries a Content-Security-Policy
with `frame-ancestors 'none'` (and X-Frame-Options: DENY for browsers without it): no page of the till, the
console or the consumer can be framed. Then nosniff, a same-origin Referrer-Policy and, on HTTPS (as the
request sees it, through ProxyFix when CODELOOP_TRUSTED_PROXIES is set), HSTS.

The default policy loads scripts, styles and images from this site only, never inline. An area (a
blueprint) may tighten it and ask for `Cache-Control: no-store` with `protect(bp, …)`: consumer pages run
no script at all, the API answers data and runs nothing. Hand-written rather than Flask-Talisman: Talisman
sets its policy per view function, not per blueprint, and also redirects to HTTPS and sets cookie flags,
which the deployment and server/app.py already own.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, request

POLICY = {
    "default-src": "'self'",
    "img-src": "'self' data:",
    "style-src": "'self'",
    "script-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
HSTS = "max-age=63072000"  # two years; not includeSubDomains: the brand's other hosts are not ours to pin


def csp(**changes: str) -> str:
    """The default policy with some directives changed (script_src="'none'" sets script-src)."""
    policy = POLICY | {name.replace("_", "-"): value for name, value in changes.items()}
    return "; ".join(f"{name} {value}" for name, value in policy.items())


DEFAULT = (csp(), False)


def protect(bp: Blueprint, *, policy: str | None = None, no_store: bool = False) -> None:
    """Give `bp`'s responses `policy` instead of the default CSP, and `Cache-Control: no-store`."""
    setting = (policy or DEFAULT[0], no_store)

    def remember(state) -> None:
        state.app.extensions.setdefault("codeloop_headers", {})[bp.name] = setting

    bp.record_once(remember)


def _secure(response: Response) -> Response:
    areas = current_app.extensions.get("codeloop_headers", {})
    policy, no_store = areas.get(request.blueprint, DEFAULT) if request.blueprint else DEFAULT
    headers = response.headers
    headers.setdefault("Content-Security-Policy", policy)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if no_store:
        headers.setdefault("Cache-Control", "no-store")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app: Flask) -> None:
    app.after_request(_secure)
