"""JSON shapes of catalogue objects, shared by the API and the admin pages."""

from __future__ import annotations

from server.models import Batch, BatchExport, BatchRange, Campaign, Product


def _iso(value):
    return value.isoformat() if value is not None else None


def product_json(p: Product) -> dict:
    return {
        "id": p.id,
        "name": p.name,
        "gtin": p.gtin,
        "url_form": p.url_form,
        "description": p.description,
        "created_at": _iso(p.created_at),
    }


def campaign_json(c: Campaign) -> dict:
    from server.services.catalog import CAMPAIGN_INTS

    return {
        "id": c.id,
        "name": c.name,
        "starts_at": _iso(c.starts_at),
        "ends_at": _iso(c.ends_at),
        "rotating_token": c.rotating_token,
        "issued_count": c.issued_count,
        "spent_fen": c.spent_fen,
        **{k: getattr(c, k) for k in CAMPAIGN_INTS},
    }


def range_json(r: BatchRange) -> dict:
    return {
        "id": r.id,
        "kind": r.kind,
        "first_serial": r.first_serial,
        "last_serial": r.last_serial,
        "count": r.last_serial - r.first_serial + 1,
        "distributor": r.distributor,
        "regions": r.regions,
        "reason": r.reason,
        "created_at": _iso(r.created_at),
    }


def export_json(e: BatchExport) -> dict:
    return {
        "id": e.id,
        "batch_id": e.batch_id,
        "status": e.status,
        "done_count": e.done_count,
        "roll_size": e.roll_size,
        "error": e.error,
        "created_at": _iso(e.created_at),
        "finished_at": _iso(e.finished_at),
    }


def batch_json(b: Batch, runtime, *, ranges=None, exports=None) -> dict:
    from server.services.batches import batch_spec

    spec = batch_spec(b, runtime.config.public_url)
    body = {
        "id": b.id,
        "number": runtime.ids.encode("batch", b.id),
        "product_id": b.product_id,
        "campaign_id": b.campaign_id,
        "quantity": b.quantity,
        "paired": b.paired,
        "url_form": b.url_form,
        "url_template": spec.urls.template_string(),
        "note": b.note,
        "created_at": _iso(b.created_at),
        "first_code": runtime.codec.encode(b.id, 0),
    }
    if ranges is not None:
        body["ranges"] = [range_json(r) for r in ranges]
    if exports is not None:
        body["exports"] = [export_json(e) for e in exports]
    return body
