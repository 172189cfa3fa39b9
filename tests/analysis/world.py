"""A small brand for the channel-analysis tests: rows written directly (fakes, not mocks), times chosen."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from server.models import (
    Alert,
    AlertCode,
    Batch,
    BatchRange,
    Campaign,
    Code,
    Consumer,
    Product,
    Redemption,
    Referral,
    Scan,
    Store,
    User,
    Voucher,
)
from server.services import ledger
from server.services.ledger import Account, Posting

_worlds = itertools.count(1)
TZ = ZoneInfo("Asia/Shanghai")
BASE = datetime(2026, 3, 10, tzinfo=TZ)
PLACES = [
    ("上海市", "上海", 31.23, 121.47),
    ("江苏省", "南京", 32.06, 118.78),
    ("广东省", "广州", 23.13, 113.26),
    ("北京市", "北京", 39.90, 116.40),
    (None, None, None, None),
    ("上海", "上海", 31.20, 121.40),  # GeoLite's spelling of 上海市
]


class World:
    """Two campaigns, two batches with ranges (one with intended regions), stores, clerks, consumers."""

    def __init__(self, s) -> None:
        self.s = s
        self.n = next(_worlds)
        self.alerts = 0
        self.campaigns = [self._campaign(s, f"C{i}") for i in range(2)]
        self.batches = []
        for i, campaign in enumerate(self.campaigns):
            product = Product(name=f"P{i}")
            s.add(product)
            batch = Batch(product=product, campaign=campaign, quantity=1000)
            s.add(batch)
            s.flush()
            s.add(
                BatchRange(
                    batch_id=batch.id,
                    kind="activate",
                    first_serial=0,
                    last_serial=499,
                    distributor=f"D{i}",
                    regions=["上海市"] if i == 0 else [],
                )
            )
            s.add(
                BatchRange(
                    batch_id=batch.id,
                    kind="activate",
                    first_serial=500,
                    last_serial=999,
                    distributor="D-other",
                    regions=["广东省", "江苏"],
                )
            )
            self.batches.append(batch)
        self.stores = []
        for i, (province, city, lat, lng) in enumerate(PLACES[:2]):
            store = Store(name=f"S{i}", province=province, city=city, lat=lat, lng=lng)
            s.add(store)
            s.flush()
            self.stores.append(store)
        self.clerks = []
        for i, store in enumerate(self.stores):
            clerk = User(username=f"clerk{i}-{store.id}", password_hash="x", role="clerk", store_id=store.id)
            s.add(clerk)
            self.clerks.append(clerk)
        self.consumers = [Consumer(public_id=f"w{i}-{self.n}", device_id=f"dev{i}") for i in range(4)]
        s.add_all(self.consumers)
        s.flush()
        self.codes: dict[tuple[int, int], Code] = {}

    @staticmethod
    def _campaign(s, name) -> Campaign:
        campaign = Campaign(
            name=name,
            starts_at=BASE - timedelta(days=30),
            ends_at=BASE + timedelta(days=30),
            voucher_value_fen=500,
            cap=10_000,
            budget_fen=10**9,
            clerk_claim_reward_fen=100,
            clerk_redeem_reward_fen=50,
            store_fee_fen=30,
            referral_bonus_points=10,
            referral_friend_value_fen=200,
            referral_limit_per_share=5,
        )
        s.add(campaign)
        s.flush()
        return campaign

    def code(self, batch_index: int, serial: int, at: datetime) -> Code:
        key = (batch_index, serial)
        if key not in self.codes:
            code = Code(
                batch_id=self.batches[batch_index].id, serial=serial, first_scan_at=at, last_scan_at=at
            )
            self.s.add(code)
            self.s.flush()
            self.codes[key] = code
        return self.codes[key]

    def scan(
        self,
        batch_index,
        serial,
        consumer,
        place,
        at,
        *,
        clerk=None,
        outcome="ok",
        pending=False,
        net="net-a",
        accuracy=20,
    ) -> Scan:
        code = self.code(batch_index, serial, at)
        province, city, lat, lng = PLACES[place]
        scan = Scan(
            code_id=code.id,
            batch_id=code.batch_id,
            serial=serial,
            raw_code="X",
            outcome=outcome,
            scanned_at=at,
            consumer_id=self.consumers[consumer].id,
            clerk_id=self.clerks[clerk].id if clerk is not None else None,
            geo_status="pending" if pending else ("done" if province else "unknown"),
            province=None if pending else province,
            city=None if pending else city,
            lat=None if pending else lat,
            lng=None if pending else lng,
            accuracy_km=accuracy,
            net_hash=net,
        )
        self.s.add(scan)
        self.s.flush()
        return scan

    def claim(self, code: Code, consumer, at, *, clerk=None, seconds=None) -> Voucher:
        campaign_id = self.s.get(Batch, code.batch_id).campaign_id
        voucher = Voucher(
            code=f"V{code.id}",
            kind="pack",
            campaign_id=campaign_id,
            code_id=code.id,
            consumer_id=self.consumers[consumer].id,
            clerk_id=self.clerks[clerk].id if clerk is not None else None,
            value_fen=500,
            issued_at=at,
            expires_at=at + timedelta(days=30),
            scan_to_claim_s=seconds,
        )
        self.s.add(voucher)
        self.s.flush()
        if voucher.clerk_id:
            ledger.post(
                self.s,
                key=f"claim:{voucher.id}",
                event="clerk_claim_reward",
                now=at,
                postings=[
                    Posting(Account("campaign", campaign_id), -100),
                    Posting(Account("clerk", voucher.clerk_id), 100),
                ],
            )
        return voucher

    def share(self, voucher: Voucher, at) -> Referral:
        referral = Referral(
            token=f"R{voucher.id}",
            voucher_id=voucher.id,
            sharer_id=voucher.consumer_id,
            share_limit=5,
            created_at=at,
        )
        self.s.add(referral)
        self.s.flush()
        return referral

    def friend(self, referral: Referral, consumer, at) -> Voucher:
        sharer_voucher = self.s.get(Voucher, referral.voucher_id)
        voucher = Voucher(
            code=f"F{referral.id}-{consumer}",
            kind="friend",
            campaign_id=sharer_voucher.campaign_id,
            referral_id=referral.id,
            consumer_id=self.consumers[consumer].id,
            value_fen=200,
            issued_at=at,
            expires_at=at + timedelta(days=30),
        )
        self.s.add(voucher)
        self.s.flush()
        return voucher

    def redeem(self, voucher: Voucher, store, at, *, clerk=None, seconds=None) -> Redemption:
        store_row = self.stores[store]
        redemption = Redemption(
            voucher_id=voucher.id,
            store_id=store_row.id,
            redeemed_at=at,
            clerk_id=self.clerks[clerk].id if clerk is not None else None,
            claim_to_redeem_s=seconds,
        )
        self.s.add(redemption)
        voucher.status = "redeemed"
        self.s.flush()
        postings = [Posting(Account("store", store_row.id), voucher.value_fen + 30)]
        if voucher.clerk_id:  # the attributed clerk earns it, whoever redeemed
            postings.append(Posting(Account("clerk", voucher.clerk_id), 50))
        postings.insert(
            0, Posting(Account("campaign", voucher.campaign_id), -sum(p.amount for p in postings))
        )
        if voucher.kind == "friend":
            sharer = self.s.get(Referral, voucher.referral_id).sharer_id
            postings += [
                Posting(Account("campaign", voucher.campaign_id, "points"), -10),
                Posting(Account("consumer", sharer, "points"), 10),
            ]
        ledger.post(self.s, key=f"redemption:{redemption.id}", event="redemption", now=at, postings=postings)
        return redemption

    def reverse(self, redemption: Redemption, at) -> None:
        from sqlalchemy import select

        from server.models import LedgerTransaction

        txn = self.s.execute(
            select(LedgerTransaction.id).where(LedgerTransaction.key == f"redemption:{redemption.id}")
        ).scalar_one()
        ledger.reverse(self.s, transaction_id=txn, key=f"reversal:{redemption.id}", now=at)
        redemption.reversed_at = at
        self.s.get(Voucher, redemption.voucher_id).status = "issued"
        self.s.flush()

    def alert_on(self, code: Code, at, status="open") -> Alert:
        self.alerts += 1
        alert = Alert(
            kind="test", dedupe_key=f"t:{code.id}:{self.n}:{self.alerts}", status=status, created_at=at
        )
        self.s.add(alert)
        self.s.flush()
        self.s.add(AlertCode(alert_id=alert.id, code_id=code.id))
        self.s.flush()
        return alert
