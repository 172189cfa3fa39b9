"""A small, fully known brand for the report tests: every scan, claim, share, redemption and alert placed on a
known local day and hour, so every KPI, funnel step, series point and ranking can be computed by hand.

Local time is Asia/Shanghai. The period under test is Monday 2026-05-04 and Tuesday 2026-05-05; Sunday
2026-05-03 is in the previous period. What happens (b1 = batch 1 of campaign A, b2 = batch 2 of campaign B):

  05-03 10:00  scan b1/4 in 上海 by c1                                     (previous period)
  05-04 10:15  scan b1/1 in 上海 by c1 via clerk K1;  10:20 again;  10:21 c1 claims V1 (K1 +0.50)
  05-04 11:00  scan b1/2 in 南京 (江苏省: outside 华东's 上海市, diverted) by c2;  11:02 c2 claims V2
  05-04 12:00  scan b1/3 in 上海 by c3  (code named by a geo-velocity alert)
  05-04 13:00  scan b1/720 (blacklisted) by c3
  05-05 09:00  scan b1/3 in 北京 (diverted; alert-tied) by c4
  05-05 14:05  K1 redeems V1 at S1 (S1 +5.30, K1 +1.00)
  05-05 15:30  scan b1/510 in 广州 (华南, 广东省: not diverted) by c5 via K2;  15:31 c5 claims V3 (K2 +0.50)
  05-05 15:40  c5 shares V3;  16:00 c6 claims friend voucher V4 (2.00)
  05-05 17:00  K2 redeems V4 at S2 (S2 +2.30, K2 +1.00, c5 +100 points)
  05-05 20:00  scan b2/5, not placed, by c7;  20:01 c7 claims V5 (3.00, campaign B: no rewards)
  05-05 21:00  an admin redeems V5 for S1 (S1 +3.00)
  alerts: geo_velocity on b1/3 (open, 05-05 09:05), diversion charged to 华东 (open, 05-05 09:10)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from server.models import Alert, AlertCode, Attribution, Code, Consumer, Scan, Voucher
from server.services import batches, catalog, claims, people, redemptions, referrals
from server.services.accounts import create_user
from server.services.rollups import rebuild

TZ = ZoneInfo("Asia/Shanghai")
D0, D1, D2 = date(2026, 5, 3), date(2026, 5, 4), date(2026, 5, 5)
PASSWORD = "world-password"
CAMPAIGN_A_NAME = "<script>alert(1)</script>"
CLERK_NAME = '=HYPERLINK("http://x")'


def at(day: date, hhmm: str) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


@dataclass
class World:
    ids: dict = field(default_factory=dict)  # name -> id: campaigns, batches, products, stores, clerks, codes
    vouchers: dict = field(default_factory=dict)  # V1.. -> voucher code


def build(app) -> World:
    """The brand above, through the real services where there is one, and its rollups rebuilt."""
    rt = app.extensions["codeloop"]
    w = World()
    with rt.sessions() as s:
        _catalogue(s, w)
        _people(s, w)
        s.commit()
        _journey(s, rt, w)
        s.commit()
    rebuild(rt.sessions, start=D0 - timedelta(days=1), end=D2 + timedelta(days=1), tz=TZ)
    return w


def _catalogue(s, w: World) -> None:
    start, end = datetime(2026, 4, 1, tzinfo=TZ), datetime(2026, 7, 1, tzinfo=TZ)
    now = at(D0, "08:00")
    a = catalog.create_campaign(
        s,
        name=CAMPAIGN_A_NAME,
        starts_at=start,
        ends_at=end,
        now=now,
        voucher_value_fen=500,
        cap=1000,
        budget_fen=1_000_000,
        clerk_claim_reward_fen=50,
        clerk_redeem_reward_fen=100,
        store_fee_fen=30,
        referral_friend_value_fen=200,
        referral_limit_per_share=3,
        referral_bonus_points=100,
    )
    b = catalog.create_campaign(
        s,
        name="Campaign B",
        starts_at=start,
        ends_at=end,
        now=now,
        voucher_value_fen=300,
        cap=1000,
        budget_fen=1_000_000,
    )
    p1 = catalog.create_product(s, name="山泉水 550ml", now=now)
    p2 = catalog.create_product(s, name="绿茶 500ml", now=now)
    b1 = batches.create_batch(s, product_id=p1.id, campaign_id=a.id, quantity=1000, now=now)
    b2 = batches.create_batch(s, product_id=p2.id, campaign_id=b.id, quantity=200, now=now)
    for batch, kind, first, last, distributor, regions, reason in [
        (b1, "activate", 0, 499, "华东", ("上海市",), None),
        (b1, "activate", 500, 799, "华南", ("广东省",), None),
        (b1, "blacklist", 700, 749, None, (), "lost roll"),
        (b2, "activate", 0, 199, "华北", (), None),
    ]:
        batches.add_range(
            s,
            batch_id=batch.id,
            kind=kind,
            now=now,
            request=batches.RangeRequest(first, last, distributor, regions, reason),
        )
    w.ids.update(A=a.id, B=b.id, P1=p1.id, P2=p2.id, b1=b1.id, b2=b2.id)


def _people(s, w: World) -> None:
    now = at(D0, "08:00")
    s1 = people.create_store(s, values={"name": "静安店", "province": "上海市", "city": "上海市"}, now=now)
    s2 = people.create_store(
        s, values={"name": '=HYPERLINK("http://x")', "province": "广东省", "city": "广州市"}, now=now
    )
    k1 = create_user(
        s,
        username="clerk.k1",
        password=PASSWORD,
        role="clerk",
        now=now,
        store_id=s1.id,
        display_name=CLERK_NAME,
    )
    k2 = create_user(
        s, username="clerk.k2", password=PASSWORD, role="clerk", now=now, store_id=s2.id, display_name="小李"
    )
    admin = create_user(s, username="boss", password=PASSWORD, role="admin", now=now, display_name="Boss")
    consumers = {f"c{i}": Consumer(public_id=f"world-c{i}") for i in range(1, 8)}
    s.add_all(consumers.values())
    s.flush()
    w.ids.update(S1=s1.id, S2=s2.id, K1=k1.id, K2=k2.id, admin=admin.id)
    w.ids.update({name: c.id for name, c in consumers.items()})


SCANS = [  # (day, time, batch, serial, consumer, clerk, province, city, outcome)
    (D0, "10:00", "b1", 4, "c1", None, "上海市", "上海市", "ok"),
    (D1, "10:15", "b1", 1, "c1", "K1", "上海市", "上海市", "ok"),
    (D1, "10:20", "b1", 1, "c1", "K1", "上海市", "上海市", "ok"),
    (D1, "11:00", "b1", 2, "c2", None, "江苏省", "南京市", "ok"),
    (D1, "12:00", "b1", 3, "c3", None, "上海市", "上海市", "ok"),
    (D1, "13:00", "b1", 720, "c3", None, "上海市", "上海市", "blacklisted"),
    (D2, "09:00", "b1", 3, "c4", None, "北京市", "北京市", "ok"),
    (D2, "15:30", "b1", 510, "c5", "K2", "广东省", "广州市", "ok"),
    (D2, "20:00", "b2", 5, "c7", None, None, None, "ok"),
]


def _scan(s, w: World, day, hhmm, batch, serial, consumer, clerk, province, city, outcome) -> None:
    moment = at(day, hhmm)
    code_id = None
    if outcome == "ok":
        code = s.execute(select(Code).filter_by(batch_id=w.ids[batch], serial=serial, kind=0)).scalar()
        if code is None:
            code = Code(
                batch_id=w.ids[batch],
                serial=serial,
                kind=0,
                scan_count=1,
                first_scan_at=moment,
                last_scan_at=moment,
                first_city=city,
            )
            s.add(code)
            s.flush()
        else:
            code.scan_count += 1
            code.last_scan_at = moment
        code_id = code.id
        w.ids[f"{batch}/{serial}"] = code.id
    s.add(
        Scan(
            code_id=code_id,
            batch_id=w.ids[batch],
            serial=serial,
            raw_code="x",
            outcome=outcome,
            scanned_at=moment,
            consumer_id=w.ids[consumer],
            clerk_id=w.ids[clerk] if clerk else None,
            geo_status="done" if province else "unknown",
            country="中国" if province else None,
            province=province,
            city=city,
            accuracy_km=20 if province else None,
            local_hour=moment.hour,
            weekday=moment.isoweekday(),
        )
    )
    if clerk:
        s.add(
            Attribution(
                consumer_id=w.ids[consumer],
                clerk_id=w.ids[clerk],
                started_at=moment,
                expires_at=moment + timedelta(minutes=30),
            )
        )
    s.flush()


def _journey(s, rt, w: World) -> None:
    terms = claims.Terms(secret=rt.secret, tz=TZ, hold_days=7)
    for row in SCANS:
        _scan(s, w, *row)

    def claim(name, batch, serial, consumer, day, hhmm):
        text = rt.codec.encode(w.ids[batch], serial)
        made = claims.claim(
            s, rt.codec, rt.ids, text, consumer_id=w.ids[consumer], terms=terms, now=at(day, hhmm)
        )
        w.vouchers[name] = made.voucher.code

    def redeem(name, who, store, day, hhmm):
        actor = redemptions.Actor(
            w.ids[who], "admin" if who == "admin" else "clerk", None if who == "admin" else w.ids[store]
        )
        redemptions.redeem(
            s,
            voucher_input=w.vouchers[name],
            actor=actor,
            now=at(day, hhmm),
            hold_days=7,
            secret=rt.secret,
            tz="Asia/Shanghai",
            store_id=w.ids[store],
        )

    claim("V1", "b1", 1, "c1", D1, "10:21")
    claim("V2", "b1", 2, "c2", D1, "11:02")
    redeem("V1", "K1", "S1", D2, "14:05")
    claim("V3", "b1", 510, "c5", D2, "15:31")
    v3 = s.execute(select(Voucher).where(Voucher.code == w.vouchers["V3"])).scalar_one()
    share = referrals.share_for(s, v3, catalog.get_campaign(s, w.ids["A"]), at(D2, "15:40"))
    friend = referrals.Requester(s.get(Consumer, w.ids["c6"]), None, None)
    v4, _ = referrals.claim_friend(s, rt.ids, share.token, friend, terms=terms, now=at(D2, "16:00"))
    w.vouchers["V4"] = v4.code
    redeem("V4", "K2", "S2", D2, "17:00")
    claim("V5", "b2", 5, "c7", D2, "20:01")
    redeem("V5", "admin", "S1", D2, "21:00")
    geo = Alert(
        kind="geo_velocity",
        severity="critical",
        dedupe_key="world:gv",
        batch_id=w.ids["b1"],
        code_id=w.ids["b1/3"],
        created_at=at(D2, "09:05"),
        details={"summary": "上海 → 北京 in 21 h", "distance_km": 1068},
    )
    diversion = Alert(
        kind="diversion",
        dedupe_key="world:div",
        batch_id=w.ids["b1"],
        distributor="华东",
        created_at=at(D2, "09:10"),
        details={"summary": "2 scans outside 上海市"},
    )
    s.add_all([geo, diversion])
    s.flush()
    s.add(AlertCode(alert_id=geo.id, code_id=w.ids["b1/3"]))
    w.ids.update(geo_alert=geo.id, diversion_alert=diversion.id)
