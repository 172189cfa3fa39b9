"""The demo brand that `codeloop demo` seeds: accounts, stores, a batch, and a fortnight of the loop.

The story (every step through the same use cases the pages call, back-dated): a customer in Shanghai
opens clerk1's promo code, scans a pack and claims its voucher; shares it; a friend in Jiangsu claims
a friend voucher (and one more from the sharer's own network: evidence for a referral-loop alert);
clerk1 redeems both 11 days ago, so the sharer earns a bonus, the entries are past the hold and last
week's statements exist (the store's paid); in Beijing a pack is claimed and redeemed two days ago
(still held); a pack shipped for Shanghai and Beijing is scanned in Guangdong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from codegen.codes import Codec
from codegen.ids import PublicIds
from server.actors import Actor
from server.models import (
    Batch,
    Campaign,
    Consumer,
    LedgerAccount,
    Product,
    Settlement,
    Store,
    User,
    Voucher,
)
from server.services import attribution, claims, consumers, people, redemptions, referrals, settlements
from server.services.accounts import create_user
from server.services.batches import RangeRequest, add_range, create_batch
from server.services.scans import record_scan

DEMO_PASSWORD = "codeloop-demo"
USER_AGENT = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) codeloop-demo"
# public addresses the bundled GeoLite2 data places in these provinces
IP = {
    "上海": "202.96.209.5",
    "上海 (same /24)": "202.96.209.77",
    "江苏": "218.2.2.2",
    "北京": "202.106.0.20",
    "广东": "202.96.128.86",
}
TOUR_SERIALS = {"genuine": 1, "inactive": 920, "blacklisted": 960}  # never touched by the story


@dataclass(frozen=True)
class Keys:
    """What the story's use cases need: the code and id codecs and the claim terms."""

    codec: Codec
    ids: PublicIds
    terms: claims.Terms


def seed(session: Session, *, now: datetime, keys: Keys) -> dict:
    """Create the demo brand and its story once; running it again changes nothing. Returns what to print."""
    if session.execute(select(User).where(User.username == "admin")).scalar() is None:
        _create(session, now, keys)
    return _summary(session)


def _summary(session: Session) -> dict:
    users = session.execute(select(User).order_by(User.id)).scalars().all()
    stores = {s.id: s for s in session.execute(select(Store).order_by(Store.id)).scalars()}
    redeemed = session.execute(
        select(Voucher.code).where(Voucher.kind == "pack", Voucher.status == "redeemed").order_by(Voucher.id)
    ).scalar()
    return {
        "password": DEMO_PASSWORD,
        "admin": next(u.username for u in users if u.role == "admin"),
        "owners": [
            (u.username, [s.name for s in stores.values() if s.owner_id == u.id])
            for u in users
            if u.role == "owner"
        ],
        "clerks": [(u.username, stores[u.store_id].name, u.promo_code) for u in users if u.role == "clerk"],
        "campaign": session.execute(select(Campaign).order_by(Campaign.id)).scalars().first(),
        "batch_id": session.execute(select(Batch.id).order_by(Batch.id)).scalar(),
        "redeemed_voucher": redeemed,
        "statements": session.execute(select(Settlement.id)).scalars().all(),
    }


def _create(session: Session, now: datetime, keys: Keys) -> None:
    campaign, batch = _catalogue(session, now)
    clerks = _people(session, now, keys)
    _story(session, now, keys, campaign, batch, clerks)


def _catalogue(session: Session, now: datetime) -> tuple[Campaign, Batch]:
    product = Product(
        name="山泉水 550ml (demo)",
        gtin="06901234567892",
        url_form="short",
        description="codeloop 演示商品",
        created_at=now,
    )
    campaign = Campaign(
        name="扫码领券 (demo)",
        starts_at=now - timedelta(days=30),
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
    session.add_all([product, campaign])
    session.flush()
    batch = create_batch(
        session, product_id=product.id, campaign_id=campaign.id, quantity=1000, now=now, note="demo batch"
    )
    shipped = RangeRequest(0, 899, "演示经销商", ("上海市", "北京市"))
    add_range(session, batch_id=batch.id, kind="activate", now=now - timedelta(days=20), request=shipped)
    lost = RangeRequest(950, 999, reason="演示：丢失的卷")
    add_range(session, batch_id=batch.id, kind="blacklist", now=now - timedelta(days=20), request=lost)
    return campaign, batch


def _people(session: Session, now: datetime, keys: Keys) -> list[User]:
    """admin; per store an owner and a clerk with a promo code (导购码)."""
    create_user(
        session, username="admin", password=DEMO_PASSWORD, role="admin", now=now, display_name="品牌管理员"
    )
    clerks = []
    for n, (name, province, city, lat, lng) in enumerate(
        [
            ("静安旗舰店", "上海市", "上海市", 31.2286, 121.4476),
            ("朝阳门店", "北京市", "北京市", 39.9219, 116.4436),
        ],
        start=1,
    ):
        create_user(
            session,
            username=f"owner{n}",
            password=DEMO_PASSWORD,
            role="owner",
            now=now,
            display_name=f"{name}店主",
        )
        store = people.create_store(
            session,
            now=now,
            values=dict(
                name=name,
                province=province,
                city=city,
                address=f"{city}演示路 {n} 号",
                lat=lat,
                lng=lng,
                owner=f"owner{n}",
            ),
        )
        clerk = people.create_clerk(
            session,
            now=now,
            promo_for=lambda user_id: attribution.promo_code_for(keys.ids, user_id),
            values=dict(
                username=f"clerk{n}", password=DEMO_PASSWORD, store=store.id, display_name=f"{name}导购"
            ),
        )
        clerks.append(clerk)
    return clerks


def _story(
    session: Session, now: datetime, keys: Keys, campaign: Campaign, batch: Batch, clerks: list[User]
) -> None:
    day = timedelta(days=1)
    sharer = _consumer(session, now - 12 * day)
    voucher = _claim(session, keys, sharer, batch, 100, IP["上海"], now - 12 * day, promo=clerks[0])
    share = referrals.share_for(session, voucher, campaign, now - 12 * day)
    friend = _consumer(session, now - 12 * day)
    gift = _friend(session, keys, share, friend, IP["江苏"], now - 12 * day + timedelta(hours=3))
    loop = _consumer(session, now - 12 * day)  # the sharer again, by another browser on the same network
    _scan(session, keys, loop, batch, 104, IP["上海 (same /24)"], now - 12 * day + timedelta(hours=4))
    _friend(session, keys, share, loop, IP["上海 (same /24)"], now - 12 * day + timedelta(hours=5))
    for v in (voucher, gift):
        _redeem(session, keys, v, clerks[0], 3000, now - 11 * day)
    _scan(session, keys, friend, batch, 103, IP["江苏"], now - 10 * day)  # the friend buys a pack too

    beijing = _consumer(session, now - 2 * day)
    voucher = _claim(session, keys, beijing, batch, 101, IP["北京"], now - 2 * day, promo=clerks[1])
    _redeem(session, keys, voucher, clerks[1], 2500, now - 2 * day + timedelta(hours=1))

    _scan(session, keys, _consumer(session, now - day), batch, 102, IP["广东"], now - day)
    created = settlements.run(session, period_end=now, now=now)
    store_statement = session.execute(
        select(Settlement.id)
        .join(LedgerAccount, LedgerAccount.id == Settlement.account_id)
        .where(Settlement.id.in_(created), LedgerAccount.kind == "store")
    ).scalar()
    if store_statement is not None:
        settlements.mark_paid(
            session, settlement_id=store_statement, reference="DEMO-TRANSFER-0001", actor_id=None, now=now
        )


def _consumer(session: Session, at: datetime) -> Consumer:
    return consumers.create(session, now=at, device_id=consumers.new_device_id())


def _scan(session: Session, keys: Keys, who: Consumer, batch: Batch, serial: int, ip: str, at: datetime):
    code = keys.codec.encode(batch.id, serial)
    record_scan(
        session,
        keys.codec,
        code,
        secret=keys.terms.secret,
        public_id=who.public_id,
        ip=ip,
        user_agent=USER_AGENT,
        now=at,
    )
    return code


def _claim(
    session: Session,
    keys: Keys,
    who: Consumer,
    batch: Batch,
    serial: int,
    ip: str,
    at: datetime,
    promo: User,
) -> Voucher:
    """At the counter: the clerk's promo code, then the pack's scan and claim."""
    attribution.attach(session, keys.ids, promo.promo_code, consumer_id=who.id, now=at - timedelta(minutes=2))
    code = _scan(session, keys, who, batch, serial, ip, at)
    return claims.claim(
        session,
        keys.codec,
        keys.ids,
        code,
        consumer_id=who.id,
        terms=keys.terms,
        now=at + timedelta(minutes=1),
    ).voucher


def _friend(session: Session, keys: Keys, share, friend: Consumer, ip: str, at: datetime) -> Voucher:
    who = referrals.Requester(friend, None, ip)
    return referrals.claim_friend(session, keys.ids, share.token, who, terms=keys.terms, now=at)[0]


def _redeem(session: Session, keys: Keys, voucher: Voucher, clerk: User, purchase_fen: int, at: datetime):
    redemptions.redeem(
        session,
        voucher_input=voucher.code,
        actor=Actor(user_id=clerk.id, role="clerk", store_id=clerk.store_id),
        purchase_fen=purchase_fen,
        now=at,
        hold_days=keys.terms.hold_days,
        secret=keys.terms.secret,
        tz=str(keys.terms.tz),
    )
