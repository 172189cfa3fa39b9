"""Real concurrent requests against PostgreSQL: one success per voucher, idempotent retries, and
reversals racing settlement runs. Each thread has its own test client; a Barrier releases them together."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from server.db import make_sessionmaker
from server.models import (
    IdempotencyKey,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Redemption,
    Settlement,
    SettlementItem,
    utcnow,
)
from server.services.invariants import run_checks
from tests.conftest import make_config
from tests.store.world import build

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_sessions(pg_engine):
    return make_sessionmaker(pg_engine)


@pytest.fixture
def pg_app(pg_engine, pg_url, tmp_path):
    from server.app import create_app

    app = create_app(make_config(pg_url, tmp_path, hold_days=0))
    yield app
    app.extensions["codeloop"].engine.dispose()


@pytest.fixture(autouse=True)
def _invariants(pg_sessions):
    yield
    with pg_sessions() as s:
        assert run_checks(s) == []


def together(app, calls):
    """Run each call(client) in its own thread, released at once; returns the results in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def worker(i, call):
        client = app.test_client()
        barrier.wait()
        try:
            results[i] = call(client)
        except Exception as exc:  # surfaced by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not [r for r in results if isinstance(r, Exception)], results
    return results


def redeem_call(world, who, voucher, key=None):
    def call(client):
        r = client.post("/api/v1/redemptions", json={"voucher": voucher}, headers=world.auth(who, key))
        return r.status_code, r.get_json()

    return call


def ledger_rows(sessions):
    with sessions() as s:
        return (
            s.scalar(select(func.count()).select_from(LedgerTransaction)),
            s.scalar(select(func.count()).select_from(LedgerEntry)),
            s.scalar(select(func.count()).select_from(Redemption)),
        )


def test_fifty_redemptions_of_one_voucher_by_one_clerk(pg_app, pg_sessions):
    world = build(pg_sessions, vouchers=1)
    results = together(pg_app, [redeem_call(world, "clerk0", world.vouchers[0]) for _ in range(50)])
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 1, 409: 49}
    winner = next(body for status, body in results if status == 201)["redemption"]
    for status, body in results:
        if status == 409:
            error = body["error"]
            assert error["code"] == "VOUCHER_ALREADY_REDEEMED"
            assert error["details"]["same_store"] is True and error["details"]["store"] == "一号店"
            assert error["details"]["redeemed_at_utc"] == winner["redeemed_at"]
            assert "一号店" in error["message"] and error["details"]["redeemed_at"] in error["message"]
    assert ledger_rows(pg_sessions) == (1, 3, 1)  # one set of postings: campaign, store, clerk


def test_fifty_redemptions_by_clerks_of_two_stores(pg_app, pg_sessions):
    world = build(pg_sessions, vouchers=1)
    calls = [redeem_call(world, f"clerk{i % 2}", world.vouchers[0]) for i in range(50)]
    results = together(pg_app, calls)
    assert Counter(status for status, _ in results) == {201: 1, 409: 49}
    winner_index = next(i for i, (status, _) in enumerate(results) if status == 201)
    winner_store = world.stores[winner_index % 2]
    for i, (status, body) in enumerate(results):
        if status != 409:
            continue
        details = body["error"]["details"]
        assert body["error"]["code"] == "VOUCHER_ALREADY_REDEEMED" and details["redeemed_at"]
        same = world.stores[i % 2] == winner_store
        assert details["same_store"] is same
        assert ("store_id" in details) is same  # where only for the same store
    assert ledger_rows(pg_sessions) == (1, 3, 1)
    with pg_sessions() as s:
        assert s.scalar(select(Redemption.store_id)) == winner_store


def test_concurrent_retries_with_one_idempotency_key(pg_app, pg_sessions):
    world = build(pg_sessions, vouchers=1)
    key = str(uuid.uuid4())
    results = together(pg_app, [redeem_call(world, "clerk0", world.vouchers[0], key) for _ in range(20)])
    done = [(status, body) for status, body in results if status == 201]
    in_progress = [body for status, body in results if status == 409]
    assert len(done) >= 1 and len(done) + len(in_progress) == 20
    assert all(body == done[0][1] for _, body in done)  # the winner's response, replayed
    assert all(body["error"]["code"] == "REQUEST_IN_PROGRESS" for body in in_progress)
    rows = ledger_rows(pg_sessions)
    retries = together(pg_app, [redeem_call(world, "clerk0", world.vouchers[0], key) for _ in range(10)])
    assert retries == [(201, done[0][1])] * 10  # identical responses afterwards
    assert ledger_rows(pg_sessions) == rows == (1, 3, 1)
    with pg_sessions() as s:
        assert s.scalar(select(func.count()).select_from(IdempotencyKey)) == 1


def test_a_till_redemption_reads_its_token_and_its_key_in_one_statement(pg_app, pg_sessions):
    from sqlalchemy import event

    world = build(pg_sessions, vouchers=4)
    for warm in world.vouchers[:2]:  # opens the accounts: the store's, and the attributed clerks' (0 and 1)
        assert redeem_call(world, "clerk0", warm)(pg_app.test_client())[0] == 201
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement.split()[0])

    engine = pg_app.extensions["codeloop"].engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        status, _ = redeem_call(world, "clerk0", world.vouchers[2], str(uuid.uuid4()))(pg_app.test_client())
        keyless, _ = redeem_call(world, "clerk0", world.vouchers[3])(pg_app.test_client())
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert (status, keyless) == (201, 201)
    # token and key state, the redeeming statement, the ledger entries, the stored answer; then without a key
    assert statements == ["SELECT", "WITH", "INSERT", "INSERT"] + ["SELECT", "WITH", "INSERT"]


def test_a_key_held_by_a_running_request_is_refused_then_free_when_it_ends(pg_app, pg_sessions):
    """While another transaction holds the key (a request still running), the same key gets
    REQUEST_IN_PROGRESS and nothing changes; once that transaction ends — committed nothing, or died — the
    key is free: no lease to wait out."""
    from server.models import ApiToken
    from server.services import idempotency
    from server.services.accounts import hash_token
    from server.services.idempotency import request_hash

    world = build(pg_sessions, vouchers=1)
    call = redeem_call(world, "clerk0", world.vouchers[0], "busy")
    fingerprint = request_hash("POST", "/api/v1/redemptions", {"voucher": world.vouchers[0]})
    with pg_sessions() as s:
        token_id = s.scalar(
            select(ApiToken.id).where(ApiToken.token_hash == hash_token(world.tokens["clerk0"]))
        )
    principal = f"token:{token_id}"
    with pg_sessions() as running:
        _, replay = idempotency.begin(
            running, principal=principal, key="busy", fingerprint=fingerprint, now=utcnow()
        )
        assert replay is None
        status, body = call(pg_app.test_client())
        assert (status, body["error"]["code"]) == (409, "REQUEST_IN_PROGRESS")
        assert ledger_rows(pg_sessions) == (0, 0, 0)
        running.rollback()  # the running request died before committing anything
    status, first = call(pg_app.test_client())
    assert status == 201
    assert call(pg_app.test_client()) == (201, first)  # replayed


def test_concurrent_reversal_and_reuse_keep_one_live_redemption(pg_app, pg_sessions):
    world = build(pg_sessions, vouchers=1)
    first = pg_app.test_client().post(
        "/api/v1/redemptions", json={"voucher": world.vouchers[0]}, headers=world.auth("clerk0")
    )
    rid = first.get_json()["redemption"]["id"]

    def reverse(client):
        r = client.post(f"/api/v1/redemptions/{rid}/reverse", headers=world.auth("clerk0"))
        return r.status_code, r.get_json()

    results = together(pg_app, [reverse] * 10 + [redeem_call(world, "clerk1", world.vouchers[0])] * 10)
    reversals = Counter(status for status, _ in results[:10])
    assert reversals == {200: 1, 409: 9}
    assert sum(1 for status, _ in results[10:] if status == 201) <= 1


def test_reversal_racing_settlement_is_excluded_or_clawed_back_never_both_never_neither(pg_app, pg_sessions):
    world = build(pg_sessions, vouchers=30)
    client = pg_app.test_client()
    rids = [
        client.post("/api/v1/redemptions", json={"voucher": code}, headers=world.auth("clerk0")).get_json()[
            "redemption"
        ]["id"]
        for code in world.vouchers
    ]

    def reverse(rid):
        def call(c):
            return c.post(f"/api/v1/redemptions/{rid}/reverse", headers=world.auth("clerk0")).status_code

        return call

    def settle(c):
        return c.post(
            "/api/v1/settlements/run", json={"period_end": utcnow().isoformat()}, headers=world.auth("admin")
        ).status_code

    results = together(pg_app, [reverse(rid) for rid in rids] + [settle, settle, settle])
    assert results[:30] == [200] * 30 and set(results[30:]) <= {200, 201}
    first_run = {}
    with pg_sessions() as s:
        for sid, period_end in s.execute(select(Settlement.id, Settlement.period_end)):
            first_run[sid] = period_end
    # a final run collects whatever the race left: every entry ends up in exactly one statement
    final = client.post(
        "/api/v1/settlements/run",
        json={"period_end": (utcnow() + timedelta(seconds=0)).isoformat()},
        headers=world.auth("admin"),
    )
    assert final.status_code in (200, 201)
    with pg_sessions() as s:
        store_account = s.scalar(
            select(LedgerAccount.id).where(
                LedgerAccount.kind == "store", LedgerAccount.ref_id == world.stores[0]
            )
        )
        entries = s.execute(
            select(LedgerEntry.id, LedgerEntry.amount, LedgerTransaction.key, SettlementItem.settlement_id)
            .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
            .outerjoin(SettlementItem, SettlementItem.entry_id == LedgerEntry.id)
            .where(LedgerEntry.account_id == store_account)
        ).all()
        assert len(entries) == 60 and all(sid is not None for *_, sid in entries)  # never neither
        period = dict(s.execute(select(Settlement.id, Settlement.period_end)).all())
        by_redemption = {}
        for _, amount, key, sid in entries:
            rid = int(key.rsplit(":", 1)[1])
            by_redemption.setdefault(rid, {})["reversal" if key.startswith("reversal:") else "original"] = (
                amount,
                sid,
            )
        for pair in by_redemption.values():
            (orig_amount, orig_sid), (rev_amount, rev_sid) = pair["original"], pair["reversal"]
            assert orig_amount == -rev_amount == 600
            # never both: a clawback is never settled before (or without) the payout it claws back
            assert period[rev_sid] >= period[orig_sid]
        totals = s.execute(
            select(func.sum(Settlement.total)).where(Settlement.account_id == store_account)
        ).scalar()
        assert totals == 0  # over all statements the reversed money nets out exactly
