"""Admin JSON API: products, campaigns, batches and their ranges, exports, one code's history, jobs."""

from __future__ import annotations

from flask import Response

from codegen.streams import iter_codes_csv, iter_package_zip
from server.api import api
from server.api import schemas_catalog as m
from server.api.spec import ADMIN as ADMIN_ONLY
from server.api.spec import doc, valid
from server.auth import principal, require_staff
from server.errors import validation
from server.jobs import EXPORT, submit
from server.models import utcnow
from server.services import batches, catalog, exports
from server.services.codes import code_history
from server.services.presenters import batch_json, campaign_json, export_json, product_json, range_json
from server.web import db, runtime

ADMIN = require_staff("admin")
TAGS = ("admin",)


def _doc(ok: dict, **kw):
    return doc(security=ADMIN_ONLY, ok=ok, tags=TAGS, **kw)


@api.post("/products")
@ADMIN
@_doc({201: m.Product}, json=m.ProductIn)
def create_product():
    """Create a product (optional GTIN; url_form short or gs1)"""
    body = valid()
    product = catalog.create_product(
        db(),
        name=body.name,
        gtin=body.gtin,
        url_form=body.url_form,
        description=body.description,
        actor_id=principal().user_id,
        now=utcnow(),
    )
    db().commit()
    return product_json(product), 201


@api.get("/products")
@ADMIN
@_doc({200: m.Products})
def list_products():
    """List products"""
    return {"products": [product_json(p) for p in catalog.list_products(db())]}


@api.post("/campaigns")
@ADMIN
@_doc({201: m.Campaign}, json=m.CampaignIn)
def create_campaign():
    """Create a campaign with its reward rules (integer fen)"""
    body = valid()
    amounts = body.model_dump(include=set(catalog.CAMPAIGN_INTS), exclude_unset=True)
    campaign = catalog.create_campaign(
        db(),
        name=body.name,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        rotating_token=body.rotating_token,
        actor_id=principal().user_id,
        now=utcnow(),
        **amounts,
    )
    db().commit()
    return campaign_json(campaign), 201


@api.get("/campaigns")
@ADMIN
@_doc({200: m.Campaigns})
def list_campaigns():
    """List campaigns"""
    return {"campaigns": [campaign_json(c) for c in catalog.list_campaigns(db())]}


@api.post("/batches")
@ADMIN
@_doc({201: m.Batch}, json=m.BatchIn)
def create_batch():
    """Create a batch of up to 100 million codes (one row)"""
    body = valid()
    batch = batches.create_batch(
        db(),
        product_id=body.product_id,
        campaign_id=body.campaign_id,
        quantity=body.quantity,
        paired=body.paired,
        note=body.note,
        actor_id=principal().user_id,
        now=utcnow(),
    )
    db().commit()
    return batch_json(batch, runtime()), 201


@api.get("/batches")
@ADMIN
@_doc({200: m.Batches})
def list_batches():
    """List batches"""
    return {"batches": [batch_json(b, runtime()) for b in batches.list_batches(db())]}


@api.get("/batches/<int:batch_id>")
@ADMIN
@_doc({200: m.Batch})
def get_batch(batch_id: int):
    """A batch with its ranges and exports"""
    batch = batches.get_batch(db(), batch_id)
    return batch_json(
        batch, runtime(), ranges=batches.ranges(db(), batch_id), exports=exports.list_exports(db(), batch_id)
    )


def _range(kind: str, batch_id: int):
    body = valid()
    request_ = batches.RangeRequest(
        body.first_serial, body.last_serial, body.distributor, tuple(body.regions), body.reason
    )
    row = batches.add_range(
        db(), batch_id=batch_id, kind=kind, request=request_, actor_id=principal().user_id, now=utcnow()
    )
    db().commit()
    return range_json(row), 201


@api.post("/batches/<int:batch_id>/activate")
@ADMIN
@_doc({201: m.Range}, json=m.RangeIn)
def activate(batch_id: int):
    """Activate serials first_serial..last_serial (distributor, regions)"""
    return _range("activate", batch_id)


@api.post("/batches/<int:batch_id>/blacklist")
@ADMIN
@_doc({201: m.Range}, json=m.RangeIn)
def blacklist(batch_id: int):
    """Blacklist serials first_serial..last_serial (reason)"""
    return _range("blacklist", batch_id)


def _download(body, name: str, mimetype: str) -> Response:
    return Response(
        body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@api.get("/batches/<int:batch_id>/codes.csv")
@ADMIN
@_doc({200: None}, query=m.CodesQuery)
def codes_csv(batch_id: int):
    """Stream seq,serial,code,url as CSV for serials from (inclusive) to `to` (exclusive)"""
    spec = batches.batch_spec(batches.get_batch(db(), batch_id), runtime().config.public_url)
    query = valid("query")
    first = 0 if query.from_ is None else query.from_
    stop = spec.quantity if query.to is None else query.to
    if not 0 <= first <= stop <= spec.quantity:
        raise validation(
            f"from/to must satisfy 0 ≤ from ≤ to ≤ {spec.quantity}",
            zh=f"from/to 须满足 0 ≤ from ≤ to ≤ {spec.quantity}",
            field="from",
        )
    return _download(
        iter_codes_csv(runtime().secret, spec, first, stop), f"batch-{batch_id}-codes.csv", "text/csv"
    )


@api.get("/batches/<int:batch_id>/package.zip")
@ADMIN
@_doc({200: None}, query=m.PackageQuery)
def package_zip(batch_id: int):
    """Stream the print package as ZIP (roll_size)"""
    spec = batches.batch_spec(batches.get_batch(db(), batch_id), runtime().config.public_url)
    roll_size = exports.check_roll_size(valid("query").roll_size or 10_000)
    return _download(
        iter_package_zip(runtime().secret, spec, roll_size=roll_size),
        f"batch-{batch_id}-package.zip",
        "application/zip",
    )


@api.get("/batches/<int:batch_id>/images.zip")
@ADMIN
@_doc({200: None}, query=m.ImagesQuery)
def images_zip(batch_id: int):
    """One QR image per code (format png|svg), batches up to 10,000"""
    spec = batches.batch_spec(batches.get_batch(db(), batch_id), runtime().config.public_url)
    fmt = valid("query").format
    return _download(
        batches.iter_images_zip(runtime().secret, spec, fmt), f"batch-{batch_id}-{fmt}.zip", "application/zip"
    )


@api.post("/batches/<int:batch_id>/exports")
@ADMIN
@_doc({202: m.Export}, json=m.ExportIn)
def queue_export(batch_id: int):
    """Queue a print-package export on the worker"""
    export = exports.request_export(db(), batch_id=batch_id, roll_size=valid().roll_size, now=utcnow())
    db().commit()
    submit(runtime().queues, EXPORT, export.id, dedupe=True)  # Redis down: the sweeper runs it
    db().refresh(export)
    return export_json(export), 202


@api.get("/batches/<int:batch_id>/exports/<int:export_id>")
@ADMIN
@_doc({200: m.Export})
def export_status(batch_id: int, export_id: int):
    """Export progress"""
    return export_json(exports.get_export(db(), batch_id=batch_id, export_id=export_id))


@api.get("/batches/<int:batch_id>/exports/<int:export_id>/package.zip")
@ADMIN
@_doc({200: None}, errors=(409,))
def export_download(batch_id: int, export_id: int):
    """Download a finished export"""
    export = exports.get_export(db(), batch_id=batch_id, export_id=export_id)
    return _download(exports.iter_export_zip(export), f"batch-{batch_id}-package.zip", "application/zip")


@api.get("/codes/<path:code>")
@ADMIN
@_doc({200: m.CodeHistory})
def code_lookup(code: str):
    """One code's state and scan history (a pack voucher's code shows its pack)"""
    return code_history(db(), runtime().codec, code, tz=runtime().config.tz)


@api.get("/jobs")
@ADMIN
@_doc({200: m.JobStatus}, query=m.JobsQuery)
def jobs_status():
    """Background work per kind (owed, overdue, failed with errors) and RQ's failed jobs"""
    from server.services.jobs_status import job_status

    limit = valid("query").limit or 20
    return job_status(db(), runtime().queues, utcnow(), limit=max(1, min(limit, 200)))
