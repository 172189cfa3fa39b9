"""KPI cards: the period's totals against the period of the same length just before it."""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from server.models import Alert, RollupSlice
from server.services.reports import Context, Filters, batches_of, packs, ratio, rows, where
from server.services.rollups.facts import day_bounds

MEASURES = (
    "scans",
    "first_scans",
    "new_consumers",
    "consumers",
    "claims",
    "friend_vouchers",
    "shares",
    "redemptions",
    "friend_redemptions",
    "redeemed_value_fen",
    "payouts_fen",
    "rewards_fen",
    "points",
    "diverted_scans",
    "alert_scans",
    "scans_blocked",
    "claim_seconds",
    "claims_timed",
    "redeem_seconds",
    "redemptions_timed",
)
# the cards, in the order the dashboard shows them
CARDS = (
    "scans",
    "first_scans",
    "new_consumers",
    "claims",
    "redemptions",
    "redeemed_value_fen",
    "accrued_fen",
    "real_scan_rate",
    "diverted_scans",
    "alerts",
)


def report(session: Session, f: Filters, ctx: Context) -> dict:
    """{filters, printed, activated, current: {measure: n}, previous: {…}, cards: [{name, value, previous,
    change}]}: totals of the rollups over both periods in one query, alerts raised in each period."""
    before = f.previous()
    current_period = RollupSlice.day >= f.start
    query = select(
        *[
            func.coalesce(func.sum(case((current_period, getattr(RollupSlice, m)), else_=0)), 0).label(m)
            for m in MEASURES
        ],
        *[
            func.coalesce(func.sum(case((current_period, 0), else_=getattr(RollupSlice, m))), 0).label(
                f"p_{m}"
            )
            for m in MEASURES
        ],
    ).where(
        *where(RollupSlice, f, dates=False, part=""),
        RollupSlice.day >= before.start,
        RollupSlice.day <= f.end,
    )
    both = rows(session, query)[0]
    stock = packs(session, f)
    current = _derived({m: both[m] for m in MEASURES}, stock["printed"])
    previous = _derived({m: both[f"p_{m}"] for m in MEASURES}, stock["printed"])
    current["alerts"], previous["alerts"] = _alerts(session, f, ctx.tz), _alerts(session, before, ctx.tz)
    return {
        "filters": f.json(),
        "previous_period": {"from": before.start.isoformat(), "to": before.end.isoformat()},
        **stock,
        "current": current,
        "previous": previous,
        "cards": [_card(name, current[name], previous[name]) for name in CARDS],
    }


def _derived(m: dict, printed: int) -> dict:
    m["accrued_fen"] = m["payouts_fen"] + m["rewards_fen"]
    m["real_scans"] = m["scans"] - m["alert_scans"]
    m["real_scan_rate"] = ratio(m["real_scans"], printed, 6)  # scans not tied to an alert, per printed pack
    m["avg_scan_to_claim_s"] = ratio(m["claim_seconds"], m["claims_timed"], 1)
    m["avg_claim_to_redeem_s"] = ratio(m["redeem_seconds"], m["redemptions_timed"], 1)
    return m


def _card(name: str, value, previous) -> dict:
    change = None
    if value is not None and previous:
        change = round((value - previous) / previous, 4)
    return {"name": name, "value": value, "previous": previous, "change": change}


def _alerts(session: Session, f: Filters, tz) -> int:
    """Alerts raised in the period about the selected batches (every alert when no batch filter applies)."""
    start, end = day_bounds(f.start, tz)[0], day_bounds(f.end, tz)[1]
    q = select(func.count()).select_from(Alert).where(Alert.created_at >= start, Alert.created_at < end)
    if f.campaign_id or f.batch_id or f.product_id:
        q = q.where(Alert.batch_id.in_(batches_of(f)))
    return session.execute(q).scalar()
