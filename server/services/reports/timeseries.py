"""Daily and hourly series: every day of the period (rollup_days), or every hour of its last 31 days
(rollup_hours), with the days or hours without events as zeros."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import RollupSlice
from server.services.reports import Context, Filters, hours_table, rows, sums, where

DAILY = ("scans", "first_scans", "claims", "friend_vouchers", "redemptions", "payouts_fen", "rewards_fen")
HOURLY = ("scans", "first_scans", "claims", "friend_vouchers", "redemptions", "payouts_fen", "rewards_fen")
MAX_HOURLY_DAYS = 31


def report(session: Session, f: Filters, ctx: Context, *, interval: str = "day") -> dict:
    """{filters, interval, measures, points: [{t, <measure>: n}]}."""
    if interval == "hour":
        return _hourly(session, f)
    found = {
        r["day"]: r
        for r in rows(
            session,
            select(RollupSlice.day, *sums(RollupSlice, DAILY))
            .where(*where(RollupSlice, f, part=""))
            .group_by(RollupSlice.day)
            .order_by(RollupSlice.day),
        )
    }
    points = []
    for i in range(f.days):
        day = f.start + timedelta(days=i)
        row = found.get(day, {})
        points.append({"t": day.isoformat(), **{m: row.get(m, 0) for m in DAILY}})
    return {"filters": f.json(), "interval": "day", "measures": list(DAILY), "points": points}


def _hourly(session: Session, f: Filters) -> dict:
    start = max(f.start, f.end - timedelta(days=MAX_HOURLY_DAYS - 1))
    shown = replace(f, start=start)
    hours = hours_table(f)
    found = {
        (r["day"], r["hour"]): r
        for r in rows(
            session,
            select(hours.day, hours.hour, *sums(hours, HOURLY))
            .where(*where(hours, shown))
            .group_by(hours.day, hours.hour),
        )
    }
    points = []
    for i in range(shown.days):
        day = start + timedelta(days=i)
        for hour in range(24):
            row = found.get((day, hour), {})
            points.append({"t": f"{day.isoformat()} {hour:02d}:00", **{m: row.get(m, 0) for m in HOURLY}})
    return {
        "filters": f.json(),
        "interval": "hour",
        "shown_from": start.isoformat(),
        "measures": list(HOURLY),
        "points": points,
    }
