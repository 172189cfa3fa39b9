"""The brand manager's products and campaigns: every reward rule, cap, budget and window; pause and end."""

from __future__ import annotations

from flask import redirect, request, url_for
from sqlalchemy import select

from server.errors import DomainError
from server.models import Batch, utcnow
from server.services import catalog
from server.views.admin_common import (
    ADMIN,
    actor_id,
    blueprint,
    form_fen,
    form_int,
    form_local_time,
    form_text,
    page,
    refused,
)
from server.web import db

bp = blueprint("admin_catalog")


def _campaign_form() -> dict:
    """The campaign form's fields as the service takes them: *_fen typed in yuan, counts as whole numbers."""
    values = {
        field: form_fen(field) if field.endswith("_fen") else form_int(field)
        for field in catalog.CAMPAIGN_INTS
    }
    return dict(
        name=form_text("name"),
        starts_at=form_local_time("starts_at"),
        ends_at=form_local_time("ends_at"),
        rotating_token=request.form.get("rotating_token") == "on",
        **values,
    )


@bp.get("/campaigns")
@ADMIN
def campaign_list():
    now = utcnow()
    campaigns = catalog.list_campaigns(db())
    return page(
        "admin/catalog/campaigns.html",
        campaigns=[(c, catalog.campaign_status(c, now)) for c in campaigns],
        blank=catalog.new_campaign_defaults(now),
    )


@bp.post("/campaigns")
@ADMIN
def campaign_create():
    try:
        values = _campaign_form()
        made = catalog.create_campaign(db(), now=utcnow(), actor_id=actor_id(), **values)
    except DomainError as exc:
        return refused(exc, url_for("admin_catalog.campaign_list"))
    db().commit()
    return redirect(url_for("admin_catalog.campaign_detail", campaign_id=made.id))


@bp.get("/campaigns/<int:campaign_id>")
@ADMIN
def campaign_detail(campaign_id: int):
    campaign = catalog.get_campaign(db(), campaign_id)
    batches = db().execute(select(Batch).where(Batch.campaign_id == campaign_id).order_by(Batch.id)).scalars()
    return page(
        "admin/catalog/campaign.html",
        campaign=campaign,
        status=catalog.campaign_status(campaign, utcnow()),
        batches=list(batches),
    )


@bp.post("/campaigns/<int:campaign_id>")
@ADMIN
def campaign_update(campaign_id: int):
    back = url_for("admin_catalog.campaign_detail", campaign_id=campaign_id)
    try:
        catalog.update_campaign(
            db(), campaign_id=campaign_id, changes=_campaign_form(), now=utcnow(), actor_id=actor_id()
        )
    except DomainError as exc:
        return refused(exc, back)
    db().commit()
    return redirect(back)


@bp.post("/campaigns/<int:campaign_id>/<any(pause, resume, end):action>")
@ADMIN
def campaign_action(campaign_id: int, action: str):
    now, who = utcnow(), actor_id()
    if action == "end":
        catalog.end_campaign(db(), campaign_id=campaign_id, now=now, actor_id=who)
    else:
        catalog.set_paused(db(), campaign_id=campaign_id, paused=action == "pause", now=now, actor_id=who)
    db().commit()
    return redirect(url_for("admin_catalog.campaign_detail", campaign_id=campaign_id))


@bp.get("/products")
@ADMIN
def product_list():
    return page("admin/catalog/products.html", products=catalog.list_products(db()))


@bp.post("/products")
@ADMIN
def product_create():
    try:
        catalog.create_product(
            db(),
            name=form_text("name"),
            gtin=form_text("gtin", 20) or None,
            url_form="gs1" if request.form.get("gs1") == "on" else "short",
            description=form_text("description", 2000),
            actor_id=actor_id(),
            now=utcnow(),
        )
    except DomainError as exc:
        return refused(exc, url_for("admin_catalog.product_list"))
    db().commit()
    return redirect(url_for("admin_catalog.product_list"))


@bp.post("/products/<int:product_id>")
@ADMIN
def product_update(product_id: int):
    try:
        catalog.update_product(
            db(),
            product_id=product_id,
            name=form_text("name"),
            description=form_text("description", 2000),
            now=utcnow(),
            actor_id=actor_id(),
        )
    except DomainError as exc:
        return refused(exc, url_for("admin_catalog.product_list"))
    db().commit()
    return redirect(url_for("admin_catalog.product_list"))
