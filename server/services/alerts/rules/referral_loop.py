"""Referral loops: a friend voucher whose friend is the sharer under another name — the same device cookie,
the same phone, a network both scanned from (evidence here, no longer a refusal at claim time), or friends
sharing with each other (a mutual referral). Holds the sharer's bonus points on that friend voucher (held when
it is redeemed, even after the alert). A friend with nothing in common with the sharer never fires.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from server.models import Consumer, Referral, Scan, Voucher
from server.services.alerts.base import Finding, RuleContext, raise_alert, rows_past

NAME = "referral_loop"
HOLD = ("consumer",)


def _networks(session: Session, consumer_id: int) -> set[str]:
    return set(
        session.execute(
            select(Scan.net_hash).where(Scan.consumer_id == consumer_id, Scan.net_hash.is_not(None))
        ).scalars()
    )


def evidence(session: Session, sharer_id: int, friend_id: int) -> list[str]:
    """What ties the friend to the sharer: 'device', 'phone', 'network', 'mutual'."""
    sharer, friend = session.get(Consumer, sharer_id), session.get(Consumer, friend_id)
    found = []
    if sharer.device_id and sharer.device_id == friend.device_id:
        found.append("device")
    if sharer.phone_hash and sharer.phone_hash == friend.phone_hash:
        found.append("phone")
    if _networks(session, sharer_id) & _networks(session, friend_id):
        found.append("network")
    back, ref = aliased(Voucher), aliased(Referral)
    if session.execute(
        select(back.id)
        .join(ref, ref.id == back.referral_id)
        .where(ref.sharer_id == friend_id, back.consumer_id == sharer_id)
        .limit(1)
    ).first():
        found.append("mutual")
    return found


def run(session: Session, ctx: RuleContext) -> list[int]:
    raised = []
    for voucher in rows_past(session, f"alerts:{NAME}", Voucher, ctx):
        if voucher.kind != "friend":
            continue
        referral = session.get(Referral, voucher.referral_id)
        ties = evidence(session, referral.sharer_id, voucher.consumer_id)
        if not ties:
            continue
        finding = Finding(
            kind=NAME,
            dedupe_key=f"{NAME}:{voucher.id}",
            summary=f"friend voucher {voucher.code}: same {', '.join(ties)} as the sharer",
            evidence={
                "referral_id": referral.id,
                "sharer_id": referral.sharer_id,
                "friend_id": voucher.consumer_id,
                "friend_voucher": voucher.code,
                "shared": ties,
            },
            voucher_ids=[voucher.id],
            hold_kinds=HOLD,
            consumer_id=referral.sharer_id,
        )
        raised.append(raise_alert(session, finding, ctx))
    return raised
