"""Products and campaigns: what the brand sets up before printing codes."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from codegen.gs1 import GtinInvalid, normalize_gtin
from server.db import add_unique
from server.errors import DomainError, validation
from server.formats import is_id
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
CAMPAIGN_EDITABLE = ("name", "starts_at", "ends_at", "rotating_token", *CAMPAIGN_INTS)
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
    _check_campaign(name, starts_at, ends_at, amounts, creating=True)
    campaign = Campaign(
        name=name.strip(),
        starts_at=starts_at,
        ends_at=ends_at,
        rotating_token=bool(rotating_token),
        created_at=now,
        **{"voucher_valid_days": 30, "per_consumer_daily_limit": 3, **amounts},
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


def _check_campaign(
    name: str, starts_at: datetime, ends_at: datetime, amounts: dict, *, creating: bool = False
) -> None:
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
        if (creating or field in amounts) and amounts.get(field, 0) <= 0:
            raise validation(f"{field} must be positive", zh=f"{field} 须大于 0", field=field)
    for field in ("voucher_valid_days", "per_consumer_daily_limit"):
        if field in amounts and amounts[field] < 1:
            raise validation(f"{field} must be at least 1", zh=f"{field} 至少为 1", field=field)
    if not (starts_at.tzinfo and ends_at.tzinfo) or ends_at <= starts_at:
        raise validation(
            "ends_at must be after starts_at (both with a time zone)",
            zh="结束时间须晚于开始时间（均须带时区）",
            field="ends_at",
        )
    if not 1 <= len((name or "").strip()) <= 200:
        raise validation("campaign name must be 1-200 characters", zh="活动名称须为 1-200 个字", field="name")


def list_products(session: Session) -> list[Product]:
    return list(session.execute(select(Product).order_by(Product.id)).scalars())


def list_campaigns(session: Session) -> list[Campaign]:
    return list(session.execute(select(Campaign).order_by(Campaign.id)).scalars())


def new_campaign_defaults(now: datetime) -> dict:
    """What the console's blank campaign form starts from."""
    return {
        **dict.fromkeys(CAMPAIGN_INTS, 0),
        "name": "",
        "starts_at": now,
        "ends_at": now + timedelta(days=30),
        "rotating_token": False,
        "voucher_value_fen": 500,
        "voucher_valid_days": 30,
        "cap": 10_000,
        "budget_fen": 5_000_000,
        "per_consumer_daily_limit": 3,
        "attribution_minutes": 30,
    }


def campaign_status(campaign: Campaign, now: datetime) -> str:
    """paused, ended, scheduled, exhausted or active: what the console's badge says."""
    if campaign.paused_at is not None:
        return "paused"
    if campaign.ends_at <= now:
        return "ended"
    if campaign.starts_at > now:
        return "scheduled"
    if (
        campaign.issued_count >= campaign.cap
        or campaign.spent_fen + campaign.voucher_value_fen > campaign.budget_fen
    ):
        return "exhausted"
    return "active"


def get_campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id) if is_id(campaign_id) else None
    if campaign is None:
        raise DomainError("NOT_FOUND", what="campaign", id=campaign_id)
    return campaign


def get_product(session: Session, product_id: int) -> Product:
    product = session.get(Product, product_id) if is_id(product_id) else None
    if product is None:
        raise DomainError("NOT_FOUND", what="product", id=product_id)
    return product


def update_campaign(
    session: Session, *, campaign_id: int, changes: dict, now: datetime, actor_id: int | None = None
) -> Campaign:
    """Change a campaign's name, window, token rule or amounts. The cap and budget never drop below what is
    already issued and spent: one conditional UPDATE, so a claim racing the edit cannot slip past it."""
    campaign = get_campaign(session, campaign_id)
    unknown = set(changes) - set(CAMPAIGN_EDITABLE)
    if unknown:
        raise validation(
            f"unknown fields: {', '.join(sorted(unknown))}", zh=f"未知字段：{', '.join(sorted(unknown))}"
        )
    merged = {field: changes.get(field, getattr(campaign, field)) for field in CAMPAIGN_EDITABLE}
    amounts = {k: changes[k] for k in CAMPAIGN_INTS if k in changes}
    _check_campaign(merged["name"], merged["starts_at"], merged["ends_at"], amounts)
    merged["name"] = merged["name"].strip()
    merged["rotating_token"] = bool(merged["rotating_token"])
    before = {k: getattr(campaign, k) for k in CAMPAIGN_EDITABLE}
    diff = {k: v for k, v in merged.items() if v != before[k]}
    if not diff:
        return campaign
    done = session.execute(
        update(Campaign)
        .where(
            Campaign.id == campaign_id,
            Campaign.issued_count <= merged["cap"],
            Campaign.spent_fen <= merged["budget_fen"],
        )
        .values(**diff)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not done:
        raise validation(
            f"the cap and budget cannot go below what is already issued ({campaign.issued_count} vouchers, "
            f"{campaign.spent_fen} fen)",
            zh=f"上限和预算不能低于已发放量（{campaign.issued_count} 张，{campaign.spent_fen} 分）",
            field="cap",
        )
    _audit(session, now, actor_id, "campaign.update", campaign_id, before, diff)
    session.refresh(campaign)
    return campaign


def set_paused(
    session: Session, *, campaign_id: int, paused: bool, now: datetime, actor_id: int | None = None
) -> Campaign:
    """Pause (claims get CAMPAIGN_NOT_ACTIVE) or resume a campaign; doing it twice changes nothing."""
    campaign = get_campaign(session, campaign_id)
    changed = session.execute(
        update(Campaign)
        .where(
            Campaign.id == campaign_id,
            Campaign.paused_at.is_(None) if paused else Campaign.paused_at.isnot(None),
        )
        .values(paused_at=now if paused else None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed:
        action = "campaign.pause" if paused else "campaign.resume"
        _audit(session, now, actor_id, action, campaign_id, {"paused_at": campaign.paused_at}, {})
    session.refresh(campaign)
    return campaign


def end_campaign(
    session: Session, *, campaign_id: int, now: datetime, actor_id: int | None = None
) -> Campaign:
    """End a campaign now: its window closes (a campaign that had not started gets an empty window)."""
    campaign = get_campaign(session, campaign_id)
    if campaign.ends_at <= now:
        return campaign
    before = {"starts_at": campaign.starts_at, "ends_at": campaign.ends_at}
    after = {"ends_at": now, "starts_at": min(campaign.starts_at, now - timedelta(seconds=1))}
    session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id)
        .values(**after)
        .execution_options(synchronize_session=False)
    )
    _audit(session, now, actor_id, "campaign.end", campaign_id, before, after)
    session.refresh(campaign)
    return campaign


def update_product(
    session: Session,
    *,
    product_id: int,
    name: str,
    description: str,
    now: datetime,
    actor_id: int | None = None,
) -> Product:
    """Rename or re-describe a product (its GTIN and URL form are printed on packs: they stay)."""
    product = get_product(session, product_id)
    name = (name or "").strip()
    if not 1 <= len(name) <= 200:
        raise validation("product name must be 1-200 characters", zh="商品名称须为 1-200 个字", field="name")
    before = {"name": product.name, "description": product.description}
    product.name, product.description = name, (description or "")[:2000]
    after = {
        k: v for k, v in {"name": product.name, "description": product.description}.items() if v != before[k]
    }
    if after:
        session.add(
            AuditLog(
                at=now,
                actor_id=actor_id,
                action="product.update",
                object_type="product",
                object_id=product_id,
                details={"before": {k: before[k] for k in after}, "after": after},
            )
        )
    session.flush()
    return product


def _audit(session: Session, now, actor_id, action: str, campaign_id: int, before: dict, after: dict) -> None:
    session.add(
        AuditLog(
            at=now,
            actor_id=actor_id,
            action=action,
            object_type="campaign",
            object_id=campaign_id,
            details={
                "before": {k: _plain(before[k]) for k in (after or before)},
                "after": {k: _plain(v) for k, v in after.items()},
            },
        )
    )
    session.flush()


def _plain(value):
    return value.isoformat() if isinstance(value, datetime) else value
