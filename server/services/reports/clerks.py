"""The clerk (导购) leaderboard: scans and claims their promo code brought in, redemptions at their till and
the rewards accrued on those rows (rollup rows with a clerk)."""

from __future__ import annotations

from sqlalchemy import BigInteger, cast, desc, func, select
from sqlalchemy.orm import Session, aliased

from server.models import RollupSlice, Store, User
from server.services.reports import Context, Filters, rows, sums, where

MEASURES = ("scans", "claims", "redemptions", "rewards_fen")
TOP = 50
CLERK = cast(RollupSlice.slice_key, BigInteger)  # the clerk slice's key is the clerk's user id


def report(session: Session, f: Filters, ctx: Context) -> dict:
    """{filters, clerks: [{rank, clerk_id, name, username, store, <measures>}]} by claims, top 50."""
    ranked = (
        select(CLERK.label("clerk_id"), *sums(RollupSlice, MEASURES))
        .where(*where(RollupSlice, f, part="clerk"))
        .group_by(CLERK)
        .order_by(desc(func.sum(RollupSlice.claims)), desc(func.sum(RollupSlice.redemptions)), CLERK)
        .limit(TOP)
        .subquery()
    )
    clerk, store = aliased(User), aliased(Store)
    found = rows(
        session,
        select(ranked, clerk.display_name.label("name"), clerk.username, store.name.label("store"))
        .join(clerk, clerk.id == ranked.c.clerk_id)
        .outerjoin(store, store.id == clerk.store_id)
        .order_by(desc(ranked.c.claims), desc(ranked.c.redemptions), ranked.c.clerk_id),
    )
    for rank, row in enumerate(found, start=1):
        row["rank"] = rank
        row["name"] = row["name"] or row["username"]
    return {"filters": f.json(), "clerks": found}
