"""DESIGN step 6: the clerk whose promo code the consumer scanned before claiming earns a reward when the
voucher is redeemed, whoever operates the till — that clerk, another clerk, or a store's POS token. An
unattributed voucher pays no clerk. The redemption row records who operated; undo reverses what was posted."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.models import Campaign, LedgerEntry, LedgerTransaction, Redemption, User, utcnow
from server.services import ledger
from server.services.accounts import create_token
from server.services.invariants import run_checks
from tests.store.world import add_voucher, build

REWARD = 50  # the world's clerk_redeem_reward_fen; store fee 100, face value 500


@pytest.fixture
def world(sessions):
    return build(sessions, vouchers=1)  # vouchers[0] is attributed to clerk0, of store 0


def totals(sessions, world) -> dict[str, int]:
    with sessions() as s:
        now = utcnow()
        accounts = {
            "clerk0": ledger.Account("clerk", world.clerks[0]),
            "clerk1": ledger.Account("clerk", world.clerks[1]),
            "store0": ledger.Account("store", world.stores[0]),
            "store1": ledger.Account("store", world.stores[1]),
            "campaign": ledger.Account("campaign", world.campaign_id),
        }
        return {name: ledger.balance(s, account, now).total for name, account in accounts.items()}


def redeem(client, headers, voucher):
    response = client.post("/api/v1/redemptions", json={"voucher": voucher}, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["redemption"]


def undo(client, headers, redemption_id):
    assert client.post(f"/api/v1/redemptions/{redemption_id}/reverse", headers=headers).status_code == 200


def assert_undone_exactly(sessions, world, redemption_id):
    """The reversal mirrors the redemption's postings entry for entry, and every balance is back to zero."""
    with sessions() as s:
        posted = s.scalar(
            select(LedgerTransaction).where(LedgerTransaction.key == f"redemption:{redemption_id}")
        )
        reversal = s.scalar(select(LedgerTransaction).where(LedgerTransaction.reverses_id == posted.id))
        entries = {
            t: sorted(
                (e.account_id, e.amount)
                for e in s.scalars(select(LedgerEntry).where(LedgerEntry.transaction_id == t))
            )
            for t in (posted.id, reversal.id)
        }
        assert entries[reversal.id] == sorted((a, -n) for a, n in entries[posted.id])
        assert run_checks(s) == []
    assert set(totals(sessions, world).values()) == {0}


def pos_headers(sessions, world, store_index):
    with sessions.begin() as s:
        plain, _ = create_token(
            s, user=s.get(User, world.admin), store_id=world.stores[store_index], now=utcnow(), name="POS"
        )
    return {"Authorization": f"Bearer {plain}"}


def test_a_pos_token_redemption_pays_the_attributed_clerk(client, world, sessions):
    pos = pos_headers(sessions, world, 0)
    redemption = redeem(client, pos, world.vouchers[0])
    assert redemption["clerk_id"] is None  # no clerk operated the till
    assert totals(sessions, world) == {
        "clerk0": REWARD,
        "clerk1": 0,
        "store0": 600,
        "store1": 0,
        "campaign": -(600 + REWARD),
    }
    with sessions() as s:
        assert run_checks(s) == []
    undo(client, pos, redemption["id"])
    assert_undone_exactly(sessions, world, redemption["id"])


def test_another_clerks_redemption_pays_the_attributed_clerk_not_the_operator(client, world, sessions):
    redemption = redeem(client, world.auth("clerk1"), world.vouchers[0])
    with sessions() as s:
        assert s.get(Redemption, redemption["id"]).clerk_id == world.clerks[1]  # who operated, on record
    assert totals(sessions, world) == {
        "clerk0": REWARD,
        "clerk1": 0,
        "store0": 0,
        "store1": 600,
        "campaign": -(600 + REWARD),
    }
    undo(client, world.auth("clerk1"), redemption["id"])
    assert_undone_exactly(sessions, world, redemption["id"])


def test_the_attributed_clerk_redeeming_is_paid_once(client, world, sessions):
    redeem(client, world.auth("clerk0"), world.vouchers[0])
    assert totals(sessions, world)["clerk0"] == REWARD


def test_an_unattributed_voucher_pays_no_clerk(client, world, sessions):
    with sessions.begin() as s:
        code = add_voucher(s, s.get(Campaign, world.campaign_id))  # no promo code scanned before the claim
    redemption = redeem(client, world.auth("clerk0"), code)
    assert totals(sessions, world) == {"clerk0": 0, "clerk1": 0, "store0": 600, "store1": 0, "campaign": -600}
    with sessions() as s:
        assert run_checks(s) == []
    undo(client, world.auth("clerk0"), redemption["id"])
    assert_undone_exactly(sessions, world, redemption["id"])
