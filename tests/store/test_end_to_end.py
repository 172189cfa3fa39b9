"""The whole loop through both halves: a consumer scans a pack and claims its voucher (issue 4's routes),
the clerk redeems it at the till (issue 5's), the money lands in the ledger and the statement. The consumer
scanned the promo code of a clerk of the other store first: that clerk earns both rewards, the clerk at the
till none."""

from __future__ import annotations

import re

from sqlalchemy import select

from server.models import Campaign, Redemption, Referral, utcnow
from server.services import ledger, voucher_tokens
from server.services.attribution import promo_code_for
from server.services.invariants import run_checks
from tests.consumer.conftest import build_world
from tests.store.test_people import login
from tests.store.world import build


def consumer(client, ip):
    r = client.post("/api/v1/consumers", environ_base={"REMOTE_ADDR": ip})
    return {"X-Consumer-Token": r.get_json()["consumer_token"]}


def test_scan_claim_redeem_settle_with_a_rotating_token_and_a_friend_voucher(app, client, sessions):
    staff = build(sessions, vouchers=0)
    pack = build_world(
        app,
        rotating_token=True,
        voucher_value_fen=800,
        store_fee_fen=100,
        clerk_claim_reward_fen=30,
        clerk_redeem_reward_fen=50,
        referral_limit_per_share=2,
        referral_friend_value_fen=300,
        referral_bonus_points=20,
    )
    sharer = consumer(client, "10.0.0.1")
    promo = promo_code_for(app.extensions["codeloop"].ids, staff.clerks[1])
    attached = client.post(
        f"/api/v1/promo/{promo}/attach", headers=sharer, environ_base={"REMOTE_ADDR": "10.0.0.1"}
    )
    assert attached.status_code == 200
    client.get(f"/api/v1/scan/{pack.code(7)}", headers=sharer, environ_base={"REMOTE_ADDR": "10.0.0.1"})
    claimed = client.post(
        f"/api/v1/scan/{pack.code(7)}/claim", headers=sharer, environ_base={"REMOTE_ADDR": "10.0.0.1"}
    )
    code = claimed.get_json()["voucher"]["code"]
    client.get(f"/v/{code}", headers={**sharer, "Cookie": ""})  # the voucher page makes the share link

    till = app.test_client()
    login(till, "clerk0")
    page = till.get("/clerk").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    typed = till.post("/clerk", data={"csrf_token": csrf, "idem": "e2e-1", "voucher": code})
    assert "二维码已过期" in typed.get_data(as_text=True)  # a rotating-token voucher needs its live QR
    live = voucher_tokens.make_token(app.extensions["codeloop"].secret, code, utcnow())
    ok = till.post("/clerk", data={"csrf_token": csrf, "idem": "e2e-2", "voucher": live})
    assert "已核销" in ok.get_data(as_text=True) and "¥8.00" in ok.get_data(as_text=True)

    with sessions() as s:
        token = s.scalar(select(Referral.token))
    friend = consumer(client, "10.9.9.9")
    friend_code = client.post(
        f"/api/v1/referrals/{token}/claim", headers=friend, environ_base={"REMOTE_ADDR": "10.9.9.9"}
    ).get_json()["voucher"]["code"]
    friend_token = voucher_tokens.make_token(app.extensions["codeloop"].secret, friend_code, utcnow())
    response = client.post(
        "/api/v1/redemptions", json={"voucher": friend_token}, headers=staff.auth("clerk1")
    )
    assert response.status_code == 201 and response.get_json()["redemption"]["value_fen"] == 300

    now = utcnow()
    with sessions() as s:
        assert ledger.balance(s, ledger.Account("store", staff.stores[0]), now).total == 900
        assert ledger.balance(s, ledger.Account("store", staff.stores[1]), now).total == 400
        assert ledger.balance(s, ledger.Account("clerk", staff.clerks[0]), now).total == 0  # at the till
        # clerk 1: the claim and the redemption of the pack voucher; the friend voucher (no promo code) none
        assert ledger.balance(s, ledger.Account("clerk", staff.clerks[1]), now).total == 30 + 50
        assert s.scalars(select(Redemption.clerk_id).order_by(Redemption.id)).all() == staff.clerks
        sharer_id = s.scalar(select(Referral.sharer_id))
        assert ledger.balance(s, ledger.Account("consumer", sharer_id, "points"), now).total == 20
        campaign = s.get(Campaign, pack.campaign_id)
        assert ledger.balance(s, ledger.Account("campaign", campaign.id), now).total == -(900 + 30 + 50 + 400)
        assert run_checks(s) == []
