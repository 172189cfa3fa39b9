"""What every page of the brand manager's console shares: the admin check, form parsing, refusals shown as a
flash message, the console's security headers and its streamed downloads."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
)
from flask_login import current_user

from server.auth import staff_page
from server.errors import DomainError, validation
from server.formats import yuan
from server.views.alert_words import alert_summary
from server.web import db, language, runtime

ADMIN = staff_page("admin")
# No inline script or style anywhere in the console: data reaches scripts as JSON in a
# <script type="application/json"> block, and every style is in static/admin/admin.css.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def blueprint(name: str) -> Blueprint:
    """A console blueprint under /admin whose responses carry the console's headers."""
    bp = Blueprint(name, __name__, url_prefix="/admin")
    bp.after_request(_headers)
    bp.context_processor(_context)
    return bp


def _context() -> dict:
    return {"console_endpoints": current_app.view_functions, "yuan": yuan, "alert_summary": alert_summary}


def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def actor_id() -> int:
    return current_user.user.id


def page(template: str, http_status: int = 200, /, **context):
    """Render a console page with the request's language and the deployment's time zone."""
    return render_template(template, lang=language(), tz=runtime().config.tz, **context), http_status


def refused(error: DomainError, target: str):
    """Roll back, say why in the reader's language, and go back to `target`."""
    db().rollback()
    flash(error.message(language()), "error")
    return redirect(target)


def form_text(name: str, limit: int = 200) -> str:
    return (request.form.get(name) or "").strip()[:limit]


def form_int(name: str, default: int | None = None) -> int:
    raw = (request.form.get(name) or "").strip().replace(",", "")
    if not raw and default is not None:
        return default
    if not raw.isdigit() or len(raw) > 12:
        raise validation(f"{name} must be a whole number", zh=f"{name} 须为整数", field=name)
    return int(raw)


def form_fen(name: str, default: int | None = None) -> int:
    """An amount typed in yuan ("5", "5.5", "1,000.00") as integer fen."""
    raw = (request.form.get(name) or "").strip().replace(",", "").lstrip("¥￥")
    if not raw and default is not None:
        return default
    try:
        amount = Decimal(raw) if len(raw) <= 16 else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise validation(
            f"{name} must be an amount in yuan with at most two decimals",
            zh=f"{name} 须为金额（元），最多两位小数",
            field=name,
        )
    return int(amount * 100)


def form_local_time(name: str) -> datetime:
    """A datetime-local input (YYYY-MM-DDTHH:MM) in the deployment's time zone, as an aware datetime."""
    raw = (request.form.get(name) or "").strip()
    try:
        moment = datetime.fromisoformat(raw) if 10 <= len(raw) <= 19 else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is not None:
        raise validation(f"{name} must be a date and time", zh=f"{name} 须为日期和时间", field=name)
    return moment.replace(tzinfo=runtime().config.tz)


def download(chunks: Iterable[bytes], filename: str, mimetype: str) -> Response:
    """A streamed attachment; `mimetype` is complete (Flask adds no second charset to a full content type)."""
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    # the chunks may read the database as they are sent: keep the request's session open until the last one
    response = Response(stream_with_context(chunks), headers={"Content-Disposition": disposition})
    response.headers["Content-Type"] = mimetype
    return response


def query_int(name: str, problems: list[str]) -> int | None:
    """A whole number from the query string; anything else is noted in `problems` and ignored."""
    raw = (request.args.get(name) or "").strip()
    if raw.isdigit() and len(raw) <= 12:
        return int(raw)
    if raw:
        problems.append(name)
    return None


def query_day(name: str, problems: list[str]) -> date | None:
    """A YYYY-MM-DD date from the query string; anything else is noted in `problems` and ignored."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        if len(raw) == 10:
            return date.fromisoformat(raw)
    except ValueError:
        pass
    problems.append(name)
    return None


def day_start(day: date) -> datetime:
    """Midnight starting `day` in the deployment's time zone."""
    return datetime.combine(day, time(0), tzinfo=runtime().config.tz)


def day_end(day: date) -> datetime:
    """Midnight ending `day` (exclusive bound) in the deployment's time zone."""
    return day_start(day + timedelta(days=1))


def ignored(problems: list[str]) -> None:
    """Say which filters were not understood (the page shows the rest)."""
    if problems:
        from flask_babel import gettext

        flash(
            gettext("Ignored filters that are not understood: %(names)s", names=", ".join(problems)), "error"
        )
