"""The demo brand `codeloop demo` seeds shows every part of the loop on first open, on either database."""

from __future__ import annotations

from sqlalchemy import func, select

from server.config import Config
from server.models import Scan, Settlement, User, Voucher, utcnow
from server.services import claims, demo, ledger, settlements
from server.services.ledger import Account
from tests.conftest import SECRET


def seed(session):
    from codegen.codes import Codec
    from codegen.ids import PublicIds

    secret = SECRET.encode()
    terms = claims.Terms(secret=secret, tz=Config().tz, hold_days=7)
    return demo.seed(session, now=utcnow(), keys=demo.Keys(Codec(secret), PublicIds(secret), terms))


def test_the_demo_shows_every_part_of_the_loop(sessions):
    with sessions.begin() as s:
        info = seed(s)
    with sessions() as s:
        clerks = s.execute(select(User).where(User.role == "clerk").order_by(User.id)).scalars().all()
        assert [c.username for c in clerks] == ["clerk1", "clerk2"] and all(c.promo_code for c in clerks)
        assert [name for name, _, _ in info["clerks"]] == ["clerk1", "clerk2"]
        assert [name for name, _ in info["owners"]] == ["owner1", "owner2"]
        vouchers = s.execute(select(Voucher).order_by(Voucher.id)).scalars().all()
        assert {v.kind for v in vouchers} == {"pack", "friend"} and all(
            v.clerk_id for v in vouchers if v.kind == "pack"
        )
        assert [v.same_network for v in vouchers if v.kind == "friend"] == [
            False,
            True,
        ]  # referral-loop evidence
        assert sum(v.status == "redeemed" for v in vouchers) == 3
        statuses = sorted(s.execute(select(Settlement.status)).scalars())
        assert statuses == ["open", "paid"]  # last week's statements: the clerk's open, the store's paid
        sharer = vouchers[0].consumer_id
        assert ledger.balance(s, Account("consumer", sharer, "points"), utcnow()).total == 100
        waiting = settlements.waiting(s, now=utcnow())
        assert waiting.entries and waiting.total > 0  # and newer money still held: the payout page says so
        scans = s.execute(select(func.count()).select_from(Scan)).scalar_one()
        assert scans == 5 and info["redeemed_voucher"] == vouchers[0].code
    with sessions.begin() as s:  # running the demo again changes nothing
        seed(s)
    with sessions() as s:
        assert s.execute(select(func.count()).select_from(Voucher)).scalar_one() == len(vouchers)
