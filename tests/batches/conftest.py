"""Fixtures for batch tests: an admin with a bearer token, a product and a campaign."""

from datetime import timedelta

import pytest

from server.models import utcnow
from server.services.accounts import create_token, create_user
from server.services.catalog import create_campaign, create_product


@pytest.fixture
def admin_token(sessions):
    with sessions.begin() as s:
        user = create_user(s, username="brand", password="brand-password", role="admin", now=utcnow())
        plain, _ = create_token(s, user=user, now=utcnow())
    return plain


@pytest.fixture
def auth(admin_token):
    return {"Authorization": f"Bearer {admin_token}"}


@pytest.fixture
def catalogue(sessions):
    now = utcnow()
    with sessions.begin() as s:
        plain = create_product(s, name="Spring water", now=now)
        gs1 = create_product(s, name="Green tea", gtin="6901234567892", url_form="gs1", now=now)
        campaign = create_campaign(
            s,
            name="Scan to win",
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=30),
            now=now,
            voucher_value_fen=500,
            cap=1000,
            budget_fen=500_000,
        )
        return {"product": plain.id, "gs1_product": gs1.id, "campaign": campaign.id}
