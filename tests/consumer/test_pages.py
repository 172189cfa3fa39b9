"""What a consumer reads on the pages: the sharer's bonus, a used voucher drawn as used, the friend voucher's
terms, a bound phone kept masked, a front door at `/` and an icon."""

from __future__ import annotations

import re

from sqlalchemy import select

from server.models import Referral, Voucher, utcnow
from server.services import redemptions
from server.services.accounts import create_user
from tests.consumer.conftest import build_world, csrf_of
from tests.factories import make_store

REFERRAL = dict(
    referral_limit_per_share=2,
    referral_friend_value_fen=300,
    referral_bonus_points=50,
    voucher_min_spend_fen=2000,
)
ZH, EN = {"Accept-Language": "zh-CN"}, {"Accept-Language": "en"}


def claim_on_the_page(client, world, serial) -> str:
    page = client.get(f"/S/{world.code(serial)}", headers=ZH).get_data(as_text=True)
    done = client.post(f"/S/{world.code(serial)}/claim", data={"csrf_token": csrf_of(page)})
    assert done.status_code == 303
    return done.headers["Location"].rsplit("/", 1)[-1]


def redeem(world, code: str, **kw):
    with world.session() as s:
        done = redemptions.redeem(
            s,
            voucher_input=code,
            actor=redemptions.Actor(0, "admin"),
            store_id=kw.get("store_id") or make_store(s).id,
            purchase_fen=5000,
            now=utcnow(),
            hold_days=7,
            secret=b"unused",
            tz="Asia/Shanghai",
        )
        s.commit()
        return done.redemption.id


def card_class(html: str) -> str:
    return re.search(r'<div class="card ([^"]*)"', html).group(1)


def test_the_sharer_sees_the_friends_voucher_and_the_bonus_it_earned(app):
    world = build_world(app, **REFERRAL)
    sharer, friend = app.test_client(), app.test_client()
    mine = claim_on_the_page(sharer, world, 1)
    page = sharer.get(f"/v/{mine}", headers=ZH).get_data(as_text=True)
    assert "你将获得 50 积分" in page and "好友使用优惠券后" not in page  # no friend yet: no friends' table
    with world.session() as s:
        token = s.execute(select(Referral.token)).scalar_one()
    assert f"https://q.example.cn/r/{token}" in page

    offer = friend.get(f"/r/{token}", headers=ZH).get_data(as_text=True)
    assert "¥3" in offer and "消费满 ¥20 可用" in offer  # the friend voucher's minimum spend
    own = sharer.get(f"/r/{token}", headers=EN).get_data(as_text=True)
    assert "This is your own share link: send it to a friend." in own and "Claim voucher" not in own
    claimed = friend.post(f"/r/{token}/claim", data={"csrf_token": csrf_of(offer)})
    gift = claimed.headers["Location"].rsplit("/", 1)[-1]
    again = friend.get(f"/r/{token}", headers=EN).get_data(as_text=True)
    assert f"/v/{gift}" in again and "View my voucher" in again

    page = sharer.get(f"/v/{mine}", headers=ZH).get_data(as_text=True)
    assert "未使用" in page and "好友使用优惠券后，你将获得积分。" in page
    redemption = redeem(world, gift)
    page = sharer.get(f"/v/{mine}", headers=ZH).get_data(as_text=True)
    assert "+50 积分" in page and "你共获得 50 积分" in page
    english = sharer.get(f"/v/{mine}", headers=EN).get_data(as_text=True)
    assert "+50 points" in english and "You have earned 50 points from your friends' vouchers." in english

    with world.session() as s:  # undone at the till: the bonus is gone from the ledger, and from the page
        admin = create_user(s, username="admin", password="long-enough", role="admin", now=utcnow())
        redemptions.reverse(
            s,
            redemption_id=redemption,
            actor=redemptions.Actor(admin.id, "admin"),
            now=utcnow(),
            grace_minutes=30,
            tz="Asia/Shanghai",
        )
        s.commit()
    assert "+50" not in sharer.get(f"/v/{mine}", headers=ZH).get_data(as_text=True)


def test_a_redeemed_voucher_is_drawn_as_used_not_as_a_refusal(app):
    world = build_world(app)
    client = app.test_client()
    code = claim_on_the_page(client, world, 2)
    assert card_class(client.get(f"/v/{code}").get_data(as_text=True)) == "good"
    redeem(world, code)
    page = client.get(f"/v/{code}", headers=ZH).get_data(as_text=True)
    assert card_class(page) == "used" and "bad" not in card_class(page)
    with world.session() as s:
        s.execute(select(Voucher)).scalar_one().status = "issued"
        s.execute(select(Voucher)).scalar_one().expires_at = utcnow()
        s.commit()
    assert card_class(client.get(f"/v/{code}").get_data(as_text=True)) == "expired"


def test_a_consumer_whose_place_is_unknown_is_shown_where_to_use_the_voucher(app):
    world = build_world(app)
    with world.session() as s:
        make_store(s, name="静安旗舰店")
        s.commit()
    client = app.test_client()
    code = claim_on_the_page(client, world, 3)  # from 127.0.0.1: no place
    page = client.get(f"/v/{code}", headers=ZH).get_data(as_text=True)
    assert "可用门店" in page and "静安旗舰店" in page


def test_after_binding_the_phone_the_number_is_shown_masked_only(app):
    sent = []
    app.extensions["codeloop_sms"] = type("S", (), {"send": lambda self, p, t: sent.append(t)})()
    client = app.test_client()
    token = csrf_of(client.get("/me/phone").get_data(as_text=True))
    step = client.post("/me/phone", data={"csrf_token": token, "phone": "13700001234"}).get_data(as_text=True)
    assert 'value="13700001234"' in step  # the code step still needs the number
    otp = re.search(r"\d{6}", sent[-1]).group()
    done = client.post("/me/phone", data={"csrf_token": token, "phone": "13700001234", "code": otp})
    html = done.get_data(as_text=True)
    assert done.status_code == 200 and "137****1234" in html and "13700001234" not in html
    assert "13700001234" not in client.get("/me/phone").get_data(as_text=True)


def test_the_front_door_and_the_icon(client):
    for lang, words in ((ZH, ["一物一码", "员工入口", "收银核销"]), (EN, ["Till", "For staff"])):
        page = client.get("/", headers=lang)
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and all(w in html for w in words), html
        for link in ("/clerk", "/owner", "/admin", "/api/v1/openapi.json", "/healthz"):
            assert f'href="{link}"' in html
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    svg = re.search(r'<link rel="icon" href="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)
    assert client.get(svg).status_code == 200
