"""Small builders for test rows (fakes passed in, not mocks)."""

from __future__ import annotations

from datetime import timedelta

from server.models import Batch, Campaign, Code, Consumer, Product, Store, Voucher, utcnow

_counter = iter(range(1, 10**9))


def make_campaign(s, **overrides) -> Campaign:
    now = utcnow()
    values = dict(
        name="Test campaign",
        starts_at=now - timedelta(days=1),
        ends_at=now + timedelta(days=30),
        voucher_value_fen=500,
        voucher_min_spend_fen=0,
        voucher_valid_days=30,
        cap=100,
        budget_fen=50_000,
        per_consumer_daily_limit=3,
    )
    values.update(overrides)
    campaign = Campaign(**values)
    s.add(campaign)
    s.flush()
    return campaign


def make_batch(s, *, campaign=None, quantity=1000, paired=False) -> Batch:
    product = Product(name=f"Product {next(_counter)}")
    s.add(product)
    batch = Batch(product=product, campaign=campaign or make_campaign(s), quantity=quantity, paired=paired)
    s.add(batch)
    s.flush()
    return batch


def make_code(s, *, batch=None, serial=None) -> Code:
    code = Code(
        batch_id=(batch or make_batch(s)).id, serial=serial if serial is not None else next(_counter), kind=0
    )
    s.add(code)
    s.flush()
    return code


def make_consumer(s) -> Consumer:
    consumer = Consumer(public_id=f"c{next(_counter)}")
    s.add(consumer)
    s.flush()
    return consumer


def make_voucher(s, *, campaign, consumer, code=None, voucher_code=None) -> Voucher:
    now = utcnow()
    voucher = Voucher(
        code=voucher_code or f"V{next(_counter)}",
        kind="pack",
        campaign_id=campaign.id,
        code_id=(code or make_code(s)).id,
        consumer_id=consumer.id,
        value_fen=campaign.voucher_value_fen,
        issued_at=now,
        expires_at=now + timedelta(days=30),
    )
    s.add(voucher)
    s.flush()
    return voucher


def make_store(s, name="Test store") -> Store:
    store = Store(name=name, province="上海市", city="上海市")
    s.add(store)
    s.flush()
    return store


def make_redemption_setup(s):
    campaign = make_campaign(s)
    return make_voucher(s, campaign=campaign, consumer=make_consumer(s)), make_store(s)
