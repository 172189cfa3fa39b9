"""Request plumbing shared by views and the API: the request's session, language and error pages."""

from __future__ import annotations

from datetime import datetime

import flask_babel
from babel import Locale
from flask import Flask, current_app, g, render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from server.errors import DomainError, Localised
from server.formats import local_time, yuan
from server.runtime import Runtime

# HTTP errors raised by Flask/Werkzeug itself, as our error codes
_HTTP_CODES = {
    400: "VALIDATION_FAILED",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "VALIDATION_FAILED",
    413: "VALIDATION_FAILED",
    429: "RATE_LIMITED",
}


# the same errors on a page, in the reader's words: Werkzeug's descriptions are English and for developers
_PAGE_REASONS = {
    "csrf": Localised(zh_CN="页面已过期，请刷新后重试", en="the page has expired; reload it and try again"),
    400: Localised(zh_CN="请求无效，请返回上一页重试", en="the request was not valid; go back and try again"),
    405: Localised(zh_CN="此页面不接受这种请求", en="this page does not accept that request"),
    413: Localised(zh_CN="上传的内容太大", en="the upload is too large"),
}


def runtime() -> Runtime:
    return current_app.extensions["codeloop"]


def db() -> Session:
    """The request's session, opened on first use and closed (rolled back if uncommitted) at teardown."""
    if "db" not in g:
        g.db = runtime().sessions()
    return g.db


def language() -> str:
    """zh_CN by default; en when the browser prefers English."""
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"], default="zh-CN")
    return "en" if best == "en" else "zh_CN"


# parsed once: Locale.parse scans Babel's locale list on every call, a millisecond per request
_LOCALES = {name: Locale.parse(name) for name in ("en", "zh_CN")}


def babel_locale() -> Locale:
    """Flask-Babel's locale selector: language() as a ready Locale object."""
    return _LOCALES[language()]


def _translations():
    """The request's catalogue, looked up once per request (Flask-Babel's template gettext looks it up on
    every call) in the app's catalogues by language (Flask-Babel's own lookup resolves context, locale and
    domain)."""
    if "translations" not in g:
        catalogues = current_app.extensions.setdefault("codeloop_catalogues", {})
        lang = language()
        if lang not in catalogues:
            catalogues[lang] = flask_babel.get_translations()
        g.translations = catalogues[lang]
    return g.translations


def money(fen: int) -> str:
    """An amount as consumer pages show it: ¥5, ¥5.50 (formats.yuan without a zero fraction)."""
    return "¥" + yuan(fen).removesuffix(".00")


def when(moment: datetime) -> str:
    """A moment as pages show it: yyyy-MM-dd HH:mm in the deployment's time zone. A fixed numeric pattern, so
    no Babel: its format_datetime cost a fifth of rendering a scan page."""
    return local_time(moment, runtime().config.timezone)


def install_gettext(app: Flask) -> None:
    """Templates' _()/gettext with the request's catalogue cached (after Flask-Babel's init_app)."""
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
        newstyle=True,
    )


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions with the signing serializer built once per set of keys: Flask builds it
    (and derives its signer) twice on every request that saves the session, once on every other."""

    def get_signing_serializer(self, app: Flask):
        keys = (app.secret_key, *(app.config["SECRET_KEY_FALLBACKS"] or ()))
        cached = app.extensions.get("codeloop_session_serializer")
        if cached is None or cached[0] != keys:
            cached = app.extensions["codeloop_session_serializer"] = (
                keys,
                super().get_signing_serializer(app),
            )
        return cached[1]


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_response(error: DomainError, status: int | None = None):
    """The one place a domain error becomes a response: JSON for the API, a page otherwise."""
    status = status or error.status
    if wants_json():
        return error.to_json(language()), status
    return render_template(
        "error.html", error=error, message=error.message(language()), lang=language()
    ), status


def _http_reason(exc: HTTPException) -> str | Localised:
    """Werkzeug's description for the API; on a page, a reason in the reader's language."""
    if wants_json():
        return exc.description or exc.name
    if isinstance(exc, CSRFError):
        return _PAGE_REASONS["csrf"]
    return _PAGE_REASONS.get(exc.code, _PAGE_REASONS[400])


def _close_session(_exc) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()


def init_app(app: Flask) -> None:
    app.session_interface = CookieSessions()
    app.jinja_env.globals.update(money=money, when=when)
    app.teardown_appcontext(_close_session)

    @app.errorhandler(DomainError)
    def _domain(error: DomainError):
        db().rollback()
        return error_response(error)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        code = _HTTP_CODES.get(exc.code or 500, "VALIDATION_FAILED")
        error = (
            DomainError(code, reason=_http_reason(exc)) if code == "VALIDATION_FAILED" else DomainError(code)
        )
        body, status = error_response(error, exc.code)
        return (
            (body, status, {"Retry-After": str(getattr(exc, "retry_after", None) or 60)})
            if status == 429
            else (body, status)
        )

    @app.errorhandler(OperationalError)
    @app.errorhandler(PoolTimeout)
    def _database_unavailable(exc: OperationalError | PoolTimeout):
        # the database went away mid-request, or all its pooled connections stayed busy for the pool's
        # timeout: fail fast and tell the client to retry
        orig = getattr(exc, "orig", None)
        app.logger.error("database unavailable: %s", str(orig).splitlines()[0] if orig else exc)
        body, status = error_response(DomainError("INTERNAL_ERROR"), 503)
        return body, status, {"Retry-After": "5"}
