"""Referral performance: share links made, friend vouchers issued and redeemed, bonus points earned, in
total, per campaign and per day."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Campaign, RollupSlice
from server.services.reports import Context, Filters, ratio, rows, sums, where

MEASURES = ("shares", "friend_vouchers", "friend_redemptions", "points")


def report(session: Session, f: Filters, ctx: Context) -> dict:
    """{filters, totals: {…, vouchers_per_share, redemption_rate}, campaigns: [...], points: [{t, …}]}."""
    total = rows(session, select(*sums(RollupSlice, MEASURES)).where(*where(RollupSlice, f, part="")))[0]
    _rates(total)
    by_campaign = rows(
        session,
        select(RollupSlice.campaign_id, Campaign.name, *sums(RollupSlice, MEASURES))
        .join(Campaign, Campaign.id == RollupSlice.campaign_id)
        .where(*where(RollupSlice, f, part=""))
        .group_by(RollupSlice.campaign_id, Campaign.name)
        .order_by(RollupSlice.campaign_id),
    )
    by_campaign = [_rates(r) for r in by_campaign if any(r[m] for m in MEASURES)]
    daily = {
        r["day"]: r
        for r in rows(
            session,
            select(RollupSlice.day, *sums(RollupSlice, MEASURES))
            .where(*where(RollupSlice, f, part=""))
            .group_by(RollupSlice.day),
        )
    }
    series = []
    for i in range(f.days):
        day = f.start + timedelta(days=i)
        series.append({"t": day.isoformat(), **{m: daily.get(day, {}).get(m, 0) for m in MEASURES}})
    return {"filters": f.json(), "totals": total, "campaigns": by_campaign, "points": series}


def _rates(row: dict) -> dict:
    row["vouchers_per_share"] = ratio(row["friend_vouchers"], row["shares"])
    row["redemption_rate"] = ratio(row["friend_redemptions"], row["friend_vouchers"])
    return row
