"""What the report filters can be set to: campaigns, batches and products by name, and the provinces of the
canonical region list (server/regions.py)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Batch, Campaign, Product
from server.regions import regions


def report(session: Session) -> dict:
    """{campaigns, batches, products: [{id, name}], provinces: [name]} for the filter pickers."""
    campaigns = session.execute(select(Campaign.id, Campaign.name).order_by(Campaign.id.desc())).all()
    products = session.execute(select(Product.id, Product.name).order_by(Product.name)).all()
    batches = session.execute(
        select(Batch.id, Product.name).join(Product, Product.id == Batch.product_id).order_by(Batch.id.desc())
    ).all()
    return {
        "campaigns": [{"id": i, "name": name} for i, name in campaigns],
        "batches": [{"id": i, "name": f"#{i} {name}"} for i, name in batches],
        "products": [{"id": i, "name": name} for i, name in products],
        "provinces": [r.name for r in sorted(regions().provinces.values(), key=lambda r: r.code)],
    }


def english(province: str) -> str:
    """The English name of a canonical province name (the name itself when it is not one)."""
    region = regions().province(province) if province else None
    return region.en if region is not None else province
