"""Where packs are scanned: provinces and cities ranked by scans, with claims, redemptions and diversion.
A scan not placed (yet, or ever) counts under the province '' ("unknown")."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import RollupSlice
from server.services.reports import Context, Filters, ratio, rows, sums, where

MEASURES = ("scans", "first_scans", "claims", "redemptions", "diverted_scans")
TOP_CITIES = 50


def report(session: Session, f: Filters, ctx: Context) -> dict:
    """{filters, total_scans, provinces: [{province, …, share}], cities: [{province, city, …, share}]}."""
    provinces = rows(
        session,
        select(RollupSlice.province, *sums(RollupSlice, MEASURES))
        .where(*where(RollupSlice, f, part=""))
        .group_by(RollupSlice.province)
        .order_by(*_ranked(RollupSlice.province)),
    )
    cities = rows(
        session,
        select(RollupSlice.province, RollupSlice.slice_key.label("city"), *sums(RollupSlice, MEASURES))
        .where(*where(RollupSlice, f, part="city"))
        .group_by(RollupSlice.province, RollupSlice.slice_key)
        .order_by(*_ranked(RollupSlice.province, RollupSlice.slice_key))
        .limit(TOP_CITIES),
    )
    total = sum(p["scans"] for p in provinces)
    for row in provinces + cities:
        row["share"] = ratio(row["scans"], total)
    return {"filters": f.json(), "total_scans": total, "provinces": provinces, "cities": cities}


def _ranked(*names):
    from sqlalchemy import desc, func

    return (desc(func.sum(RollupSlice.scans)), *names)
