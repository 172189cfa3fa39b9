"""Clerk self-dealing: a voucher attributed to a clerk (their promo code) claimed from a device or network the
clerk signed in from (staff_sightings), or redeemed by a clerk at their own till for such a consumer — the
clerk scanning packs themselves to collect the rewards. A consumer on another network never fires.
Holds the clerk's rewards and the store's payout of that voucher.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Consumer, Redemption, Scan, StaffSighting, Voucher
from server.services.alerts.base import Finding, RuleContext, raise_alert, rows_past

NAME = "clerk_self_dealing"
HOLD = ("clerk", "store")


def claim_traces(session: Session, voucher: Voucher) -> dict[str, set[str]]:
    """The device and networks the voucher's consumer used on the pack's code (its scans)."""
    device = session.execute(select(Consumer.device_id).where(Consumer.id == voucher.consumer_id)).scalar()
    nets = set(
        session.execute(
            select(Scan.net_hash).where(
                Scan.consumer_id == voucher.consumer_id,
                Scan.code_id == voucher.code_id,
                Scan.net_hash.is_not(None),
            )
        ).scalars()
    )
    return {"device": {device} if device else set(), "net": nets}


def shared(session: Session, clerk_id: int, traces: dict[str, set[str]]) -> list[str]:
    """Which of the traces the clerk was seen with ('device', 'net')."""
    found = []
    for kind, values in traces.items():
        if (
            values
            and session.execute(
                select(StaffSighting.value).where(
                    StaffSighting.user_id == clerk_id,
                    StaffSighting.kind == kind,
                    StaffSighting.value.in_(values),
                )
            ).first()
        ):
            found.append(kind)
    return found


def _check(session, ctx, voucher: Voucher, clerk_id: int, store_id: int | None, how: str) -> int | None:
    if voucher.kind != "pack":
        return None
    matches = shared(session, clerk_id, claim_traces(session, voucher))
    if not matches:
        return None
    finding = Finding(
        kind=NAME,
        dedupe_key=f"{NAME}:{clerk_id}:{voucher.id}",
        summary=f"clerk {clerk_id}: {how} from the clerk's own {' and '.join(matches)}",
        evidence={"voucher": voucher.code, "how": how, "shared": matches, "consumer_id": voucher.consumer_id},
        code_ids=[voucher.code_id],
        voucher_ids=[voucher.id],
        hold_kinds=HOLD,
        clerk_id=clerk_id,
        store_id=store_id,
        consumer_id=voucher.consumer_id,
        code_id=voucher.code_id,
    )
    return raise_alert(session, finding, ctx)


def run(session: Session, ctx: RuleContext) -> list[int]:
    from server.models import User

    raised = []
    for voucher in rows_past(session, f"alerts:{NAME}:vouchers", Voucher, ctx):
        if voucher.clerk_id is not None:
            store = session.execute(select(User.store_id).where(User.id == voucher.clerk_id)).scalar()
            raised.append(
                _check(session, ctx, voucher, voucher.clerk_id, store, "claimed with their promo code")
            )
    for redemption in rows_past(session, f"alerts:{NAME}:redemptions", Redemption, ctx):
        if redemption.clerk_id is not None and redemption.reversed_at is None:
            voucher = session.get(Voucher, redemption.voucher_id)
            raised.append(
                _check(
                    session, ctx, voucher, redemption.clerk_id, redemption.store_id, "redeemed at their till"
                )
            )
    return [a for a in raised if a is not None]
