"""Products and campaigns in the console: every rule editable, pause/resume/end, each change audit-logged;
a paused campaign refuses claims with CAMPAIGN_NOT_ACTIVE."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from server.errors import DomainError
from server.models import AuditLog, Campaign, Consumer, Product, utcnow
from server.services import catalog, claims
from tests.console.conftest import csrf
from tests.consumer.conftest import build_world

FORM = {
    "name": "春季尝鲜",
    "starts_at": "2030-03-01T08:00",
    "ends_at": "2030-04-01T00:00",
    "voucher_value_fen": "5.50",
    "voucher_min_spend_fen": "30",
    "voucher_valid_days": "14",
    "cap": "1,000",
    "budget_fen": "5,500.00",
    "per_consumer_daily_limit": "2",
    "clerk_claim_reward_fen": "0.5",
    "clerk_redeem_reward_fen": "1",
    "store_fee_fen": "0.30",
    "attribution_minutes": "45",
    "referral_friend_value_fen": "2",
    "referral_limit_per_share": "3",
    "referral_bonus_points": "100",
    "rotating_token": "on",
}


def test_create_edit_pause_resume_end_a_campaign(admin, admin_id, sessions):
    created = admin.post("/admin/campaigns", data={**FORM, "csrf_token": csrf(admin, "/admin/campaigns")})
    assert created.status_code == 302, created.get_data(as_text=True)
    url = created.headers["Location"]
    with sessions() as s:
        c = s.scalar(select(Campaign))
        assert (c.voucher_value_fen, c.voucher_min_spend_fen, c.cap, c.budget_fen) == (
            550,
            3000,
            1000,
            550_000,
        )
        assert (c.clerk_claim_reward_fen, c.clerk_redeem_reward_fen, c.store_fee_fen) == (50, 100, 30)
        assert (c.referral_friend_value_fen, c.referral_limit_per_share, c.referral_bonus_points) == (
            200,
            3,
            100,
        )
        assert c.rotating_token and c.attribution_minutes == 45 and c.per_consumer_daily_limit == 2
        assert c.starts_at.isoformat() == "2030-03-01T00:00:00+00:00"  # 08:00 in Shanghai
    page = admin.get(url).get_data(as_text=True)
    assert 'value="5.50"' in page and 'value="2030-03-01T08:00"' in page
    token = csrf(admin, url)
    edited = admin.post(url, data={**FORM, "cap": "2000", "voucher_value_fen": "6", "csrf_token": token})
    assert edited.status_code == 302
    for action in ("pause", "pause", "resume", "end"):
        assert admin.post(f"{url}/{action}", data={"csrf_token": token}).status_code == 302
    with sessions() as s:
        c = s.scalar(select(Campaign))
        assert c.cap == 2000 and c.voucher_value_fen == 600 and c.paused_at is None and c.ends_at <= utcnow()
        log = s.execute(
            select(AuditLog).where(AuditLog.object_type == "campaign").order_by(AuditLog.id)
        ).scalars()
        log = list(log)
    assert [e.action for e in log] == [
        "campaign.create",
        "campaign.update",
        "campaign.pause",
        "campaign.resume",
        "campaign.end",
    ]
    assert all(e.actor_id == admin_id for e in log)
    assert log[1].details == {
        "before": {"cap": 1000, "voucher_value_fen": 550},
        "after": {"cap": 2000, "voucher_value_fen": 600},
    }


def test_bad_campaign_input_is_explained_and_changes_nothing(admin, sessions):
    token = csrf(admin, "/admin/campaigns")
    for field, value, words in [
        ("voucher_value_fen", "5.555", "at most two decimals"),
        ("cap", "lots", "cap must be a whole number"),
        ("ends_at", "2030-02-01T00:00", "ends_at must be after starts_at"),
        ("starts_at", "yesterday", "starts_at must be a date and time"),
        ("budget_fen", "0", "budget_fen must be positive"),
    ]:
        response = admin.post(
            "/admin/campaigns",
            data={**FORM, field: value, "csrf_token": token},
            headers={"Accept-Language": "en"},
            follow_redirects=True,
        )
        assert response.status_code == 200 and words in response.get_data(as_text=True), field
    with sessions() as s:
        assert s.scalar(select(Campaign)) is None


def test_cap_and_budget_never_drop_below_what_is_issued(sessions):
    now = utcnow()
    with sessions.begin() as s:
        c = catalog.create_campaign(
            s,
            name="c",
            starts_at=now,
            ends_at=now + timedelta(days=1),
            now=now,
            voucher_value_fen=500,
            cap=10,
            budget_fen=5000,
        )
        c.issued_count, c.spent_fen = 4, 2000
    with sessions() as s, pytest.raises(DomainError) as refused:
        catalog.update_campaign(s, campaign_id=c.id, changes={"cap": 3}, now=now)
    assert "cannot go below" in refused.value.message("en")
    with sessions.begin() as s:
        assert catalog.update_campaign(s, campaign_id=c.id, changes={"cap": 4}, now=now).cap == 4


def test_a_paused_campaign_refuses_claims_until_resumed(app):
    world = build_world(app)
    rt = app.extensions["codeloop"]
    terms = claims.Terms(secret=rt.secret, tz=rt.config.tz, hold_days=7)
    with world.session() as s:
        consumer = Consumer(public_id="pause-test")
        s.add(consumer)
        catalog.set_paused(s, campaign_id=world.campaign_id, paused=True, now=utcnow())
        s.commit()
        with pytest.raises(DomainError) as refused:
            claims.claim(
                s, rt.codec, rt.ids, world.code(1), consumer_id=consumer.id, terms=terms, now=utcnow()
            )
        assert refused.value.code == "CAMPAIGN_NOT_ACTIVE"
        s.rollback()
        catalog.set_paused(s, campaign_id=world.campaign_id, paused=False, now=utcnow())
        claimed = claims.claim(
            s, rt.codec, rt.ids, world.code(1), consumer_id=consumer.id, terms=terms, now=utcnow()
        )
        assert claimed.created


def test_products_are_created_and_renamed_with_an_audit_entry(admin, sessions):
    token = csrf(admin, "/admin/products")
    assert (
        admin.post(
            "/admin/products",
            data={"name": "绿茶", "gtin": "6901234567892", "gs1": "on", "csrf_token": token},
        ).status_code
        == 302
    )
    with sessions() as s:
        product = s.scalar(select(Product))
        assert product.url_form == "gs1" and product.gtin == "06901234567892"
    admin.post(
        f"/admin/products/{product.id}",
        data={"name": "绿茶 500ml", "description": "新包装", "csrf_token": token},
    )
    with sessions() as s:
        assert s.get(Product, product.id).name == "绿茶 500ml"
        actions = s.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions == ["product.create", "product.update"]
    refused = admin.post(
        "/admin/products",
        data={"name": "x", "gtin": "123", "csrf_token": token},
        follow_redirects=True,
        headers={"Accept-Language": "en"},
    )
    assert "bad GTIN" in refused.get_data(as_text=True)
