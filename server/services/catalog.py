"""Products and campaigns: what the brand sets up before printing codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from codegen.gs1 import GtinInvalid, normalize_gtin
from server.db import add_unique
from server.errors import validation
from server.models import AuditLog, Campaign, Product

CAMPAIGN_INTS = (
    "voucher_value_fen",
    "voucher_min_spend_fen",
    "voucher_valid_days",
    "cap",
    "budget_fen",
    "per_consumer_daily_limit",
    "referral_bonus_points",
    "referral_friend_value_fen",
    "referral_limit_per_share",
    "clerk_claim_reward_fen",
    "clerk_redeem_reward_fen",
    "store_fee_fen",
    "attribution_minutes",
)
MAX_FEN = 10**12  # ten billion yuan: beyond any campaign, inside BIGINT with room for sums


def create_product(
    session: Session,
    *,
    name: str,
    gtin: str | None = None,
    url_form: str = "short",
    description: str = "",
    actor_id: int | None = None,
    now: datetime,
) -> Product:
    """A product; a GTIN (validated, stored as GTIN-14) allows the GS1 Digital Link URL form."""
    name = (name or "").strip()
    if not 1 <= len(name) <= 200:
        raise validation("product name must be 1-200 characters", zh="商品名称须为 1-200 个字", field="name")
    if url_form not in ("short", "gs1"):
        raise validation("url_form must be short or gs1", zh="网址形式须为 short 或 gs1", field="url_form")
    try:
        gtin14 = normalize_gtin(gtin) if gtin else None
    except GtinInvalid as exc:
        raise validation(f"bad GTIN: {exc}", zh=f"GTIN 无效：{exc}", field="gtin") from None
    if url_form == "gs1" and gtin14 is None:
        raise validation(
            "the GS1 Digital Link form needs a GTIN", zh="GS1 数字链接网址需要 GTIN", field="gtin"
        )
    product = Product(
        name=name, gtin=gtin14, url_form=url_form, description=description[:2000], created_at=now
    )
    if not add_unique(session, product):
        raise validation(
            f"GTIN {gtin14} belongs to another product", zh=f"GTIN {gtin14} 已属于另一个商品", field="gtin"
        )
    session.add(
        AuditLog(
            at=now,
            actor_id=actor_id,
            action="product.create",
            object_type="product",
            object_id=product.id,
            details={"name": name, "gtin": gtin14},
        )
    )
    return product


def create_campaign(
    session: Session,
    *,
    name: str,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
    actor_id: int | None = None,
    rotating_token: bool = False,
    **amounts: int,
) -> Campaign:
    """A campaign with its reward rules; every amount is a non-negative integer (fen or points)."""
    unknown = set(amounts) - set(CAMPAIGN_INTS)
    if unknown:
        raise validation(
            f"unknown fields: {', '.join(sorted(unknown))}", zh=f"未知字段：{', '.join(sorted(unknown))}"
        )
    for field, value in amounts.items():
        if type(value) is not int or not 0 <= value <= MAX_FEN:
            raise validation(
                f"{field} must be a whole number from 0 to {MAX_FEN}",
                zh=f"{field} 须为 0 到 {MAX_FEN} 之间的整数",
                field=field,
            )
    for field in ("voucher_value_fen", "cap", "budget_fen"):
        if amounts.get(field, 0) <= 0:
            raise validation(f"{field} must be positive", zh=f"{field} 须大于 0", field=field)
    if not (starts_at.tzinfo and ends_at.tzinfo) or ends_at <= starts_at:
        raise validation(
            "ends_at must be after starts_at (both with a time zone)",
            zh="结束时间须晚于开始时间（均须带时区）",
            field="ends_at",
        )
    if not 1 <= len((name or "").strip()) <= 200:
        raise validation("campaign name must be 1-200 characters", zh="活动名称须为 1-200 个字", field="name")
    campaign = Campaign(
        name=name.strip(),
        starts_at=starts_at,
        ends_at=ends_at,
        rotating_token=bool(rotating_token),
        created_at=now,
        **{"voucher_valid_days": 30, "per_consumer_daily_limit": 3, **amounts},
    )
    if campaign.voucher_valid_days < 1 or campaign.per_consumer_daily_limit < 1:
        raise validation(
            "voucher_valid_days and per_consumer_daily_limit must be at least 1",
            zh="券有效天数和每人每日限领数至少为 1",
        )
    session.add(campaign)
    session.flush()
    session.add(
        AuditLog(
            at=now,
            actor_id=actor_id,
            action="campaign.create",
            object_type="campaign",
            object_id=campaign.id,
            details={"name": campaign.name},
        )
    )
    return campaign


def list_products(session: Session) -> list[Product]:
    return list(session.execute(select(Product).order_by(Product.id)).scalars())


def list_campaigns(session: Session) -> list[Campaign]:
    return list(session.execute(select(Campaign).order_by(Campaign.id)).scalars())
