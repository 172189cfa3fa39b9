"""Transactions behave the same on both databases:
a savepoint taken first is rolled back with its transaction."""

from sqlalchemy import func, select

from server.db import add_unique
from server.models import Product, utcnow


def test_rollback_undoes_a_savepoint_that_was_the_first_write(sessions):
    with sessions() as s:
        assert add_unique(s, Product(name="first write", created_at=utcnow()))
        s.rollback()
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Product)) == 0


def test_add_unique_reports_a_conflict_and_keeps_the_transaction(sessions):
    with sessions.begin() as s:
        s.add(Product(name="a", gtin="06901234567892", created_at=utcnow()))
    with sessions.begin() as s:
        s.add(Product(name="kept", created_at=utcnow()))
        assert not add_unique(s, Product(name="b", gtin="06901234567892", created_at=utcnow()))
    with sessions() as s:
        assert sorted(s.scalars(select(Product.name))) == ["a", "kept"]
