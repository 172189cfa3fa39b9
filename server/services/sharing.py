"""What a sharer sees of their share link: the link, the friends' vouchers and the bonus each one earned.

The bonus is read from the ledger (the sharer's points account, the friend vouchers' redemption
transactions and their reversals), so a reversed redemption shows as no bonus.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Campaign, LedgerAccount, LedgerEntry, LedgerTransaction, Redemption, Referral
from server.services import referrals, rewards
from server.services.claims import VoucherState, voucher_state


@dataclass(frozen=True)
class Friend:
    state: VoucherState
    bonus_points: int  # what its redemption earned the sharer (0 until it is redeemed, or if reversed)


@dataclass(frozen=True)
class Sharing:
    """What the holder of a pack voucher sees of its share link."""

    referral: Referral
    friends: list[Friend]

    @property
    def left(self) -> int:
        return max(self.referral.share_limit - self.referral.used_count, 0)

    @property
    def bonus_points(self) -> int:
        return sum(f.bonus_points for f in self.friends)


def share_url(public_url: str, token: str) -> str:
    """A share link as the friend opens it: on the public URL, like printed codes (the page is /r/<token>)."""
    return f"{public_url}/r/{token}"


def to_json(shared: Sharing, campaign: Campaign, public_url: str) -> dict:
    """The share as the consumer API answers it: what the voucher page shows."""
    return {
        "url": share_url(public_url, shared.referral.token),
        "left": shared.left,
        "friend_value_fen": campaign.referral_friend_value_fen,
        "bonus_points_per_friend": campaign.referral_bonus_points,
        "friends": [_friend_json(f) for f in shared.friends],
        "bonus_points": shared.bonus_points,
    }


def _friend_json(friend: Friend) -> dict:
    state = friend.state
    return {
        "value_fen": state.voucher.value_fen,
        "state": state.state,
        "issued_at": state.voucher.issued_at.isoformat(timespec="seconds"),
        "redeemed_at": state.redeemed_at.isoformat(timespec="seconds") if state.redeemed_at else None,
        "bonus_points": friend.bonus_points,
    }


def sharing(session: Session, state: VoucherState, now: datetime) -> Sharing | None:
    """The share link of the holder's pack voucher (made on first sight while the voucher is usable), the
    friends' vouchers and the bonus they earned; None for friend vouchers and campaigns without referrals."""
    voucher = state.voucher
    if voucher.kind != "pack":
        return None
    share = referrals.share_for(session, voucher, state.campaign, now) if state.state == "issued" else None
    share = share or referrals.existing_share(session, voucher)
    if share is None:
        return None
    friends = referrals.friend_vouchers(session, share)
    points = bonus_points(session, share, [f.id for f in friends])
    return Sharing(share, [Friend(voucher_state(session, f, now), points.get(f.id, 0)) for f in friends])


def bonus_points(session: Session, referral: Referral, voucher_ids: list[int]) -> dict[int, int]:
    """Points the sharer's ledger holds per friend voucher: its redemptions' bonus, net of any reversal."""
    redeemed = session.execute(
        select(Redemption.id, Redemption.voucher_id).where(Redemption.voucher_id.in_(voucher_ids))
    ).all()
    by_key = {rewards.redemption_key(rid): vid for rid, vid in redeemed}
    if not by_key:
        return {}
    posted = dict(
        session.execute(
            select(LedgerTransaction.id, LedgerTransaction.key).where(LedgerTransaction.key.in_(by_key))
        ).all()
    )
    voucher_of = {tid: by_key[key] for tid, key in posted.items()}
    for tid, original in session.execute(
        select(LedgerTransaction.id, LedgerTransaction.reverses_id).where(
            LedgerTransaction.reverses_id.in_(voucher_of)
        )
    ).all():
        voucher_of[tid] = voucher_of[original]
    out: dict[int, int] = {}
    for tid, amount in session.execute(
        select(LedgerEntry.transaction_id, LedgerEntry.amount)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(
            LedgerEntry.transaction_id.in_(voucher_of),
            LedgerAccount.kind == "consumer",
            LedgerAccount.ref_id == referral.sharer_id,
            LedgerAccount.unit == "points",
        )
    ).all():
        out[voucher_of[tid]] = out.get(voucher_of[tid], 0) + amount
    return out
