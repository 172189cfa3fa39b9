"""The store-side invariant checks see what they guard against (codeloop check)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from server.models import IdempotencyKey, Redemption, utcnow
from server.services.invariants import run_checks
from tests.factories import make_redemption_setup


@pytest.fixture(autouse=True)
def _invariants():
    """These tests break the invariants on purpose: no check at tear-down."""
    yield


def descriptions(session):
    return {v.description for v in run_checks(session)}


def test_a_redemption_without_money_is_reported(sessions):
    with sessions.begin() as s:
        voucher, store = make_redemption_setup(s)
        voucher.status = "redeemed"
        s.add(Redemption(voucher_id=voucher.id, store_id=store.id, redeemed_at=utcnow()))
    with sessions() as s:
        assert "every redemption has its ledger transaction" in descriptions(s)


def test_a_reversal_that_kept_the_money_is_reported(client, sessions):
    from tests.store.world import build

    world = build(sessions, vouchers=1)
    client.post("/api/v1/redemptions", json={"voucher": world.vouchers[0]}, headers=world.auth("clerk0"))
    with sessions() as s:
        assert run_checks(s) == []
    with sessions.begin() as s:  # reversed behind the ledger's back
        s.execute(text("UPDATE redemptions SET reversed_at = redeemed_at"))
        s.execute(text("UPDATE vouchers SET status = 'issued'"))
    with sessions() as s:
        assert descriptions(s) == {"a reversed redemption's money is reversed"}


def test_a_finished_key_without_response_is_reported(sessions):
    with sessions.begin() as s:
        s.add(
            IdempotencyKey(principal="user:1", key="k", request_hash="h", status="done", created_at=utcnow())
        )
    with sessions() as s:
        assert descriptions(s) == {"a finished idempotency key stores its response"}
