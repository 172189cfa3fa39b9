"""The brand manager's pages under /admin: batches, ranges and print-package exports."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from server.auth import staff_page
from server.errors import DomainError
from server.jobs import EXPORT, submit
from server.models import utcnow
from server.services import batches, catalog, exports
from server.services.presenters import batch_json
from server.web import db, language, runtime

bp = Blueprint("admin", __name__, url_prefix="/admin")
ADMIN = staff_page("admin")


def _int(name: str, default: int | None = None) -> int:
    raw = (request.form.get(name) or "").strip().replace(",", "")
    if not raw and default is not None:
        return default
    if not raw.isdigit() or len(raw) > 12:
        raise DomainError("VALIDATION_FAILED", reason=f"{name} must be a whole number", field=name)
    return int(raw)


@bp.get("/")
@ADMIN
def home():
    return redirect(url_for("admin.batch_list"))


@bp.get("/batches")
@ADMIN
def batch_list():
    rows = [batch_json(b, runtime()) for b in batches.list_batches(db())]
    return render_template(
        "admin/batches.html",
        batches=rows,
        products=catalog.list_products(db()),
        campaigns=catalog.list_campaigns(db()),
        lang=language(),
    )


@bp.post("/batches")
@ADMIN
def batch_create():
    try:
        made = batches.create_batch(
            db(),
            product_id=_int("product_id"),
            campaign_id=_int("campaign_id"),
            quantity=_int("quantity"),
            paired=request.form.get("paired") == "on",
            note=request.form.get("note", ""),
            now=utcnow(),
            actor_id=_actor(),
        )
    except DomainError as exc:
        return _back(exc, url_for("admin.batch_list"))
    db().commit()
    return redirect(url_for("admin.batch_detail", batch_id=made.id))


@bp.get("/batches/<int:batch_id>")
@ADMIN
def batch_detail(batch_id: int):
    batch = batches.get_batch(db(), batch_id)
    body = batch_json(
        batch, runtime(), ranges=batches.ranges(db(), batch_id), exports=exports.list_exports(db(), batch_id)
    )
    running = any(e["status"] in ("queued", "running") for e in body["exports"])
    return render_template(
        "admin/batch.html", batch=body, running=running, queue_above=exports.QUEUE_ABOVE, lang=language()
    )


@bp.post("/batches/<int:batch_id>/ranges")
@ADMIN
def batch_range(batch_id: int):
    kind = request.form.get("kind", "")
    regions = tuple(
        r.strip() for r in request.form.get("regions", "").replace("，", ",").split(",") if r.strip()
    )
    try:
        req = batches.RangeRequest(
            _int("first_serial"),
            _int("last_serial"),
            request.form.get("distributor") or None,
            regions,
            request.form.get("reason") or None,
        )
        batches.add_range(db(), batch_id=batch_id, kind=kind, request=req, now=utcnow(), actor_id=_actor())
    except DomainError as exc:
        return _back(exc, url_for("admin.batch_detail", batch_id=batch_id))
    db().commit()
    return redirect(url_for("admin.batch_detail", batch_id=batch_id))


@bp.post("/batches/<int:batch_id>/exports")
@ADMIN
def batch_export(batch_id: int):
    try:
        export = exports.request_export(
            db(), batch_id=batch_id, roll_size=_int("roll_size", 10_000), now=utcnow()
        )
    except DomainError as exc:
        return _back(exc, url_for("admin.batch_detail", batch_id=batch_id))
    db().commit()
    submit(runtime().queues, EXPORT, export.id, dedupe=True)  # Redis down: the sweeper runs it
    return redirect(url_for("admin.batch_detail", batch_id=batch_id))


def _actor() -> int:
    from flask_login import current_user

    return current_user.user.id


def _back(error: DomainError, target: str):
    db().rollback()
    flash(error.message(language()), "error")
    return redirect(target)
