"""Clerk bursts: more than `clerk_burst_count` claims attributed to one clerk, or redemptions by one clerk,
within `clerk_burst_minutes` — a stack of packs opened at the counter. One alert per clerk, kind and window
start; holds the clerk rewards on the vouchers in the burst (a redemption's goes to the attributed clerk).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Redemption, Voucher
from server.services.alerts.base import Finding, RuleContext, raise_alert, rows_past

NAME = "clerk_burst"
HOLD = ("clerk",)


def _window_rows(session, model, clerk_col, at_col, clerk_id, at, window):
    query = select(model).where(clerk_col == clerk_id, at_col > at - window, at_col <= at)
    if model is Redemption:
        query = query.where(Redemption.reversed_at.is_(None))
    return list(session.execute(query.order_by(at_col)).scalars())


def run(session: Session, ctx: RuleContext) -> list[int]:
    limit, window = (
        ctx.thresholds["clerk_burst_count"],
        timedelta(minutes=ctx.thresholds["clerk_burst_minutes"]),
    )
    raised, seen = [], set()
    sources = (
        ("claims", Voucher, Voucher.clerk_id, Voucher.issued_at, lambda r: r.id),
        ("redemptions", Redemption, Redemption.clerk_id, Redemption.redeemed_at, lambda r: r.voucher_id),
    )
    for what, model, clerk_col, at_col, voucher_of in sources:
        for row in rows_past(session, f"alerts:{NAME}:{what}", model, ctx):
            clerk_id, at = getattr(row, clerk_col.key), getattr(row, at_col.key)
            if clerk_id is None or (what, clerk_id, at) in seen:
                continue
            seen.add((what, clerk_id, at))
            burst = _window_rows(session, model, clerk_col, at_col, clerk_id, at, window)
            if len(burst) <= limit:
                continue
            start = getattr(burst[0], at_col.key)
            bucket = int(start.timestamp()) // int(window.total_seconds())
            finding = Finding(
                kind=NAME,
                dedupe_key=f"{NAME}:{clerk_id}:{what}:{bucket}",
                summary=f"clerk {clerk_id}: {len(burst)} {what} in {window.total_seconds() / 60:.0f} min",
                evidence={
                    "what": what,
                    "count": len(burst),
                    "threshold": limit,
                    "window_minutes": ctx.thresholds["clerk_burst_minutes"],
                    "from": start.astimezone(ctx.tz).isoformat(timespec="seconds"),
                    "to": at.astimezone(ctx.tz).isoformat(timespec="seconds"),
                },
                voucher_ids=[voucher_of(r) for r in burst],
                hold_kinds=HOLD,
                clerk_id=clerk_id,
            )
            raised.append(raise_alert(session, finding, ctx))
    return raised
