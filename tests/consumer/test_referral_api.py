"""Referrals (friend vouchers, self-referral refusals, the sharer's bonus on redemption), the consumer JSON
API and phone binding (rate limits: test_rate_limits.py)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from server.models import Campaign, Consumer, LedgerTransaction, PhoneChallenge, Referral, Voucher, utcnow
from server.services import ledger, redemptions, rewards
from server.services.invariants import run_checks
from server.services.ledger import Account
from tests.consumer.conftest import build_world, csrf_of, make_clerk
from tests.factories import make_store

REFERRAL = dict(referral_limit_per_share=2, referral_friend_value_fen=300, referral_bonus_points=50)


def api_consumer(client, ip="10.0.0.1"):
    r = client.post("/api/v1/consumers", environ_base={"REMOTE_ADDR": ip})
    assert r.status_code == 201
    return {"X-Consumer-Token": r.get_json()["consumer_token"]}


def claim_pack(client, world, serial, headers, ip="10.0.0.1"):
    return client.post(
        f"/api/v1/scan/{world.code(serial)}/claim", headers=headers, environ_base={"REMOTE_ADDR": ip}
    )


def share_token(app, world, client, headers, ip="10.0.0.1"):
    client.get(f"/api/v1/scan/{world.code(1)}", headers=headers, environ_base={"REMOTE_ADDR": ip})
    code = claim_pack(client, world, 1, headers, ip).get_json()["voucher"]["code"]
    client.get(f"/v/{code}", headers={**headers, "Cookie": "", "Accept-Language": "zh-CN"})  # makes the share
    with world.session() as s:
        return s.execute(select(Referral.token)).scalar_one(), code


def test_api_scan_claim_voucher_flow(app, client):
    world = build_world(app)
    r = client.get(f"/api/v1/scan/{world.code(3)}")
    body = r.get_json()
    assert (
        r.status_code == 200
        and body["verdict"] == "first_scan"
        and body["scan_count"] == 1
        and body["claimable"]
    )
    headers = {"Authorization": f"Consumer {body['consumer_token']}"}
    first = client.post(f"/api/v1/scan/{body['claim_token']}/claim", headers=headers)
    assert first.status_code == 201 and first.get_json()["voucher"]["state"] == "issued"
    again = client.post(f"/api/v1/scan/{world.code(3)}/claim", headers=headers)
    assert (
        again.status_code == 200
        and again.get_json()["voucher"]["code"] == first.get_json()["voucher"]["code"]
    )
    other = api_consumer(client)
    refused = client.post(f"/api/v1/scan/{world.code(3)}/claim", headers={**other, "Accept-Language": "en"})
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "CODE_ALREADY_CLAIMED"
    code = first.get_json()["voucher"]["code"]
    mine = client.get(f"/api/v1/vouchers/{code}", headers=headers).get_json()["voucher"]
    assert mine["value_fen"] == 500 and mine["qr"] == code
    assert client.get(f"/api/v1/vouchers/{code}", headers=other).status_code == 404
    assert client.post(f"/api/v1/scan/{world.code(4)}/claim").get_json()["error"]["code"] == "UNAUTHORIZED"
    bad = client.get("/api/v1/scan/NOTACODE")
    assert bad.status_code == 404 and bad.get_json()["error"]["code"] == "CODE_INVALID"
    spec = client.get("/api/v1/openapi.json").get_json()["paths"]
    for route in (
        "/scan/{code}",
        "/scan/{code}/claim",
        "/vouchers/{code}",
        "/referrals/{token}/claim",
        "/promo/{promo}/attach",
    ):
        assert route in spec, route


def test_api_promo_attach(app, client):
    world = build_world(app, clerk_claim_reward_fen=100)
    with world.session() as s:
        clerk = make_clerk(s, make_store(s, "南京东路店"))
        s.commit()
    from server.services.attribution import promo_code_for

    promo = promo_code_for(app.extensions["codeloop"].ids, clerk.id)
    headers = api_consumer(client)
    r = client.post(f"/api/v1/promo/{promo.lower()}/attach", headers=headers)
    assert r.status_code == 200 and r.get_json()["store"]["name"] == "南京东路店"
    claim_pack(client, world, 2, headers)
    with world.session() as s:
        assert s.execute(select(Voucher.clerk_id)).scalar_one() == clerk.id
    assert client.post("/api/v1/promo/ZZZZZZ/attach", headers=headers).status_code == 404


def test_friend_voucher_flow_and_limits(app, client):
    world = build_world(app, cap=10, **REFERRAL)
    sharer = api_consumer(client, "10.0.0.1")
    token, code = share_token(app, world, client, sharer)
    # the sharer's own voucher page offers the link and, later, shows the friends' vouchers
    page = client.get(f"/v/{code}", headers={**sharer, "Accept-Language": "zh-CN"})
    assert f"/r/{token}" in page.get_data(as_text=True)
    friend_page = app.test_client().get(f"/r/{token.lower()}", headers={"Accept-Language": "zh-CN"})
    assert friend_page.status_code == 200 and "¥3" in friend_page.get_data(as_text=True)

    friends = [api_consumer(client, f"10.{n}.0.9") for n in (1, 2, 3)]
    got = [
        client.post(
            f"/api/v1/referrals/{token}/claim", headers=h, environ_base={"REMOTE_ADDR": f"10.{n}.0.9"}
        )
        for n, h in zip((1, 2, 3), friends, strict=True)
    ]
    assert [r.status_code for r in got[:2]] == [201, 201]
    assert got[2].status_code == 409 and got[2].get_json()["error"]["code"] == "REFERRAL_EXHAUSTED"
    again = client.post(
        f"/api/v1/referrals/{token}/claim", headers=friends[0], environ_base={"REMOTE_ADDR": "10.1.0.9"}
    )
    assert again.status_code == 200  # one per friend: the same voucher again
    with world.session() as s:
        fv = s.execute(select(Voucher).where(Voucher.kind == "friend")).scalars().all()
        assert len(fv) == 2 and all(v.value_fen == 300 for v in fv)
        c = s.get(Campaign, world.campaign_id)
        assert (c.issued_count, c.spent_fen) == (3, 500 + 600)  # friend vouchers count against cap and budget
        assert s.execute(select(Referral.used_count)).scalar_one() == 2
        assert run_checks(s) == []
    page = client.get(f"/v/{code}", headers={**sharer, "Accept-Language": "zh-CN"})
    assert page.get_data(as_text=True).count("未使用") == 2


@pytest.mark.parametrize(
    "how, sentence",
    [
        ("consumer", "this is your own share link"),
        ("device", "it was shared from this device"),
        ("phone", "your phone number is the one the sharer bound"),
    ],
)
def test_self_referral_is_refused_naming_the_rule(app, client, how, sentence):
    world = build_world(app, **REFERRAL)
    sharer = api_consumer(client, "10.0.0.1")
    token, _ = share_token(app, world, client, sharer)
    headers = sharer if how == "consumer" else api_consumer(client, "172.16.5.5")
    if how == "device":
        with world.session() as s:
            device = s.execute(select(Consumer.device_id).order_by(Consumer.id)).scalars().first()
        headers = {**headers, "X-Device-Id": device}
    if how == "phone":
        with world.session() as s:
            for consumer in s.execute(select(Consumer)).scalars():
                consumer.phone_hash = "same"
            s.commit()
    r = client.post(
        f"/api/v1/referrals/{token}/claim",
        headers={**headers, "Accept-Language": "en"},
        environ_base={"REMOTE_ADDR": "172.16.5.5"},
    )
    error = r.get_json()["error"]
    assert r.status_code == 403 and error["code"] == "REFERRAL_SELF" and error["details"]["why"] == how
    assert error["message"].startswith("You cannot claim this friend voucher: " + sentence), error
    zh = client.post(
        f"/api/v1/referrals/{token}/claim", headers=headers, environ_base={"REMOTE_ADDR": "172.16.5.5"}
    )
    assert zh.get_json()["error"]["message"].startswith("不能领取这张好友券：")


@pytest.mark.parametrize(
    "sharer_ip, friend_ip, marked",
    [
        (
            "202.96.209.5",
            "202.96.209.77",
            True,
        ),  # one public /24: a family, an office, a shop's Wi-Fi… or a loop
        ("202.96.209.5", "218.2.2.2", False),
        ("127.0.0.1", "127.0.0.1", None),  # the demo's two browsers
        ("192.168.1.20", "192.168.1.21", None),  # a shop's Wi-Fi seen without a proxy
        ("202.96.209.5", "::ffff:202.96.209.9", True),
    ],
)
def test_a_shared_network_is_evidence_not_a_refusal(app, client, sharer_ip, friend_ip, marked):
    world = build_world(app, **REFERRAL)
    sharer = api_consumer(client, sharer_ip)
    token, _ = share_token(app, world, client, sharer, sharer_ip)
    friend = api_consumer(client, friend_ip)
    r = client.post(
        f"/api/v1/referrals/{token}/claim", headers=friend, environ_base={"REMOTE_ADDR": friend_ip}
    )
    assert r.status_code == 201, r.get_json()
    with world.session() as s:
        assert s.execute(select(Voucher.same_network).where(Voucher.kind == "friend")).scalar_one() is marked
        assert s.execute(select(Voucher.same_network).where(Voucher.kind == "pack")).scalar_one() is None


def test_friend_voucher_redemption_pays_the_sharer_bonus(app, client):
    """issue 5's redemption posts rewards.redemption_postings:
    a friend voucher's include the sharer's bonus."""
    world = build_world(app, **REFERRAL)
    sharer = api_consumer(client, "10.0.0.1")
    token, _ = share_token(app, world, client, sharer)
    friend = api_consumer(client, "10.9.9.9")
    code = client.post(
        f"/api/v1/referrals/{token}/claim", headers=friend, environ_base={"REMOTE_ADDR": "10.9.9.9"}
    ).get_json()["voucher"]["code"]
    with world.session() as s:
        sharer_id = s.execute(select(Referral.sharer_id)).scalar_one()
        store = make_store(s)
        now = utcnow()
        done = redemptions.redeem(
            s,
            voucher_input=code,
            actor=redemptions.Actor(0, "admin"),
            store_id=store.id,
            now=now,
            hold_days=0,
            secret=b"unused",
            tz="Asia/Shanghai",
        )
        s.commit()
        entries = ledger.entries(
            s,
            s.execute(
                select(LedgerTransaction.id).where(
                    LedgerTransaction.key == rewards.redemption_key(done.redemption.id)
                )
            ).scalar_one(),
        )
        assert (Account("consumer", sharer_id, "points"), 50) in entries
        assert (Account("campaign", world.campaign_id, "points"), -50) in entries
        assert ledger.balance(s, Account("consumer", sharer_id, "points"), now).total == 50
        assert not run_checks(s)


def test_the_vouchers_answer_has_the_share_the_friends_and_the_bonus(app, client):
    """What the voucher page shows its holder, for a mini-program: link, friends' vouchers, points earned."""
    world = build_world(app, **REFERRAL)
    sharer = api_consumer(client, "10.0.0.1")
    client.get(f"/api/v1/scan/{world.code(1)}", headers=sharer)
    claimed = claim_pack(client, world, 1, sharer).get_json()["voucher"]
    share = claimed["share"]
    assert share["url"].startswith("https://q.example.cn/r/") and share["left"] == 2, share
    assert (share["friend_value_fen"], share["bonus_points_per_friend"], share["friends"]) == (300, 50, [])
    token = share["url"].rsplit("/", 1)[-1]
    friend = api_consumer(client, "10.0.0.2")
    gift = client.post(f"/api/v1/referrals/{token}/claim", headers=friend).get_json()["voucher"]
    assert "share" not in gift  # a friend voucher has no share link of its own
    with world.session() as s:
        redemptions.redeem(
            s,
            voucher_input=gift["code"],
            actor=redemptions.Actor(0, "admin"),
            store_id=make_store(s).id,
            now=utcnow(),
            hold_days=0,
            secret=b"unused",
            tz="Asia/Shanghai",
        )
        s.commit()
    mine = client.get(f"/api/v1/vouchers/{claimed['code']}", headers=sharer).get_json()["voucher"]["share"]
    assert mine["url"] == share["url"] and mine["left"] == 1 and mine["bonus_points"] == 50
    assert [(f["value_fen"], f["state"], f["bonus_points"]) for f in mine["friends"]] == [
        (300, "redeemed", 50)
    ]
    own = client.get(f"/api/v1/vouchers/{gift['code']}", headers=friend).get_json()["voucher"]
    assert own["state"] == "redeemed" and "share" not in own


def test_phone_binding_with_one_time_code(app, client):
    sent = []

    class FakeSender:
        def send(self, phone, text):
            sent.append((phone, text))

    app.extensions["codeloop_sms"] = FakeSender()
    headers = api_consumer(client)
    assert (
        client.post("/api/v1/consumers/me/phone", json={"phone": "12345"}, headers=headers).status_code == 400
    )
    assert (
        client.post(
            "/api/v1/consumers/me/phone", json={"phone": "+86 138-0013-1234"}, headers=headers
        ).status_code
        == 202
    )
    otp = re.search(r"\d{6}", sent[-1][1]).group()
    wrong = "000000" if otp != "000000" else "111111"
    assert (
        client.post(
            "/api/v1/consumers/me/phone/verify", json={"phone": "13800131234", "code": wrong}, headers=headers
        ).status_code
        == 400
    )
    ok = client.post(
        "/api/v1/consumers/me/phone/verify", json={"phone": "13800131234", "code": otp}, headers=headers
    )
    assert ok.status_code == 200 and ok.get_json()["phone"] == "138****1234", (ok.get_json(), sent)
    replay = client.post(
        "/api/v1/consumers/me/phone/verify", json={"phone": "13800131234", "code": otp}, headers=headers
    )
    assert replay.status_code == 400  # consumed
    with app.extensions["codeloop"].sessions() as s:
        consumer = s.execute(select(Consumer)).scalar_one()
        assert consumer.phone_masked == "138****1234" and "13800131234" not in consumer.phone_hash
        challenge = s.execute(select(PhoneChallenge)).scalar_one()
        assert challenge.attempts == 2 and challenge.used_at is not None and otp not in challenge.code_hash


def test_phone_attempts_are_capped(app, client):
    sent = []
    app.extensions["codeloop_sms"] = type("S", (), {"send": lambda self, p, t: sent.append(t)})()
    headers = api_consumer(client)
    client.post("/api/v1/consumers/me/phone", json={"phone": "13900001111"}, headers=headers)
    otp = re.search(r"\d{6}", sent[-1]).group()
    wrong = "000000" if otp != "000000" else "111111"
    for _ in range(5):
        client.post(
            "/api/v1/consumers/me/phone/verify", json={"phone": "13900001111", "code": wrong}, headers=headers
        )
    r = client.post(
        "/api/v1/consumers/me/phone/verify", json={"phone": "13900001111", "code": otp}, headers=headers
    )
    assert r.status_code == 400 and "尝试次数过多" in r.get_json()["error"]["message"]


def test_phone_binding_page_without_javascript(app, client):
    sent = []
    app.extensions["codeloop_sms"] = type("S", (), {"send": lambda self, p, t: sent.append(t)})()
    page = client.get("/me/phone", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "绑定手机号" in page and "发送验证码" in page
    token = csrf_of(page)
    bad = client.post(
        "/me/phone", data={"csrf_token": token, "phone": "123"}, headers={"Accept-Language": "zh-CN"}
    )
    assert bad.status_code == 400 and "手机号码格式不正确" in bad.get_data(as_text=True)
    step = client.post("/me/phone", data={"csrf_token": token, "phone": "13700001234"})
    assert step.status_code == 200 and 'name="code"' in step.get_data(as_text=True)
    otp = re.search(r"\d{6}", sent[-1]).group()
    done = client.post(
        "/me/phone",
        data={"csrf_token": token, "phone": "13700001234", "code": otp},
        headers={"Accept-Language": "en"},
    )
    assert done.status_code == 200 and "Bound to 137****1234" in done.get_data(as_text=True)
    assert client.post("/me/phone", data={"phone": "13700001234"}).status_code == 400  # no CSRF
