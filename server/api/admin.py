"""Admin JSON API: products, campaigns, batches and their ranges, exports, one code's history, jobs."""

from __future__ import annotations

from flask import Response, request

from codegen.streams import iter_codes_csv, iter_package_zip
from server.api import api
from server.api.common import datetime_field, id_field, int_field, json_body, query_int, str_field
from server.api.openapi import path
from server.auth import principal, require_staff
from server.errors import validation
from server.jobs import EXPORT, submit
from server.models import utcnow
from server.services import batches, catalog, exports
from server.services.codes import code_history
from server.services.presenters import batch_json, campaign_json, export_json, product_json, range_json
from server.web import db, runtime

ADMIN = require_staff("admin")


@api.post("/products")
@ADMIN
def create_product():
    body = json_body()
    product = catalog.create_product(
        db(),
        name=str_field(body, "name", required=True),
        gtin=str_field(body, "gtin", max_len=20),
        url_form=body.get("url_form", "short"),
        description=str_field(body, "description", max_len=2000) or "",
        actor_id=principal().user_id,
        now=utcnow(),
    )
    db().commit()
    return product_json(product), 201


@api.get("/products")
@ADMIN
def list_products():
    return {"products": [product_json(p) for p in catalog.list_products(db())]}


@api.post("/campaigns")
@ADMIN
def create_campaign():
    body = json_body()
    amounts = {k: body[k] for k in catalog.CAMPAIGN_INTS if k in body}
    campaign = catalog.create_campaign(
        db(),
        name=str_field(body, "name", required=True),
        starts_at=datetime_field(body, "starts_at"),
        ends_at=datetime_field(body, "ends_at"),
        rotating_token=body.get("rotating_token") is True,
        actor_id=principal().user_id,
        now=utcnow(),
        **amounts,
    )
    db().commit()
    return campaign_json(campaign), 201


@api.get("/campaigns")
@ADMIN
def list_campaigns():
    return {"campaigns": [campaign_json(c) for c in catalog.list_campaigns(db())]}


@api.post("/batches")
@ADMIN
def create_batch():
    body = json_body()
    batch = batches.create_batch(
        db(),
        product_id=id_field(body, "product_id"),
        campaign_id=id_field(body, "campaign_id"),
        quantity=int_field(body, "quantity"),
        paired=body.get("paired") is True,
        note=str_field(body, "note", max_len=500) or "",
        actor_id=principal().user_id,
        now=utcnow(),
    )
    db().commit()
    return batch_json(batch, runtime()), 201


@api.get("/batches")
@ADMIN
def list_batches():
    return {"batches": [batch_json(b, runtime()) for b in batches.list_batches(db())]}


@api.get("/batches/<int:batch_id>")
@ADMIN
def get_batch(batch_id: int):
    batch = batches.get_batch(db(), batch_id)
    return batch_json(
        batch, runtime(), ranges=batches.ranges(db(), batch_id), exports=exports.list_exports(db(), batch_id)
    )


def _range(kind: str, batch_id: int):
    body = json_body()
    regions = body.get("regions", [])
    if not isinstance(regions, list):
        raise validation(
            "regions must be a list of province names", zh="销售区域须为省份名称列表", field="regions"
        )
    request_ = batches.RangeRequest(
        int_field(body, "first_serial"),
        int_field(body, "last_serial"),
        str_field(body, "distributor"),
        tuple(regions),
        str_field(body, "reason"),
    )
    row = batches.add_range(
        db(), batch_id=batch_id, kind=kind, request=request_, actor_id=principal().user_id, now=utcnow()
    )
    db().commit()
    return range_json(row), 201


@api.post("/batches/<int:batch_id>/activate")
@ADMIN
def activate(batch_id: int):
    return _range("activate", batch_id)


@api.post("/batches/<int:batch_id>/blacklist")
@ADMIN
def blacklist(batch_id: int):
    return _range("blacklist", batch_id)


def _download(body, name: str, mimetype: str) -> Response:
    return Response(
        body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@api.get("/batches/<int:batch_id>/codes.csv")
@ADMIN
def codes_csv(batch_id: int):
    spec = batches.batch_spec(batches.get_batch(db(), batch_id), runtime().config.public_url)
    first, stop = query_int("from", 0), query_int("to", spec.quantity)
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
def package_zip(batch_id: int):
    spec = batches.batch_spec(batches.get_batch(db(), batch_id), runtime().config.public_url)
    roll_size = exports.check_roll_size(query_int("roll_size", 10_000))
    return _download(
        iter_package_zip(runtime().secret, spec, roll_size=roll_size),
        f"batch-{batch_id}-package.zip",
        "application/zip",
    )


@api.get("/batches/<int:batch_id>/images.zip")
@ADMIN
def images_zip(batch_id: int):
    spec = batches.batch_spec(batches.get_batch(db(), batch_id), runtime().config.public_url)
    fmt = request.args.get("format", "png")
    return _download(
        batches.iter_images_zip(runtime().secret, spec, fmt), f"batch-{batch_id}-{fmt}.zip", "application/zip"
    )


@api.post("/batches/<int:batch_id>/exports")
@ADMIN
def queue_export(batch_id: int):
    body = request.get_json(silent=True) or {}
    export = exports.request_export(
        db(), batch_id=batch_id, roll_size=int_field(body, "roll_size", default=10_000), now=utcnow()
    )
    db().commit()
    submit(runtime().queues, EXPORT, export.id, dedupe=True)  # Redis down: the sweeper runs it
    db().refresh(export)
    return export_json(export), 202


@api.get("/batches/<int:batch_id>/exports/<int:export_id>")
@ADMIN
def export_status(batch_id: int, export_id: int):
    return export_json(exports.get_export(db(), batch_id=batch_id, export_id=export_id))


@api.get("/batches/<int:batch_id>/exports/<int:export_id>/package.zip")
@ADMIN
def export_download(batch_id: int, export_id: int):
    export = exports.get_export(db(), batch_id=batch_id, export_id=export_id)
    return _download(exports.iter_export_zip(export), f"batch-{batch_id}-package.zip", "application/zip")


@api.get("/codes/<path:code>")
@ADMIN
def code_lookup(code: str):
    return code_history(db(), runtime().codec, code, tz=runtime().config.tz)


@api.get("/jobs")
@ADMIN
def jobs_status():
    from server.services.jobs_status import job_status

    limit = query_int("limit", 20)
    return job_status(db(), runtime().queues, utcnow(), limit=max(1, min(limit, 200)))


for route, method, summary in [
    ("/jobs", "get", "Background work per kind (owed, overdue, failed with errors) and RQ's failed jobs"),
    ("/products", "post", "Create a product (optional GTIN; url_form short or gs1)"),
    ("/products", "get", "List products"),
    ("/campaigns", "post", "Create a campaign with its reward rules (integer fen)"),
    ("/campaigns", "get", "List campaigns"),
    ("/batches", "post", "Create a batch of up to 100 million codes (one row)"),
    ("/batches", "get", "List batches"),
    ("/batches/{id}", "get", "A batch with its ranges and exports"),
    ("/batches/{id}/activate", "post", "Activate serials first_serial..last_serial (distributor, regions)"),
    ("/batches/{id}/blacklist", "post", "Blacklist serials first_serial..last_serial (reason)"),
    ("/batches/{id}/codes.csv", "get", "Stream seq,serial,code,url as CSV (from/to serials)"),
    ("/batches/{id}/package.zip", "get", "Stream the print package as ZIP (roll_size)"),
    ("/batches/{id}/images.zip", "get", "One QR image per code (format png|svg), batches up to 10,000"),
    ("/batches/{id}/exports", "post", "Queue a print-package export on the worker"),
    ("/batches/{id}/exports/{export_id}", "get", "Export progress"),
    ("/batches/{id}/exports/{export_id}/package.zip", "get", "Download a finished export"),
    ("/codes/{code}", "get", "One code's state and scan history"),
]:
    path(
        route,
        method,
        {
            "summary": summary,
            "tags": ["admin"],
            "security": [{"bearer": []}],
            "responses": {
                "default": {
                    "description": "error",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
            },
        },
    )
