"""The brand manager's batch pages under /admin: batches, ranges and print-package exports."""

from __future__ import annotations

from flask import redirect, request, url_for

from server.errors import DomainError
from server.jobs import EXPORT, submit
from server.models import utcnow
from server.services import batches, catalog, exports
from server.services.presenters import batch_json
from server.views.admin_common import ADMIN, actor_id, blueprint, form_int, page, refused
from server.web import db, runtime

bp = blueprint("admin")


@bp.get("/batches")
@ADMIN
def batch_list():
    listed = batches.list_batches(db())
    return page(
        "admin/batches.html",
        batches=[(b, batch_json(b, runtime())) for b in listed],
        products=catalog.list_products(db()),
        campaigns=catalog.list_campaigns(db()),
    )


@bp.post("/batches")
@ADMIN
def batch_create():
    try:
        made = batches.create_batch(
            db(),
            product_id=form_int("product_id"),
            campaign_id=form_int("campaign_id"),
            quantity=form_int("quantity"),
            paired=request.form.get("paired") == "on",
            note=request.form.get("note", ""),
            now=utcnow(),
            actor_id=actor_id(),
        )
    except DomainError as exc:
        return refused(exc, url_for("admin.batch_list"))
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
    return page("admin/batch.html", batch=body, row=batch, running=running, queue_above=exports.QUEUE_ABOVE)


@bp.post("/batches/<int:batch_id>/ranges")
@ADMIN
def batch_range(batch_id: int):
    kind = request.form.get("kind", "")
    regions = tuple(
        r.strip() for r in request.form.get("regions", "").replace("，", ",").split(",") if r.strip()
    )
    try:
        req = batches.RangeRequest(
            form_int("first_serial"),
            form_int("last_serial"),
            request.form.get("distributor") or None,
            regions,
            request.form.get("reason") or None,
        )
        batches.add_range(db(), batch_id=batch_id, kind=kind, request=req, now=utcnow(), actor_id=actor_id())
    except DomainError as exc:
        return refused(exc, url_for("admin.batch_detail", batch_id=batch_id))
    db().commit()
    return redirect(url_for("admin.batch_detail", batch_id=batch_id))


@bp.post("/batches/<int:batch_id>/exports")
@ADMIN
def batch_export(batch_id: int):
    try:
        export = exports.request_export(
            db(), batch_id=batch_id, roll_size=form_int("roll_size", 10_000), now=utcnow()
        )
    except DomainError as exc:
        return refused(exc, url_for("admin.batch_detail", batch_id=batch_id))
    db().commit()
    submit(runtime().queues, EXPORT, export.id, dedupe=True)  # Redis down: the sweeper runs it
    return redirect(url_for("admin.batch_detail", batch_id=batch_id))
