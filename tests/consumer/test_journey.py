"""The whole journey, placed and timed: a scan's place, coordinates, range and days since activation; the
claim's seconds since the pack's scan; the redemption's seconds since the claim and the store's place."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from server.models import BatchRange, Redemption, Scan, Store, User, Voucher, utcnow
from server.services.claims import Terms, claim
from server.services.consumers import network_hash
from server.services.redemptions import Actor, redeem
from server.services.scans import record_scan
from tests.conftest import SECRET
from tests.consumer.conftest import build_world
from tests.factories import make_consumer
from workers.geo import enrich_scans

SHANGHAI = "101.226.4.6"


def _scan(world, serial, public_id, now, ip=SHANGHAI):
    runtime = world.app.extensions["codeloop"]
    with world.session() as s:
        result = record_scan(s, runtime.codec, world.code(serial), secret=SECRET, public_id=public_id, ip=ip,
                             user_agent="test", now=now)  # fmt: skip
        s.commit()
        return result.scan_id


def _claim(world, serial, consumer_id, now):
    runtime = world.app.extensions["codeloop"]
    terms = Terms(runtime.secret, ZoneInfo("Asia/Shanghai"), 7)
    with world.session() as s:
        voucher = claim(
            s, runtime.codec, runtime.ids, world.code(serial), consumer_id=consumer_id, terms=terms, now=now
        ).voucher
        s.commit()
        return voucher.id, voucher.code


def test_scan_claim_and_redemption_are_placed_and_timed(app):
    world = build_world(app)
    t0 = utcnow() - timedelta(hours=3)
    with world.session() as s:
        s.execute(update(BatchRange).values(created_at=t0 - timedelta(days=12, hours=1)))
        me, other = make_consumer(s), make_consumer(s)
        store = Store(name="南京西路店", province="上海市", city="上海市")
        s.add(store)
        s.flush()
        clerk = User(username="c1", password_hash="x", role="clerk", store_id=store.id)
        s.add(clerk)
        s.commit()
        ids = dict(
            me=(me.id, me.public_id), other=(other.id, other.public_id), store=store.id, clerk=clerk.id
        )
    _scan(world, 1, ids["other"][1], t0)  # somebody else scanned the pack first
    scan_id = _scan(world, 1, ids["me"][1], t0 + timedelta(minutes=10))
    voucher_id, code = _claim(world, 1, ids["me"][0], t0 + timedelta(minutes=10, seconds=95))
    with world.session() as s:
        redeem(s, voucher_input=code, actor=Actor(ids["clerk"], "clerk", store_id=ids["store"]),
               now=t0 + timedelta(hours=2, minutes=10, seconds=95), hold_days=7, secret=world.app.extensions[
                   "codeloop"].secret, tz="Asia/Shanghai")  # fmt: skip
        s.commit()
    assert enrich_scans() == 2
    with world.session() as s:
        scan = s.get(Scan, scan_id)
        assert (scan.country_code, scan.country, scan.province, scan.city) == (
            "CN",
            "中国",
            "上海市",
            "上海市",
        )
        assert scan.lat is not None and scan.lng is not None and scan.accuracy_km is not None
        assert abs(scan.lat - 31.2) < 1 and abs(scan.lng - 121.4) < 1
        assert scan.days_since_activation == 12 and scan.range_id is not None
        assert scan.net_hash == network_hash(SECRET, "101.226.4.99")  # the same /24
        assert s.get(Voucher, voucher_id).scan_to_claim_s == 95  # since MY scan, not the first one
        redemption = s.execute(select(Redemption)).scalar_one()
        assert (redemption.claim_to_redeem_s, redemption.province, redemption.city) == (
            7200,
            "上海市",
            "上海市",
        )


def test_a_claim_without_the_consumers_scan_counts_from_the_packs_first_scan(app):
    world = build_world(app)
    t0 = utcnow() - timedelta(hours=1)
    with world.session() as s:
        first, claimer = make_consumer(s), make_consumer(s)
        s.commit()
        first_public, claimer_id = first.public_id, claimer.id
    _scan(world, 2, first_public, t0)
    voucher_id, _ = _claim(world, 2, claimer_id, t0 + timedelta(seconds=42))
    with world.session() as s:
        assert s.get(Voucher, voucher_id).scan_to_claim_s == 42


def test_a_scan_outside_any_activated_range_has_no_range(app):
    world = build_world(app, activate=False)
    _scan(world, 3, None, utcnow())
    enrich_scans()
    with world.session() as s:
        scan = s.execute(select(Scan)).scalar_one()
        assert (scan.outcome, scan.range_id, scan.days_since_activation) == ("inactive", None, None)
        assert scan.province == "上海市"
