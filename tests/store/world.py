"""A small store world for the store tests: campaign, two stores, clerks, an owner, an admin, tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select

from server.models import (
    IdempotencyKey,
    LedgerEntry,
    LedgerTransaction,
    Redemption,
    Settlement,
    SettlementItem,
    Voucher,
    utcnow,
)
from server.services.accounts import create_token, create_user
from tests.factories import make_campaign, make_consumer, make_store, make_voucher

PASSWORD = "correct-horse"


@dataclass
class World:
    campaign_id: int
    stores: list[int]
    clerks: list[int]  # clerk i works at stores[i]
    owner: int
    admin: int
    tokens: dict[str, str] = field(default_factory=dict)  # "clerk0", "clerk1", "owner", "admin"
    vouchers: list[str] = field(default_factory=list)

    def auth(self, who: str, key: str | None = None) -> dict:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        if key:
            headers["Idempotency-Key"] = key
        return headers


def build(sessions, *, vouchers: int = 3, **campaign) -> World:
    now = utcnow()
    with sessions.begin() as s:
        values = dict(store_fee_fen=100, clerk_redeem_reward_fen=50, voucher_min_spend_fen=0)
        values.update(campaign)
        camp = make_campaign(s, **values)
        stores = [make_store(s, name="一号店"), make_store(s, name="二号店")]
        clerks = [
            create_user(
                s,
                username=f"clerk{i}",
                password=PASSWORD,
                role="clerk",
                now=now,
                store_id=st.id,
                display_name=f"导购{i}",
            )
            for i, st in enumerate(stores)
        ]
        owner = create_user(s, username="owner0", password=PASSWORD, role="owner", now=now)
        stores[0].owner_id = owner.id
        admin = create_user(s, username="admin0", password=PASSWORD, role="admin", now=now)
        world = World(camp.id, [st.id for st in stores], [c.id for c in clerks], owner.id, admin.id)
        for i, c in enumerate(clerks):
            world.tokens[f"clerk{i}"] = create_token(s, user=c, now=now)[0]
        world.tokens["owner"] = create_token(s, user=owner, now=now)[0]
        world.tokens["admin"] = create_token(s, user=admin, now=now)[0]
        for i in range(vouchers):  # claimed with the promo code of clerk i % 2, who earns their rewards
            world.vouchers.append(add_voucher(s, camp, clerk_id=world.clerks[i % len(clerks)]))
    return world


def add_voucher(s, campaign, **overrides) -> str:
    voucher = make_voucher(s, campaign=campaign, consumer=make_consumer(s))
    voucher.min_spend_fen = overrides.get("min_spend_fen", campaign.voucher_min_spend_fen)
    voucher.clerk_id = overrides.get("clerk_id")  # the attributed clerk (None: no promo code was scanned)
    if "expires_at" in overrides:
        voucher.issued_at = overrides["expires_at"] - timedelta(days=30)
        voucher.expires_at = overrides["expires_at"]
    campaign.issued_count += 1
    campaign.spent_fen += voucher.value_fen
    s.flush()
    return voucher.code


def counts(sessions) -> dict:
    """Row counts that a refused request must leave unchanged."""
    with sessions() as s:
        return {
            "redemptions": s.scalar(select(func.count()).select_from(Redemption)),
            "live": s.scalar(
                select(func.count()).select_from(Redemption).where(Redemption.reversed_at.is_(None))
            ),
            "redeemed": s.scalar(
                select(func.count()).select_from(Voucher).where(Voucher.status == "redeemed")
            ),
            "transactions": s.scalar(select(func.count()).select_from(LedgerTransaction)),
            "entries": s.scalar(select(func.count()).select_from(LedgerEntry)),
            "settlements": s.scalar(select(func.count()).select_from(Settlement)),
            "items": s.scalar(select(func.count()).select_from(SettlementItem)),
        }


def idempotency_rows(sessions) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(IdempotencyKey))
