"""The store leaderboard: redemptions, face value redeemed and payouts per store, and the claims its clerks
brought in (rollup rows with a store)."""

from __future__ import annotations

from sqlalchemy import desc, func, select
from sqlalchemy.orm import Session

from server.models import RollupDay, Store
from server.services.reports import Context, Filters, rows, sums, where

MEASURES = ("claims", "redemptions", "friend_redemptions", "redeemed_value_fen", "payouts_fen")
TOP = 50


def report(session: Session, f: Filters, ctx: Context) -> dict:
    """{filters, stores: [{rank, store_id, name, province, city, <measures>}]} by redemptions, top 50."""
    ranked = (
        select(RollupDay.store_id, *sums(RollupDay, MEASURES))
        .where(*where(RollupDay, f), RollupDay.store_id != 0)
        .group_by(RollupDay.store_id)
        .order_by(desc(func.sum(RollupDay.redemptions)), desc(func.sum(RollupDay.claims)), RollupDay.store_id)
        .limit(TOP)
        .subquery()
    )
    found = rows(
        session,
        select(ranked, Store.name, Store.province.label("store_province"), Store.city.label("store_city"))
        .join(Store, Store.id == ranked.c.store_id)
        .order_by(desc(ranked.c.redemptions), desc(ranked.c.claims), ranked.c.store_id),
    )
    for rank, row in enumerate(found, start=1):
        row["rank"] = rank
    return {"filters": f.json(), "stores": found}
