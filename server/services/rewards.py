"""Who earns what, as ledger postings: one ledger transaction per business event.

Keys: "claim:<voucher id>" for a claim, "redemption:<redemption id>" for a redemption. The
campaign's accounts (fen and points) carry the negative side; a reversal posts the opposite.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from server.models import Campaign, Referral, Voucher
from server.services import ledger
from server.services.ledger import Account, Posted, Posting


def claim_key(voucher_id: int) -> str:
    return f"claim:{voucher_id}"


def redemption_key(redemption_id: int) -> str:
    return f"redemption:{redemption_id}"


def post_claim_reward(session: Session, *, voucher: Voucher, campaign: Campaign, now: datetime,
                      hold_days: int) -> Posted | None:
    """The attributed clerk's reward for a claim (once per pack: the key is the voucher)."""
    amount = campaign.clerk_claim_reward_fen
    if voucher.clerk_id is None or amount <= 0:
        return None
    return ledger.post(
        session, key=claim_key(voucher.id), event="clerk_claim_reward", now=now,
        available_at=now + timedelta(days=hold_days), details={"voucher_id": voucher.id},
        postings=[Posting(Account("campaign", campaign.id), -amount), Posting(Account("clerk", voucher.clerk_id), amount)],
    )


def redemption_postings(session: Session, *, voucher: Voucher, campaign: Campaign, store_id: int,
                        clerk_id: int | None) -> list[Posting]:
    """Store payout (face value + fee), the redeeming clerk's reward, and a friend voucher's referral bonus."""
    store_amount = voucher.value_fen + campaign.store_fee_fen
    credits = [Posting(Account("store", store_id), store_amount)]
    if clerk_id is not None and campaign.clerk_redeem_reward_fen > 0:
        credits.append(Posting(Account("clerk", clerk_id), campaign.clerk_redeem_reward_fen))
    fen = sum(p.amount for p in credits)
    postings = [Posting(Account("campaign", campaign.id), -fen), *credits]
    postings += referral_bonus_postings(session, voucher=voucher, campaign=campaign)
    return postings


def referral_bonus_postings(session: Session, *, voucher: Voucher, campaign: Campaign) -> list[Posting]:
    """Bonus points for the sharer when a friend voucher is redeemed (none for pack vouchers)."""
    points = campaign.referral_bonus_points
    if voucher.kind != "friend" or voucher.referral_id is None or points <= 0:
        return []
    sharer = session.get(Referral, voucher.referral_id).sharer_id
    return [Posting(Account("campaign", campaign.id, "points"), -points), Posting(Account("consumer", sharer, "points"), points)]


def post_redemption(session: Session, *, redemption_id: int, voucher: Voucher, campaign: Campaign, store_id: int,
                    clerk_id: int | None, now: datetime, hold_days: int) -> Posted:
    """All the money one redemption moves, in one ledger transaction."""
    return ledger.post(
        session, key=redemption_key(redemption_id), event="redemption", now=now,
        available_at=now + timedelta(days=hold_days),
        details={"redemption_id": redemption_id, "voucher_id": voucher.id, "store_id": store_id},
        postings=redemption_postings(session, voucher=voucher, campaign=campaign, store_id=store_id, clerk_id=clerk_id),
    )
