"""Who earns what, as ledger postings: one ledger transaction per business event.

Keys: "claim:<voucher id>" for a claim, "redemption:<redemption id>" for a redemption. The
campaign's accounts (fen and points) carry the negative side; a reversal posts the opposite.
A clerk earns for attribution: the clerk whose promo code the consumer scanned before
claiming (the voucher's clerk_id) gets the claim reward and the redemption reward, whoever redeems it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy.orm import Session

from server.models import Campaign, Referral, Voucher
from server.services import ledger
from server.services.ledger import Account, Posted, Posting


def claim_key(voucher_id: int) -> str:
    return f"claim:{voucher_id}"


def redemption_key(redemption_id: int) -> str:
    return f"redemption:{redemption_id}"


def post_claim_reward(
    session: Session, *, voucher: Voucher, campaign: Campaign, now: datetime, hold_days: int
) -> Posted | None:
    """The attributed clerk's reward for a claim (once per pack: the key is the voucher)."""
    amount = campaign.clerk_claim_reward_fen
    if voucher.clerk_id is None or amount <= 0:
        return None
    return ledger.post(
        session,
        key=claim_key(voucher.id),
        event="clerk_claim_reward",
        now=now,
        available_at=now + timedelta(days=hold_days),
        details={"voucher_id": voucher.id},
        postings=[
            Posting(Account("campaign", campaign.id), -amount),
            Posting(Account("clerk", voucher.clerk_id), amount),
        ],
    )


class RedemptionTerms(NamedTuple):
    """The redeemed voucher's row with its campaign's terms: what a redemption's postings depend on."""

    id: int
    code: str
    kind: str
    value_fen: int
    referral_id: int | None
    campaign_id: int
    attributed_clerk_id: int | None  # the voucher's clerk (whose promo code the consumer scanned), if any
    store_fee_fen: int
    clerk_redeem_reward_fen: int
    referral_bonus_points: int


def redemption_postings(session: Session, *, voucher: RedemptionTerms, store_id: int) -> list[Posting]:
    """Store payout (face value + fee), the attributed clerk's reward (whoever operated the till: a clerk,
    a POS token, an owner; none for an unattributed voucher) and a friend voucher's referral bonus."""
    campaign = Account("campaign", voucher.campaign_id)
    credits = [Posting(Account("store", store_id), voucher.value_fen + voucher.store_fee_fen)]
    clerk_id = voucher.attributed_clerk_id
    if clerk_id is not None and voucher.clerk_redeem_reward_fen > 0:
        credits.append(Posting(Account("clerk", clerk_id), voucher.clerk_redeem_reward_fen))
    postings = [Posting(campaign, -sum(p.amount for p in credits)), *credits]
    points = voucher.referral_bonus_points  # the sharer's bonus when a friend voucher is redeemed
    if voucher.kind == "friend" and voucher.referral_id is not None and points > 0:
        sharer = session.get(Referral, voucher.referral_id).sharer_id
        postings += [
            Posting(Account("campaign", voucher.campaign_id, "points"), -points),
            Posting(Account("consumer", sharer, "points"), points),
        ]
    return postings
