"""The demo brand that `codeloop demo` seeds: enough to walk the whole loop by hand."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Batch, Campaign, Product, Store, User
from server.services.accounts import create_user
from server.services.batches import RangeRequest, add_range, create_batch

DEMO_PASSWORD = "codeloop-demo"


def seed(session: Session, *, now: datetime) -> dict:
    """Create the demo brand once; running it again changes nothing. Returns what to print."""
    if session.execute(select(User).where(User.username == "admin")).scalar() is None:
        _create(session, now)
    batch = session.execute(select(Batch).order_by(Batch.id)).scalars().first()
    stores = session.execute(select(Store).order_by(Store.id)).scalars().all()
    return {
        "password": DEMO_PASSWORD,
        "admin": "admin",
        "owners": [
            u.username
            for u in session.execute(select(User).where(User.role == "owner").order_by(User.id)).scalars()
        ],
        "clerks": [
            u.username
            for u in session.execute(select(User).where(User.role == "clerk").order_by(User.id)).scalars()
        ],
        "stores": [s.name for s in stores],
        "campaign_id": session.execute(select(Campaign.id).order_by(Campaign.id)).scalar(),
        "product_id": session.execute(select(Product.id).order_by(Product.id)).scalar(),
        "batch_id": batch.id,
    }


def _create(session: Session, now: datetime) -> None:
    session.add(
        Product(
            name="山泉水 550ml (demo)",
            gtin="06901234567892",
            url_form="short",
            description="codeloop 演示商品",
            created_at=now,
        )
    )
    session.add(
        Campaign(
            name="扫码领券 (demo)",
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=90),
            voucher_value_fen=500,
            voucher_min_spend_fen=2000,
            voucher_valid_days=30,
            cap=10_000,
            budget_fen=5_000_000,
            per_consumer_daily_limit=3,
            referral_bonus_points=100,
            referral_friend_value_fen=300,
            referral_limit_per_share=3,
            clerk_claim_reward_fen=100,
            clerk_redeem_reward_fen=200,
            store_fee_fen=50,
            created_at=now,
        )
    )
    create_user(
        session, username="admin", password=DEMO_PASSWORD, role="admin", now=now, display_name="品牌管理员"
    )
    for n, (name, province, city, lat, lng) in enumerate(
        [
            ("静安旗舰店", "上海市", "上海市", 31.2286, 121.4476),
            ("朝阳门店", "北京市", "北京市", 39.9219, 116.4436),
        ],
        start=1,
    ):
        owner = create_user(
            session,
            username=f"owner{n}",
            password=DEMO_PASSWORD,
            role="owner",
            now=now,
            display_name=f"{name}店主",
        )
        store = Store(
            name=name,
            province=province,
            city=city,
            address=f"{city}演示路 {n} 号",
            lat=lat,
            lng=lng,
            owner_id=owner.id,
            created_at=now,
        )
        session.add(store)
        session.flush()
        create_user(
            session,
            username=f"clerk{n}",
            password=DEMO_PASSWORD,
            role="clerk",
            store_id=store.id,
            now=now,
            display_name=f"{name}导购",
        )
    product = session.execute(select(Product)).scalar()
    campaign = session.execute(select(Campaign)).scalar()
    batch = create_batch(
        session, product_id=product.id, campaign_id=campaign.id, quantity=1000, now=now, note="demo batch"
    )
    add_range(
        session,
        batch_id=batch.id,
        kind="activate",
        now=now,
        request=RangeRequest(0, 899, "演示经销商", ("上海市", "北京市")),
    )
    add_range(
        session,
        batch_id=batch.id,
        kind="blacklist",
        now=now,
        request=RangeRequest(950, 999, reason="演示：丢失的卷"),
    )
