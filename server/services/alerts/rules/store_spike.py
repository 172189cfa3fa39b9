"""Store redemption spikes: a local day on which a store's redemptions reach `store_spike_min` and exceed
`store_spike_factor` times its own baseline (the mean daily redemptions of the `store_baseline_days` days
before). A store that is always this busy never fires. Holds the store's payouts of that day.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.models import Redemption
from server.services.alerts.base import Finding, RuleContext, raise_alert, rows_past
from server.services.rollups.facts import day_bounds

NAME = "store_spike"
HOLD = ("store",)


def _count(session: Session, store_id: int, start, end) -> int:
    return session.execute(
        select(func.count()).where(
            Redemption.store_id == store_id,
            Redemption.redeemed_at >= start,
            Redemption.redeemed_at < end,
            Redemption.reversed_at.is_(None),
        )
    ).scalar()


def run(session: Session, ctx: RuleContext) -> list[int]:
    t = ctx.thresholds
    days = {
        (r.store_id, r.redeemed_at.astimezone(ctx.tz).date())
        for r in rows_past(session, f"alerts:{NAME}", Redemption, ctx)
    }
    raised = []
    for store_id, day in sorted(days):
        start, end = day_bounds(day, ctx.tz)
        count = _count(session, store_id, start, end)
        base_start, _ = day_bounds(day - timedelta(days=t["store_baseline_days"]), ctx.tz)
        baseline = _count(session, store_id, base_start, start) / t["store_baseline_days"]
        if count < t["store_spike_min"] or count <= t["store_spike_factor"] * baseline:
            continue
        vouchers = session.execute(
            select(Redemption.voucher_id).where(
                Redemption.store_id == store_id,
                Redemption.redeemed_at >= start,
                Redemption.redeemed_at < end,
                Redemption.reversed_at.is_(None),
            )
        ).scalars()
        finding = Finding(
            kind=NAME,
            dedupe_key=f"{NAME}:{store_id}:{day.isoformat()}",
            summary=f"store {store_id}: {count} redemptions on {day} (baseline {baseline:.1f} a day)",
            evidence={
                "day": day.isoformat(),
                "redemptions": count,
                "baseline_per_day": round(baseline, 2),
                "baseline_days": t["store_baseline_days"],
                "factor": t["store_spike_factor"],
                "minimum": t["store_spike_min"],
            },
            voucher_ids=list(vouchers),
            hold_kinds=HOLD,
            store_id=store_id,
        )
        raised.append(raise_alert(session, finding, ctx))
    return raised
