"""The ledger: balanced, idempotent, append-only postings and balances by status."""

import itertools
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from server.errors import DomainError
from server.models import Alert, LedgerEntry, LedgerTransaction, utcnow
from server.services import ledger
from server.services.invariants import run_checks
from server.services.ledger import Account, Balance, Posting, UnbalancedTransaction

CAMPAIGN, STORE, CLERK = Account("campaign", 1), Account("store", 1), Account("clerk", 7)


def reward(amount=100, store=STORE):
    return [Posting(CAMPAIGN, -amount), Posting(store, amount)]


def test_post_is_idempotent_by_key(session):
    now = utcnow()
    first = ledger.post(session, key="redeem:1:store", event="redemption", postings=reward(), now=now)
    again = ledger.post(session, key="redeem:1:store", event="redemption", postings=reward(), now=now)
    assert first.created and not again.created and again.transaction_id == first.transaction_id
    assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 2
    assert ledger.balance(session, STORE, now) == Balance(available=100)


def test_same_key_with_other_entries_is_refused(session):
    ledger.post(session, key="k", event="e", postings=reward(100), now=utcnow())
    with pytest.raises(DomainError) as raised:
        ledger.post(session, key="k", event="e", postings=reward(999), now=utcnow())
    assert raised.value.code == "LEDGER_KEY_REUSED"


@pytest.mark.parametrize(
    "postings, reason",
    [
        ([Posting(CAMPAIGN, -100), Posting(STORE, 99)], "do not sum to zero"),
        ([Posting(STORE, 100)], "at least two"),
        ([Posting(CAMPAIGN, -100), Posting(STORE, 100.0)], "non-zero integer"),
        ([Posting(CAMPAIGN, 0), Posting(STORE, 0)], "non-zero integer"),
        ([Posting(CAMPAIGN, -100), Posting(Account("consumer", 1, "points"), 100)], "do not sum to zero"),
        ([Posting(STORE, -100), Posting(STORE, 100)], "appears twice"),
    ],
)
def test_malformed_postings_write_nothing(session, postings, reason):
    with pytest.raises(UnbalancedTransaction, match=reason):
        ledger.post(session, key="bad", event="e", postings=postings, now=utcnow())
    assert session.scalar(select(func.count()).select_from(LedgerTransaction)) == 0


def test_units_balance_separately(session):
    points = Account("consumer", 3, "points")
    ledger.post(
        session,
        key="mixed",
        event="e",
        now=utcnow(),
        postings=[
            Posting(CAMPAIGN, -100),
            Posting(STORE, 100),
            Posting(Account("campaign", 1, "points"), -5),
            Posting(points, 5),
        ],
    )
    assert ledger.balance(session, points, utcnow()).available == 5


def test_holding_period_then_available_then_reversal(session):
    now = utcnow()
    posted = ledger.post(
        session,
        key="claim:1",
        event="clerk_claim",
        postings=reward(300, CLERK),
        now=now,
        available_at=now + timedelta(days=7),
    )
    assert ledger.balance(session, CLERK, now) == Balance(held=300)
    assert ledger.balance(session, CLERK, now + timedelta(days=8)) == Balance(available=300)
    reversal = ledger.reverse(session, transaction_id=posted.transaction_id, key="reverse:claim:1", now=now)
    # a reversal of a held credit is held on the same schedule, so nothing becomes payable
    assert ledger.balance(session, CLERK, now).total == 0
    assert ledger.balance(session, CLERK, now + timedelta(days=8)) == Balance()
    assert ledger.reverse(
        session, transaction_id=posted.transaction_id, key="reverse:claim:1", now=now
    ) == ledger.Posted(reversal.transaction_id, created=False)
    with pytest.raises(DomainError):
        ledger.reverse(session, transaction_id=posted.transaction_id, key="another-key", now=now)


def test_open_alert_holds_entries_until_released(session):
    now = utcnow()
    posted = ledger.post(session, key="r:1", event="redemption", postings=reward(), now=now)
    alert = Alert(kind="store_spike", dedupe_key="a1", created_at=now)
    session.add(alert)
    session.flush()
    entry = session.scalar(
        select(LedgerEntry.id).where(
            LedgerEntry.transaction_id == posted.transaction_id, LedgerEntry.amount > 0
        )
    )
    assert ledger.hold(session, entry_ids=[entry], alert_id=alert.id, now=now) == 1
    assert ledger.hold(session, entry_ids=[entry], alert_id=alert.id, now=now) == 0
    assert ledger.balance(session, STORE, now) == Balance(held=100)
    assert ledger.release(session, alert_id=alert.id, now=now) == 1
    assert ledger.balance(session, STORE, now) == Balance(available=100)


# --- property: any sequence of posts, repeats and reversals keeps the books sound ---------------
_example = itertools.count()
ACCOUNTS = [Account("store", 1), Account("store", 2), Account("clerk", 1), Account("consumer", 1, "points")]
operation = st.one_of(
    st.tuples(st.just("post"), st.sampled_from(ACCOUNTS[:3]), st.integers(1, 10**9)),
    st.tuples(st.just("points"), st.just(ACCOUNTS[3]), st.integers(1, 10**6)),
    st.tuples(st.just("repeat"), st.integers(0, 50), st.none()),
    st.tuples(st.just("reverse"), st.integers(0, 50), st.none()),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(operation, min_size=1, max_size=25))
def test_any_sequence_keeps_the_books_balanced(sessions, ops):
    run = next(_example)
    now = utcnow()
    expected: dict[Account, int] = {}
    posted: list[tuple[str, list[Posting], int]] = []
    reversed_ids: set[int] = set()
    with sessions.begin() as s:
        for kind, arg, amount in ops:
            if kind in ("post", "points"):
                acct = Account(arg.kind, arg.ref_id + 1000 * run, arg.unit)
                source = Account("campaign", run, arg.unit)
                postings = [Posting(source, -amount), Posting(acct, amount)]
                key = f"{run}:{len(posted)}"
                result = ledger.post(s, key=key, event="test", postings=postings, now=now)
                posted.append((key, postings, result.transaction_id))
            elif posted and kind == "repeat":
                key, postings, txn = posted[arg % len(posted)]
                assert ledger.post(s, key=key, event="test", postings=postings, now=now).transaction_id == txn
                continue
            elif posted and kind == "reverse":
                key, postings, txn = posted[arg % len(posted)]
                ledger.reverse(s, transaction_id=txn, key=f"rev:{key}", now=now)
                if txn in reversed_ids:
                    continue
                reversed_ids.add(txn)
                postings = [Posting(p.account, -p.amount) for p in postings]
            else:
                continue
            for p in postings:
                expected[p.account] = expected.get(p.account, 0) + p.amount
        for acct, total in expected.items():
            assert ledger.balance(s, acct, now).total == total
        assert run_checks(s) == []
