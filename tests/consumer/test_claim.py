"""Claims: one voucher per pack, idempotent per consumer, window/cap/budget/daily limit, CSRF, attribution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from server.errors import DomainError
from server.models import Campaign, LedgerEntry, LedgerTransaction, Redemption, Voucher, utcnow
from server.services import claims
from server.services.attribution import promo_code_for
from server.services.invariants import run_checks
from tests.conftest import make_config
from tests.consumer.conftest import build_world, csrf_of, make_clerk
from tests.factories import make_store

ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}


def scan_and_claim(client, code, headers=ZH):
    page = client.get(f"/S/{code}", headers=headers).get_data(as_text=True)
    if (
        "csrf_token" in page
    ):  # a page that offers no claim has no form: replay the token this browser already holds
        client.csrf = csrf_of(page)
    token = client.csrf
    return client.post(f"/S/{code}/claim", data={"csrf_token": token}, headers=headers)


def vouchers(world):
    with world.session() as s:
        return s.execute(select(Voucher).order_by(Voucher.id)).scalars().all()


def checks_pass(world):
    with world.session() as s:
        assert run_checks(s) == []


def test_claim_issues_one_voucher_and_repeats_return_it(app, world):
    me, other = app.test_client(), app.test_client()
    r = scan_and_claim(me, world.code(1))
    assert r.status_code == 303 and r.headers["Location"].startswith("/v/")
    again = scan_and_claim(me, world.code(1))
    assert again.headers["Location"] == r.headers["Location"]
    other.csrf = csrf_of(other.get(f"/S/{world.code(2)}").get_data(as_text=True))
    refused = scan_and_claim(other, world.code(1), EN)
    assert refused.status_code == 409 and "already been claimed" in refused.get_data(as_text=True)
    [v] = vouchers(world)
    assert v.kind == "pack" and v.value_fen == 500 and v.expires_at - v.issued_at == timedelta(days=30)
    assert v.code.isupper() and 8 <= len(v.code) <= 12 and not set(v.code) & set("ILOU")
    with world.session() as s:
        c = s.get(Campaign, world.campaign_id)
        assert (c.issued_count, c.spent_fen) == (1, 500)
    checks_pass(world)


def test_claim_without_csrf_is_refused(client, world):
    client.get(f"/S/{world.code(1)}")
    r = client.post(f"/S/{world.code(1)}/claim", headers=ZH)
    assert r.status_code == 400 and "输入有误" in r.get_data(as_text=True)
    assert vouchers(world) == []


@pytest.mark.parametrize(
    "campaign,error,wording",
    [
        (dict(starts_at=utcnow() + timedelta(days=1)), "CAMPAIGN_NOT_ACTIVE", "活动未开始或已结束"),
        (
            dict(ends_at=utcnow() - timedelta(seconds=1), starts_at=utcnow() - timedelta(days=2)),
            "CAMPAIGN_NOT_ACTIVE",
            "活动未开始",
        ),
        (dict(cap=0), "CAMPAIGN_EXHAUSTED", "已领完"),
        (dict(budget_fen=499), "CAMPAIGN_EXHAUSTED", "已领完"),
    ],
)
def test_campaign_refusals_are_friendly(app, client, campaign, error, wording):
    world = build_world(app, **campaign)
    r = scan_and_claim(client, world.code(1))
    assert r.status_code == 409 and wording in r.get_data(as_text=True) and error in r.get_data(as_text=True)
    assert vouchers(world) == []
    checks_pass(world)


def test_daily_limit_counts_days_in_the_deployment_timezone(app):
    world = build_world(app, per_consumer_daily_limit=2)
    codec, ids, terms = (
        world.codec,
        app.extensions["codeloop"].ids,
        claims.Terms(b"k" * 32, __import__("zoneinfo").ZoneInfo("Asia/Shanghai"), 7),
    )
    with world.session() as s:
        from tests.factories import make_consumer

        consumer = make_consumer(s)
        late = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
        with_campaign = s.get(Campaign, world.campaign_id)
        with_campaign.starts_at, with_campaign.ends_at = late - timedelta(days=5), late + timedelta(days=5)
        s.commit()
        for serial in (1, 2):
            claims.claim(s, codec, ids, world.code(serial), consumer_id=consumer.id, terms=terms, now=late)
        s.commit()
        with pytest.raises(DomainError) as exc:
            claims.claim(
                s,
                codec,
                ids,
                world.code(3),
                consumer_id=consumer.id,
                terms=terms,
                now=late + timedelta(minutes=20),
            )
        assert exc.value.code == "LIMIT_PER_CONSUMER" and "2" in exc.value.message("en")
        s.rollback()
        # 16:00 UTC is midnight in Shanghai: a new day although the UTC date is the same
        claims.claim(
            s,
            codec,
            ids,
            world.code(4),
            consumer_id=consumer.id,
            terms=terms,
            now=late + timedelta(minutes=31),
        )
        s.commit()
        assert s.execute(select(func.count()).select_from(Voucher)).scalar_one() == 3
        assert run_checks(s) == []


def test_clerk_attribution_sets_clerk_and_posts_claim_reward(app, client):
    world = build_world(app, clerk_claim_reward_fen=100)
    with world.session() as s:
        store = make_store(s, "徐汇店")
        clerk = make_clerk(s, store)
        s.commit()
        promo = promo_code_for(app.extensions["codeloop"].ids, clerk.id)
    page = client.get(f"/c/{promo.lower()}", headers=ZH)
    assert (
        page.status_code == 200
        and "徐汇店" in page.get_data(as_text=True)
        and "小王" in page.get_data(as_text=True)
    )
    assert scan_and_claim(client, world.code(5)).status_code == 303
    [v] = vouchers(world)
    assert v.clerk_id == clerk.id
    with world.session() as s:
        assert s.execute(select(LedgerTransaction.key)).scalars().all() == [f"claim:{v.id}"]
        assert sorted(s.execute(select(LedgerEntry.amount)).scalars()) == [-100, 100]
        from server.models import Scan

        assert s.execute(select(Scan.clerk_id).order_by(Scan.id.desc())).scalars().first() == clerk.id
    assert client.get("/c/NOPE00").status_code == 404
    checks_pass(world)


def test_attribution_expires(app, client):
    world = build_world(app, clerk_claim_reward_fen=100)
    with world.session() as s:
        clerk = make_clerk(s, make_store(s))
        s.commit()
        promo = promo_code_for(app.extensions["codeloop"].ids, clerk.id)
    client.get(f"/C/{promo}")
    from server.models import Attribution

    with world.session() as s:
        for a in s.execute(select(Attribution)).scalars():
            a.started_at, a.expires_at = utcnow() - timedelta(hours=2), utcnow() - timedelta(hours=1)
        s.commit()
    scan_and_claim(client, world.code(6))
    assert vouchers(world)[0].clerk_id is None


def test_voucher_page_states(app, client):
    world = build_world(app, voucher_min_spend_fen=5000)
    loc = scan_and_claim(client, world.code(1)).headers["Location"]
    page = client.get(loc, headers=ZH).get_data(as_text=True)
    assert "¥5" in page and "满 ¥50 可用" in page and "有效期至" in page and "<svg" in page
    [v] = vouchers(world)
    assert v.code in page
    stranger = app.test_client().get(loc).get_data(as_text=True)
    assert "<svg" not in stranger  # only the holder sees the QR
    with world.session() as s:
        store = make_store(s, "静安店")
        s.add(Redemption(voucher_id=v.id, store_id=store.id, redeemed_at=utcnow()))
        s.get(Voucher, v.id).status = "redeemed"
        s.commit()
    page = client.get(loc, headers=ZH).get_data(as_text=True)
    assert "在 静安店 核销" in page and "<svg" not in page
    en = client.get(loc, headers=EN).get_data(as_text=True)
    assert "Redeemed at 静安店" in en
    assert client.get("/v/NOSUCHCODE").status_code == 404


def test_expired_voucher_page(app, client):
    world = build_world(app)
    loc = scan_and_claim(client, world.code(1)).headers["Location"]
    with world.session() as s:
        v = s.execute(select(Voucher)).scalar_one()
        v.issued_at, v.expires_at = utcnow() - timedelta(days=40), utcnow() - timedelta(days=10)
        s.commit()
    assert "过期" in client.get(loc, headers=ZH).get_data(as_text=True)


def test_rotating_token_qr_and_refresh(app, client):
    from server.services.voucher_tokens import verify_token

    world = build_world(app, rotating_token=True)
    loc = scan_and_claim(client, world.code(1)).headers["Location"]
    page = client.get(loc).get_data(as_text=True)
    assert 'http-equiv="refresh"' in page and "<svg" in page
    [v] = vouchers(world)
    qr = client.get(f"/api/v1/vouchers/{v.code}").get_json()["voucher"][
        "qr"
    ]  # the cookie is the consumer token
    assert qr != v.code and verify_token(app.extensions["codeloop"].secret, qr, utcnow()) == v.code
    assert client.get(f"/api/v1/vouchers/{qr}").get_json()["voucher"]["code"] == v.code


def test_voucher_tokens_rotate_and_expire():
    from server.services.voucher_tokens import make_token, verify_token

    now = datetime(2026, 11, 22, 12, 0, 30, tzinfo=UTC)
    token = make_token(b"s" * 32, "ABC123XY", now)
    assert verify_token(b"s" * 32, token, now) == "ABC123XY"
    assert (
        verify_token(b"s" * 32, token.lower(), now + timedelta(seconds=44)) == "ABC123XY"
    )  # the next window's first 15 s: still ok
    assert make_token(b"s" * 32, "ABC123XY", now + timedelta(seconds=60)) != token
    with pytest.raises(DomainError) as exc:
        verify_token(b"s" * 32, token, now + timedelta(seconds=180))
    assert exc.value.code == "VOUCHER_TOKEN_EXPIRED"
    for forged in (
        token[:-1] + ("0" if token[-1] != "0" else "1"),
        "x.y.z",
        "",
        "A" * 500,
        make_token(b"t" * 32, "ABC123XY", now),
    ):
        with pytest.raises(DomainError) as exc:
            verify_token(b"s" * 32, forged, now)
        assert exc.value.code == "VOUCHER_NOT_FOUND"


def test_voucher_codes_are_normalised_for_typing(app, client):
    world = build_world(app)
    scan_and_claim(client, world.code(1))
    [v] = vouchers(world)
    typed = " ".join([v.code[:4].lower(), v.code[4:]])
    assert client.get(f"/v/{typed}").status_code == 200


def test_nearby_stores_by_city_then_province_or_by_distance(database_url, tmp_path):
    from server.app import create_app
    from server.models import Store

    app = create_app(make_config(database_url, tmp_path, trusted_proxies=1))
    world = build_world(app)
    client = app.test_client()
    client.get(f"/S/{world.code(1)}", headers={"X-Forwarded-For": "114.114.114.114"})
    with world.session() as s:
        from server.models import Scan

        city, province = s.execute(select(Scan.city, Scan.province)).one()
        s.add_all(
            [
                Store(name="同城店", province=province, city=city, lat=32.06, lng=118.78),
                Store(name="同省店", province=province, city="别的城市", lat=31.3, lng=120.6),
                Store(name="外省店", province="别的省", city="远方", lat=39.9, lng=116.4),
            ]
        )
        s.commit()
    page = client.post(
        f"/S/{world.code(1)}/claim",
        data={
            "csrf_token": csrf_of(
                client.get(f"/S/{world.code(2)}", headers={"X-Forwarded-For": "114.114.114.114"}).get_data(
                    as_text=True
                )
            )
        },
        headers={"X-Forwarded-For": "114.114.114.114"},
    )
    loc = page.headers["Location"]
    html = client.get(loc).get_data(as_text=True)
    assert html.index("同城店") < html.index("同省店") and "外省店" not in html
    near_beijing = client.get(loc + "?lat=39.95&lng=116.3").get_data(as_text=True)
    assert near_beijing.index("外省店") < near_beijing.index("同城店") and "km" in near_beijing


def test_a_rotating_token_lives_its_window_plus_the_grace_each_side():
    from server.services.voucher_tokens import GRACE_SECONDS, STEP_SECONDS, make_token, verify_token

    opens = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
    token = make_token(b"s" * 32, "ABC123XY", opens)
    grace = timedelta(seconds=GRACE_SECONDS)
    ends = opens + timedelta(seconds=STEP_SECONDS)
    assert GRACE_SECONDS <= 15 and ends + grace - opens <= timedelta(seconds=75)
    for ok in (opens - grace, opens, ends + grace - timedelta(seconds=1)):
        assert verify_token(b"s" * 32, token, ok) == "ABC123XY"
    for stale in (opens - grace - timedelta(seconds=1), ends + grace, opens + timedelta(seconds=115)):
        with pytest.raises(DomainError) as exc:
            verify_token(b"s" * 32, token, stale)
        assert exc.value.code == "VOUCHER_TOKEN_EXPIRED"
