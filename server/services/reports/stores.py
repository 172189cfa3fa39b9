"""The store leaderboard: redemptions, face value redeemed and payouts per store, and the claims its clerks
brought in (rollup rows with a store)."""

from __future__ import annotations

from sqlalchemy import BigInteger, cast, desc, func, select
from sqlalchemy.orm import Session

from server.models import RollupSlice, Store
from server.services.reports import Context, Filters, rows, sums, where

MEASURES = ("claims", "redemptions", "friend_redemptions", "redeemed_value_fen", "payouts_fen")
TOP = 50
STORE = cast(RollupSlice.slice_key, BigInteger)  # the store slice's key is the store id


def report(session: Session, f: Filters, ctx: Context) -> dict:
    """{filters, stores: [{rank, store_id, name, province, city, <measures>}]} by redemptions, top 50."""
    ranked = (
        select(STORE.label("store_id"), *sums(RollupSlice, MEASURES))
        .where(*where(RollupSlice, f, part="store"))
        .group_by(STORE)
        .order_by(desc(func.sum(RollupSlice.redemptions)), desc(func.sum(RollupSlice.claims)), STORE)
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
