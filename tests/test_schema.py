"""The migrated schema is the models' schema, money is integer, and ledger rows are append-only."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Float, Integer, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from server.migrate import current, downgrade, head_revision, upgrade
from server.models import Base
from server.models.base import utcnow
from server.services.ledger import Account, Posting, post


def test_migrated_schema_equals_models(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []
    assert current(engine) == head_revision()


def test_downgrade_and_upgrade_again(engine):
    downgrade(engine, "base")
    with engine.connect() as conn:
        assert current(engine) is None
        assert "ledger_entries" not in engine.dialect.get_table_names(conn)
    upgrade(engine)
    assert current(engine) == head_revision()


def test_money_columns_are_integers():
    floats = [
        f"{t.name}.{c.name}"
        for t in Base.metadata.tables.values()
        for c in t.columns
        if isinstance(c.type, Float)
    ]
    assert sorted(floats) == ["scans.lat", "scans.lng", "stores.lat", "stores.lng"]  # coordinates only
    for table in Base.metadata.tables.values():
        for column in table.columns:
            if column.name.endswith(("_fen", "amount", "total", "cap", "_points")):
                assert isinstance(column.type, Integer) or column.type.python_type is int, column


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_entries SET amount = amount * 2",
        "DELETE FROM ledger_entries",
        "UPDATE ledger_transactions SET event = 'x'",
        "DELETE FROM ledger_transactions",
    ],
)
def test_ledger_rows_cannot_be_changed(sessions, statement):
    with sessions.begin() as s:
        post(
            s,
            key="k",
            event="test",
            now=utcnow(),
            postings=[Posting(Account("campaign", 1), -5), Posting(Account("store", 1), 5)],
        )
    with pytest.raises(DBAPIError, match="append-only"), sessions.begin() as s:
        s.execute(text(statement))


def test_one_voucher_per_pack_is_a_constraint(sessions):
    from tests.factories import make_campaign, make_code, make_consumer, make_voucher

    with sessions.begin() as s:
        campaign, code, consumer = make_campaign(s), make_code(s), make_consumer(s)
        make_voucher(s, campaign=campaign, code=code, consumer=consumer)
    with pytest.raises(IntegrityError), sessions.begin() as s:
        make_voucher(s, campaign=campaign, code=code, consumer=consumer, voucher_code="OTHER")


def test_one_live_redemption_per_voucher_is_a_constraint(sessions):
    from tests.factories import make_redemption_setup

    with sessions.begin() as s:
        voucher, store = make_redemption_setup(s)
    from server.models import Redemption

    with sessions.begin() as s:
        s.add(Redemption(voucher_id=voucher.id, store_id=store.id, redeemed_at=utcnow()))
    with pytest.raises(IntegrityError), sessions.begin() as s:
        s.add(Redemption(voucher_id=voucher.id, store_id=store.id, redeemed_at=utcnow()))
    with sessions.begin() as s:  # a reversed redemption frees the voucher for a new one
        s.execute(text("UPDATE redemptions SET reversed_at = redeemed_at"))
        s.add(Redemption(voucher_id=voucher.id, store_id=store.id, redeemed_at=utcnow()))


def test_0003_rewrites_existing_places_in_canonical_names(engine):
    downgrade(engine, "0002")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO stores (name, province, city, address, active, created_at) VALUES "
                "('a', '上海', '上海', '', true, '2026-01-01 00:00:00'), "
                "('b', '江苏省', '南京', '', true, '2026-01-01 00:00:00'), "
                "('c', '', '', '', true, '2026-01-01 00:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO scans"
                " (raw_code, outcome, scanned_at, user_agent, geo_status, country, province, city)"
                " VALUES ('x', 'invalid', '2026-01-01 00:00:00', '', 'done', '中国', '上海', '上海'),"
                " ('y', 'invalid', '2026-01-01 00:00:00', '', 'done', '中国', '广东', NULL),"
                " ('z', 'invalid', '2026-01-01 00:00:00', '', 'done', '美国', 'California', 'Mountain View')"
            )
        )
    upgrade(engine)
    with engine.connect() as conn:
        stores = conn.execute(text("SELECT province, city FROM stores ORDER BY id")).all()
        scans = conn.execute(text("SELECT province, city FROM scans ORDER BY id")).all()
    assert [tuple(r) for r in stores] == [("上海市", "上海市"), ("江苏省", "南京市"), ("", "")]
    assert [tuple(r) for r in scans] == [
        ("上海市", "上海市"),
        ("广东省", None),
        ("California", "Mountain View"),
    ]
