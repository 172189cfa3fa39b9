"""The numbers agree: every KPI, funnel step, series point and ranking of tests/console/world.py's brand, read
from the reports (over the rollups), against values computed by hand from its story."""

from __future__ import annotations

from datetime import datetime

import pytest

from server.services import ledger, reports, settlements
from server.services.reports import Context, Filters
from tests.console.world import D1, D2, TZ, at, build

PERIOD = Filters(start=D1, end=D2)


@pytest.fixture
def world(app):
    return build(app)


@pytest.fixture
def read(app):
    rt = app.extensions["codeloop"]

    def read(name, f=PERIOD, now=None, **options):
        with rt.sessions() as s:
            return reports.run(s, name, f, Context(TZ, now or datetime(2026, 6, 1, tzinfo=TZ)), **options)

    return read


def test_kpis_against_the_previous_period(world, read):
    body = read("summary")
    now = body["current"]
    assert (body["printed"], body["activated"]) == (1200, 950)
    expected = dict(
        scans=7,
        scans_blocked=1,
        first_scans=5,
        new_consumers=5,
        claims=4,
        friend_vouchers=1,
        shares=1,
        redemptions=3,
        friend_redemptions=1,
        redeemed_value_fen=1000,
        payouts_fen=1060,
        rewards_fen=200,  # K1 50 + 100 on V1, K2 50 on V3; V4 was claimed without a promo code
        points=100,
        diverted_scans=2,
        alert_scans=2,
        accrued_fen=1260,
        real_scans=5,
        alerts=2,
    )
    assert {k: now[k] for k in expected} == expected
    assert now["real_scan_rate"] == round(5 / 1200, 6)
    before = body["previous"]
    assert (before["scans"], before["first_scans"], before["new_consumers"], before["claims"]) == (1, 1, 1, 0)
    assert body["previous_period"] == {"from": "2026-05-02", "to": "2026-05-03"}
    cards = {c["name"]: c for c in body["cards"]}
    assert cards["scans"] == {"name": "scans", "value": 7, "previous": 1, "change": 6.0}
    assert cards["first_scans"]["change"] == 4.0 and cards["claims"]["change"] is None
    assert cards["real_scan_rate"]["value"] == round(5 / 1200, 6)


def test_filters_narrow_every_figure(world, read):
    by_batch = read("summary", Filters(D1, D2, batch_id=world.ids["b2"]))
    assert (by_batch["printed"], by_batch["current"]["scans"], by_batch["current"]["claims"]) == (200, 1, 1)
    by_campaign = read("summary", Filters(D1, D2, campaign_id=world.ids["A"]))["current"]
    assert (by_campaign["scans"], by_campaign["redemptions"], by_campaign["payouts_fen"]) == (6, 2, 760)
    by_product = read("summary", Filters(D1, D2, product_id=world.ids["P2"]))["current"]
    assert (by_product["scans"], by_product["redeemed_value_fen"]) == (1, 300)
    shanghai = read("summary", Filters(D1, D2, province="上海市"))["current"]
    # scans placed in 上海市; claims by the place of the pack's first scan; redemptions by the store's place
    assert (shanghai["scans"], shanghai["claims"], shanghai["redemptions"]) == (3, 1, 2)
    one_day = read("summary", Filters(D1, D1))
    assert one_day["current"]["scans"] == 4 and one_day["previous_period"]["from"] == "2026-05-03"
    assert one_day["previous"]["scans"] == 1


def test_funnel(world, read):
    steps = {s["step"]: s for s in read("funnel")["steps"]}
    assert [steps[k]["count"] for k in reports.funnel.STEPS] == [1200, 950, 5, 4, 2]
    assert steps["activated"]["of_previous"] == round(950 / 1200, 4)
    assert steps["claimed"]["of_previous"] == 0.8 and steps["redeemed"]["of_previous"] == 0.5
    assert steps["scanned"]["of_printed"] == round(5 / 1200, 4)


def test_daily_and_hourly_series(world, read):
    daily = read("timeseries")["points"]
    assert [p["t"] for p in daily] == ["2026-05-04", "2026-05-05"]
    pick = ("scans", "first_scans", "claims", "friend_vouchers", "redemptions", "payouts_fen", "rewards_fen")
    assert [tuple(p[k] for k in pick) for p in daily] == [(4, 3, 2, 0, 0, 0, 50), (3, 2, 2, 1, 3, 1060, 150)]
    hourly = read("timeseries", interval="hour")
    points = {p["t"]: p for p in hourly["points"]}
    assert len(hourly["points"]) == 48
    busy = {t: tuple(p[k] for k in pick) for t, p in points.items() if any(p[k] for k in pick)}
    assert busy == {
        "2026-05-04 10:00": (2, 1, 1, 0, 0, 0, 50),
        "2026-05-04 11:00": (1, 1, 1, 0, 0, 0, 0),
        "2026-05-04 12:00": (1, 1, 0, 0, 0, 0, 0),
        "2026-05-05 09:00": (1, 0, 0, 0, 0, 0, 0),
        "2026-05-05 14:00": (0, 0, 0, 0, 1, 530, 100),
        "2026-05-05 15:00": (1, 1, 1, 0, 0, 0, 50),
        "2026-05-05 16:00": (0, 0, 0, 1, 0, 0, 0),
        "2026-05-05 17:00": (0, 0, 0, 0, 1, 230, 0),  # V4: no attributed clerk, no reward
        "2026-05-05 20:00": (1, 1, 1, 0, 0, 0, 0),
        "2026-05-05 21:00": (0, 0, 0, 0, 1, 300, 0),
    }


def test_heatmap(world, read):
    body = read("heatmap")
    cells = {(c["weekday"], c["hour"]): (c["scans"], c["claims"], c["redemptions"]) for c in body["cells"]}
    assert len(cells) == 7 * 24
    busy = {k: v for k, v in cells.items() if any(v)}
    assert busy == {
        (1, 10): (2, 1, 0),
        (1, 11): (1, 1, 0),
        (1, 12): (1, 0, 0),
        (2, 9): (1, 0, 0),
        (2, 14): (0, 0, 1),
        (2, 15): (1, 1, 0),
        (2, 17): (0, 0, 1),
        (2, 20): (1, 1, 0),
        (2, 21): (0, 0, 1),
    }
    assert body["max"] == {"scans": 2, "claims": 1, "redemptions": 1}


def test_province_and_city_rankings(world, read):
    body = read("geo")
    pick = ("scans", "first_scans", "claims", "redemptions", "diverted_scans")
    provinces = {p["province"]: tuple(p[k] for k in pick) for p in body["provinces"]}
    assert provinces == {
        "上海市": (3, 2, 1, 2, 0),
        "江苏省": (1, 1, 1, 0, 1),
        "北京市": (1, 0, 0, 0, 1),
        "广东省": (1, 1, 1, 1, 0),
        "": (1, 1, 1, 0, 0),
    }
    assert body["provinces"][0]["province"] == "上海市" and body["provinces"][0]["share"] == round(3 / 7, 4)
    assert body["total_scans"] == 7
    cities = {(c["province"], c["city"]): c["scans"] for c in body["cities"]}
    assert cities == {
        ("上海市", "上海市"): 3,
        ("江苏省", "南京市"): 1,
        ("北京市", "北京市"): 1,
        ("广东省", "广州市"): 1,
    }
    assert body["cities"][0]["city"] == "上海市"


def test_store_and_clerk_leaderboards(world, read):
    stores = read("stores")["stores"]
    pick = (
        "store_id",
        "rank",
        "claims",
        "redemptions",
        "friend_redemptions",
        "redeemed_value_fen",
        "payouts_fen",
    )
    assert [tuple(s[k] for k in pick) for s in stores] == [
        (world.ids["S1"], 1, 1, 2, 0, 800, 830),
        (world.ids["S2"], 2, 1, 1, 1, 200, 230),
    ]
    assert stores[1]["name"] == '=HYPERLINK("http://x")'
    clerks = read("clerks")["clerks"]
    pick = ("clerk_id", "rank", "scans", "claims", "redemptions", "rewards_fen")
    assert [tuple(c[k] for k in pick) for c in clerks] == [
        (world.ids["K1"], 1, 2, 1, 1, 150),
        (world.ids["K2"], 2, 1, 1, 1, 50),  # V4, redeemed by K2, was claimed without a promo code
    ]
    assert clerks[0]["store"] == "静安店" and clerks[1]["name"] == "小李"


def test_referral_performance(world, read):
    body = read("referrals")
    assert body["totals"] == {
        "shares": 1,
        "friend_vouchers": 1,
        "friend_redemptions": 1,
        "points": 100,
        "vouchers_per_share": 1.0,
        "redemption_rate": 1.0,
    }
    assert [c["campaign_id"] for c in body["campaigns"]] == [world.ids["A"]]
    assert [(p["t"], p["shares"], p["points"]) for p in body["points"]] == [
        ("2026-05-04", 0, 0),
        ("2026-05-05", 1, 100),
    ]


def test_diversion_by_distributor(world, read):
    body = read("diversion")
    rows = {
        d["distributor"]: (d["scans"], d["diverted_scans"], d["rate"], d["open_alerts"])
        for d in body["distributors"]
    }
    assert rows == {"华东": (5, 2, 0.4, 1), "华南": (1, 0, 0.0, 0), "华北": (1, 0, 0.0, 0)}
    assert body["distributors"][0]["distributor"] == "华东"
    assert {(p["distributor"], p["province"], p["diverted_scans"]) for p in body["places"]} == {
        ("华东", "江苏省", 1),
        ("华东", "北京市", 1),
    }


def test_payouts_accrued_held_and_paid(world, read, app):
    rt = app.extensions["codeloop"]
    accrued = read("payouts")["accrued"]
    assert (accrued["payouts_fen"], accrued["rewards_fen"], accrued["points"], accrued["accrued_fen"]) == (
        1060,
        200,
        100,
        1260,
    )
    close = at(
        datetime(2026, 5, 12).date(), "15:00"
    )  # after V1's claim and redemption left their holding period
    with rt.sessions() as s:
        made = settlements.run(s, period_end=close, now=close)
        statements = settlements.statements(s, role="admin", user_id=0)
        store_statement = next(st for st in statements if st.account.kind == "store")
        settlements.mark_paid(
            s,
            settlement_id=store_statement.settlement.id,
            reference="BANK-1",
            actor_id=world.ids["admin"],
            now=close,
        )
        s.commit()
    assert len(made) == 2  # S1 5.30, K1 0.50 + 1.00
    with rt.sessions() as s:  # hold K2's claim reward under the geo-velocity alert
        from sqlalchemy import select

        from server.models import LedgerEntry, LedgerTransaction, Voucher

        v3 = s.execute(select(Voucher.id).where(Voucher.code == world.vouchers["V3"])).scalar()
        entry = s.execute(
            select(LedgerEntry.id)
            .join(LedgerTransaction)
            .where(LedgerTransaction.key == f"claim:{v3}", LedgerEntry.amount > 0)
        ).scalar()
        ledger.hold(s, entry_ids=[entry], alert_id=world.ids["geo_alert"], now=close)
        s.commit()
    owed = read("payouts", now=close)["ledger"]
    assert owed["store"] == {"held": 0, "in_statement": 0, "paid": 530}
    assert owed["clerk"] == {"held": 50, "in_statement": 150, "paid": 0}


def test_rankings_and_hours_follow_the_filters(world, read):
    """With a campaign, batch or product chosen the reports read the per-batch slices, else the all-batches
    ones: both give the same figures."""
    a, b = Filters(D1, D2, campaign_id=world.ids["A"]), Filters(D1, D2, campaign_id=world.ids["B"])
    stores = {
        s["store_id"]: (s["claims"], s["redemptions"], s["payouts_fen"]) for s in read("stores", a)["stores"]
    }
    assert stores == {world.ids["S1"]: (1, 1, 530), world.ids["S2"]: (1, 1, 230)}
    assert {s["store_id"]: s["payouts_fen"] for s in read("stores", b)["stores"]} == {world.ids["S1"]: 300}
    clerks = {c["clerk_id"]: (c["scans"], c["claims"], c["rewards_fen"]) for c in read("clerks", a)["clerks"]}
    assert clerks == {world.ids["K1"]: (2, 1, 150), world.ids["K2"]: (1, 1, 50)}
    cities = {c["city"]: c["scans"] for c in read("geo", a)["cities"]}
    assert cities == {"上海市": 3, "南京市": 1, "北京市": 1, "广州市": 1}
    # batch 2's scan was never placed; its voucher was redeemed in 上海市
    assert [(c["city"], c["scans"], c["redemptions"]) for c in read("geo", b)["cities"]] == [("上海市", 0, 1)]
    cells = {
        (c["weekday"], c["hour"]): (c["scans"], c["claims"], c["redemptions"])
        for c in read("heatmap", b)["cells"]
    }
    assert {k: v for k, v in cells.items() if any(v)} == {(2, 20): (1, 1, 0), (2, 21): (0, 0, 1)}
    hours = read("timeseries", Filters(D2, D2, product_id=world.ids["P2"]), interval="hour")["points"]
    assert [(p["t"], p["scans"]) for p in hours if p["scans"]] == [("2026-05-05 20:00", 1)]
    shanghai = {
        s["store_id"]: s["redemptions"] for s in read("stores", Filters(D1, D2, province="上海市"))["stores"]
    }
    assert shanghai == {world.ids["S1"]: 2}
