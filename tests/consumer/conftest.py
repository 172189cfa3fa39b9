"""Shared set-up for the consumer-loop tests: an activated batch on the app's own database."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from server.models import BatchRange, Scan, Store, User, Voucher
from tests.factories import make_batch, make_campaign

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class World:
    app: object
    codec: object
    batch_id: int
    campaign_id: int
    quantity: int

    def code(self, serial: int, kind: int = 0) -> str:
        return self.codec.encode(self.batch_id, serial, kind)

    def session(self):
        return self.app.extensions["codeloop"].sessions()


def build_world(app, *, quantity=1000, paired=False, activate=True, gtin=None, **campaign) -> World:
    runtime = app.extensions["codeloop"]
    with runtime.sessions() as s:
        c = make_campaign(s, **campaign)
        b = make_batch(s, campaign=c, quantity=quantity, paired=paired)
        if gtin:
            b.product.gtin = gtin
        if activate:
            s.add(
                BatchRange(
                    batch_id=b.id,
                    kind="activate",
                    first_serial=0,
                    last_serial=quantity - 1,
                    regions=["上海市"],
                    distributor="East",
                )
            )
        s.commit()
        return World(app, runtime.codec, b.id, c.id, quantity)


def make_clerk(s, store: Store, username="clerk1") -> User:
    clerk = User(username=username, display_name="小王", password_hash="x", role="clerk", store_id=store.id)
    s.add(clerk)
    s.flush()
    return clerk


def assert_one_winner(world: World, statuses: list[int]) -> None:
    """Phones claimed one pack at once: one got the voucher (303), the rest were told it is taken (409), and
    every phone's scan was recorded."""
    n = len(statuses)
    assert sorted(statuses) == [303] + [409] * (n - 1)
    with world.session() as s:
        assert s.execute(select(func.count()).select_from(Voucher)).scalar_one() == 1
        assert s.execute(select(func.count()).select_from(Scan).where(Scan.outcome == "ok")).scalar_one() == n


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


@pytest.fixture
def world(app):
    return build_world(app)
