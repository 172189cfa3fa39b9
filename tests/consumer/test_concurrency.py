"""Real concurrent requests against PostgreSQL: the database enforces one voucher per pack, the cap and
budget, and the per-consumer daily limit. Each thread has its own test client (its own cookies); a Barrier
lines them up so the claims really overlap."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from server.models import Campaign, Code, Scan, Voucher
from server.services.invariants import run_checks
from tests.conftest import make_config
from tests.consumer.conftest import assert_one_winner, build_world, csrf_of

pytestmark = pytest.mark.postgres
UNLIMITED = dict(rate_limit_scan="1000000/minute", rate_limit_claim="1000000/minute")


@pytest.fixture
def pg_app(pg_engine, pg_url, tmp_path):
    from server.app import create_app

    app = create_app(make_config(pg_url, tmp_path, **UNLIMITED))
    yield app
    app.extensions["codeloop"].engine.dispose()


def checks(world):
    with world.session() as s:
        assert run_checks(s) == []


def test_twenty_phones_claim_one_pack_at_once(pg_app):
    world = build_world(pg_app)
    code = world.code(42)
    n = 20
    barrier = threading.Barrier(n)

    def phone(_):
        client = pg_app.test_client()
        barrier.wait()
        token = csrf_of(client.get(f"/S/{code}").get_data(as_text=True))
        barrier.wait()
        return client.post(f"/S/{code}/claim", data={"csrf_token": token}).status_code

    with ThreadPoolExecutor(n) as pool:
        assert_one_winner(world, list(pool.map(phone, range(n))))
    with world.session() as s:
        assert s.execute(select(Code.scan_count)).scalar_one() == n
        assert len(set(s.execute(select(Scan.consumer_id)).scalars())) == n
        campaign = s.get(Campaign, world.campaign_id)
        assert (campaign.issued_count, campaign.spent_fen) == (1, 500)
    checks(world)


def test_five_hundred_packs_against_a_cap_of_one_hundred(pg_app):
    world = build_world(pg_app, cap=100, budget_fen=60_000, per_consumer_daily_limit=3)
    packs = 500
    clients = [pg_app.test_client() for _ in range(packs)]
    with ThreadPoolExecutor(25) as pool:
        tokens = list(
            pool.map(
                lambda i: csrf_of(clients[i].get(f"/S/{world.code(i)}").get_data(as_text=True)), range(packs)
            )
        )
    barrier = threading.Barrier(25)

    def claim(i):
        if i < 25:
            barrier.wait()
        return clients[i].post(f"/S/{world.code(i)}/claim", data={"csrf_token": tokens[i]}).status_code

    with ThreadPoolExecutor(25) as pool:
        statuses = list(pool.map(claim, range(packs)))
    assert statuses.count(303) == 100 and statuses.count(409) == 400
    with world.session() as s:
        vouchers = s.execute(select(func.count(), func.sum(Voucher.value_fen))).one()
        assert vouchers[0] == 100 and vouchers[1] == 50_000
        campaign = s.get(Campaign, world.campaign_id)
        assert campaign.issued_count == 100 and campaign.spent_fen == 50_000 <= campaign.budget_fen
    checks(world)


def test_budget_binds_before_the_cap(pg_app):
    world = build_world(pg_app, cap=100, budget_fen=10_250)  # room for 20 vouchers of ¥5
    clients = [pg_app.test_client() for _ in range(60)]
    tokens = [csrf_of(c.get(f"/S/{world.code(i)}").get_data(as_text=True)) for i, c in enumerate(clients)]
    barrier = threading.Barrier(30)

    def claim(i):
        barrier.wait() if i < 30 else None
        return clients[i].post(f"/S/{world.code(i)}/claim", data={"csrf_token": tokens[i]}).status_code

    with ThreadPoolExecutor(30) as pool:
        assert list(pool.map(claim, range(60))).count(303) == 20
    with world.session() as s:
        assert s.get(Campaign, world.campaign_id).spent_fen == 10_000
    checks(world)


def test_one_consumer_claims_ten_packs_against_a_daily_limit_of_three(pg_app):
    world = build_world(pg_app, per_consumer_daily_limit=3)
    first = pg_app.test_client()
    token = csrf_of(first.get(f"/S/{world.code(0)}").get_data(as_text=True))
    cookies = {name: first.get_cookie(name).value for name in ("cl_c", "cl_d", "session")}
    n = 10
    barrier = threading.Barrier(n)

    def claim(i):
        client = pg_app.test_client()
        for name, value in cookies.items():
            client.set_cookie(name, value)
        barrier.wait()
        return client.post(f"/S/{world.code(i)}/claim", data={"csrf_token": token}).status_code

    with ThreadPoolExecutor(n) as pool:
        statuses = list(pool.map(claim, range(n)))
    assert statuses.count(303) == 3 and statuses.count(429) == 7
    with world.session() as s:
        owners = s.execute(select(Voucher.consumer_id)).scalars().all()
        assert len(owners) == 3 and len(set(owners)) == 1
    checks(world)
