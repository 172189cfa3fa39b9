"""What the till and the owner pages read about redemptions: today's at a store, and the latest ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.models import LedgerAccount, LedgerEntry, Redemption, Store, User, Voucher


@dataclass(frozen=True)
class Today:
    count: int
    value_fen: int
    clerk_count: int
    clerk_earned_fen: int


def today(session: Session, *, store_id: int, clerk_id: int | None, now: datetime, tz: str) -> Today:
    """Live redemptions at the store today (local day), and the clerk's own with their rewards."""
    zone = ZoneInfo(tz)
    local_day: date = now.astimezone(zone).date()
    start = datetime.combine(local_day, time.min, zone)
    live = (
        select(func.count(), func.coalesce(func.sum(Voucher.value_fen), 0))
        .select_from(Redemption)
        .join(Voucher, Voucher.id == Redemption.voucher_id)
        .where(
            Redemption.store_id == store_id, Redemption.reversed_at.is_(None), Redemption.redeemed_at >= start
        )
    )
    count, value = session.execute(live).one()
    clerk_count = earned = 0
    if clerk_id is not None:
        clerk_count = session.execute(
            select(func.count())
            .select_from(Redemption)
            .where(
                Redemption.clerk_id == clerk_id,
                Redemption.reversed_at.is_(None),
                Redemption.redeemed_at >= start,
            )
        ).scalar_one()
        earned = session.execute(
            select(func.coalesce(func.sum(LedgerEntry.amount), 0))
            .join(LedgerAccount)
            .where(
                LedgerAccount.kind == "clerk",
                LedgerAccount.ref_id == clerk_id,
                LedgerAccount.unit == "fen",
                LedgerEntry.created_at >= start,
            )
        ).scalar_one()
    return Today(count, int(value), clerk_count, int(earned))


def recent(
    session: Session, *, store_ids: list[int] | None, limit: int = 50
) -> list[tuple[Redemption, Voucher, Store, User | None]]:
    """The latest redemptions (of the given stores, or all), newest first."""
    q = (
        select(Redemption, Voucher, Store, User)
        .join(Voucher, Voucher.id == Redemption.voucher_id)
        .join(Store, Store.id == Redemption.store_id)
        .outerjoin(User, User.id == Redemption.clerk_id)
        .order_by(Redemption.id.desc())
        .limit(limit)
    )
    if store_ids is not None:
        q = q.where(Redemption.store_id.in_(store_ids or [-1]))
    return [tuple(r) for r in session.execute(q).all()]
