"""Concurrent posts of one idempotency key on PostgreSQL create one transaction."""

import threading

import pytest
from sqlalchemy import func, select

from server.db import make_sessionmaker
from server.models import LedgerAccount, LedgerEntry, LedgerTransaction, utcnow
from server.services import ledger
from server.services.invariants import run_checks
from server.services.ledger import Account, Posting

pytestmark = pytest.mark.postgres


def _race(pg_engine, n, work):
    sessions = make_sessionmaker(pg_engine)
    barrier = threading.Barrier(n)
    results, errors = [], []

    def run(i):
        try:
            with sessions.begin() as s:
                barrier.wait()
                results.append(work(s, i))
        except Exception as exc:  # noqa: BLE001 — collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return sessions, results, errors


def test_concurrent_double_post_of_one_key_creates_one_transaction(pg_engine):
    postings = [Posting(Account("campaign", 1), -250), Posting(Account("store", 9), 250)]
    sessions, results, errors = _race(
        pg_engine,
        12,
        lambda s, i: ledger.post(
            s, key="redemption:42:store", event="redemption", postings=postings, now=utcnow()
        ),
    )
    assert errors == []
    assert sum(r.created for r in results) == 1
    assert len({r.transaction_id for r in results}) == 1
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(LedgerTransaction)) == 1
        assert s.scalar(select(func.count()).select_from(LedgerEntry)) == 2
        assert s.scalar(select(func.count()).select_from(LedgerAccount)) == 2
        assert ledger.balance(s, Account("store", 9), utcnow()).available == 250
        assert run_checks(s) == []


def test_concurrent_distinct_posts_share_accounts(pg_engine):
    sessions, results, errors = _race(
        pg_engine,
        10,
        lambda s, i: ledger.post(
            s,
            key=f"claim:{i}",
            event="claim",
            postings=[Posting(Account("campaign", 1), -100), Posting(Account("clerk", 5), 100)],
            now=utcnow(),
        ),
    )
    assert errors == [] and all(r.created for r in results)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(LedgerAccount)) == 2
        assert ledger.balance(s, Account("clerk", 5), utcnow()).available == 1000
