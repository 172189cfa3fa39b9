"""Diversion (窜货) by distributor: scans placed outside the intended regions of the range they were shipped
in, charged to that range's distributor, with the provinces they turned up in and the diversion alerts."""

from __future__ import annotations

from sqlalchemy import desc, func, select
from sqlalchemy.orm import Session

from server.models import Alert, RollupSlice
from server.services.reports import Context, Filters, batches_of, ratio, rows, sums, where

TOP_PLACES = 50


def report(session: Session, f: Filters, ctx: Context) -> dict:
    """{filters, distributors: [{distributor, scans, diverted_scans, rate, open_alerts}], places: [...]}."""
    distributors = rows(
        session,
        select(RollupSlice.slice_key.label("distributor"), *sums(RollupSlice, ("scans", "diverted_scans")))
        .where(*where(RollupSlice, f, part="distributor"))
        .group_by(RollupSlice.slice_key)
        .order_by(desc(func.sum(RollupSlice.diverted_scans)), RollupSlice.slice_key),
    )
    alerts = _open_alerts(session, f)
    for row in distributors:
        row["rate"] = ratio(row["diverted_scans"], row["scans"])
        row["open_alerts"] = alerts.get(row["distributor"], 0)
    places = rows(
        session,
        select(
            RollupSlice.slice_key.label("distributor"),
            RollupSlice.province,
            *sums(RollupSlice, ("diverted_scans",)),
        )
        .where(*where(RollupSlice, f, part="distributor"), RollupSlice.diverted_scans > 0)
        .group_by(RollupSlice.slice_key, RollupSlice.province)
        .order_by(desc(func.sum(RollupSlice.diverted_scans)), RollupSlice.slice_key, RollupSlice.province)
        .limit(TOP_PLACES),
    )
    return {"filters": f.json(), "distributors": distributors, "places": places}


def _open_alerts(session: Session, f: Filters) -> dict[str, int]:
    q = (
        select(Alert.distributor, func.count())
        .where(Alert.kind == "diversion", Alert.status == "open", Alert.distributor.is_not(None))
        .group_by(Alert.distributor)
    )
    if f.campaign_id or f.batch_id or f.product_id:
        q = q.where(Alert.batch_id.in_(batches_of(f)))
    return dict(session.execute(q).all())
