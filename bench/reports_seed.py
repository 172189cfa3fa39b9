"""A brand's season of raw rows for bench/reports.py, written with PostgreSQL's COPY.

`seed(conn, n_scans, days, end_day)`: 3 campaigns, 5 products, 10 batches of 2 million codes (each with two
activated ranges shipped to distributors with intended provinces), stores and clerks in the busiest cities,
and, over `days` local days ending `end_day`: n scans (60 % first scans of a pack, the rest re-scans by the
same or another consumer, 15 % of first scans through a clerk's promo code), placed in canonical cities with
a Zipf-like spread and a daily and weekly rhythm; 35 % of packs claimed, 55 % of vouchers redeemed in a
store of the consumer's city, 3 % shared (friend vouchers, some redeemed); ledger transactions and entries
for every reward and payout; an alert (with its code) on 0.05 % of packs. Deterministic for a seed.
"""

from __future__ import annotations

import random
from array import array
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")
BATCHES, PER_BATCH, CAMPAIGNS, PRODUCTS = 10, 2_000_000, 3, 5
VALUE, FEE, CLAIM_REWARD, REDEEM_REWARD, FRIEND_VALUE, BONUS = 500, 30, 50, 100, 200, 100
HOUR_WEIGHTS = [1, 1, 1, 1, 1, 2, 4, 8, 10, 10, 11, 12, 14, 12, 10, 10, 11, 12, 15, 18, 20, 16, 8, 3]


def _places(rng: random.Random):
    from server.regions import regions

    cities = [c for c in regions().cities if c.lat is not None]
    rng.shuffle(cities)
    provinces = {p.code: p for p in regions().provinces.values()}
    weights = [1 / (i + 1) ** 0.9 for i in range(len(cities))]
    return [(provinces[c.province[:2] + "0000"].name, c.name, c.lat, c.lng) for c in cities], weights


def _copy(cur, table: str, columns: tuple[str, ...], rows) -> int:
    n = 0
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


class Seed:
    """The generator; `run()` writes everything and returns the counts."""

    def __init__(self, conn, n_scans: int, days: int, end_day: date, seed: int = 19):
        self.conn, self.n, self.days, self.end_day = conn, n_scans, days, end_day
        self.rng = random.Random(seed)
        self.start = datetime.combine(end_day - timedelta(days=days - 1), time(0), tzinfo=TZ)
        self.end = datetime.combine(end_day + timedelta(days=1), time(0), tzinfo=TZ)
        self.places, self.weights = _places(self.rng)
        self.n_codes = int(n_scans * 0.6)
        self.n_consumers = max(10, n_scans // 4)
        self.now = datetime.now(UTC)

    def run(self) -> dict:
        cur = self.conn.cursor()
        # the rows are consistent by construction: skip the foreign-key and append-only triggers while loading
        cur.execute("SET session_replication_role = replica")
        counts = self._catalogue(cur)
        counts.update(self._people(cur))
        counts.update(self._scans(cur))
        counts.update(self._vouchers(cur))
        counts.update(self._alerts(cur))
        for table in (
            "campaigns",
            "products",
            "batches",
            "batch_ranges",
            "stores",
            "users",
            "consumers",
            "codes",
            "scans",
            "vouchers",
            "referrals",
            "redemptions",
            "ledger_accounts",
            "ledger_transactions",
            "ledger_entries",
            "alerts",
        ):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        self.conn.commit()
        cur.execute("ANALYZE")
        self.conn.commit()
        return counts

    # ---- what the brand set up ----------------------------------------------------------------------

    def _catalogue(self, cur) -> dict:
        start, end = self.start - timedelta(days=30), self.end + timedelta(days=365)
        _copy(
            cur,
            "campaigns",
            (
                "id",
                "name",
                "starts_at",
                "ends_at",
                "voucher_value_fen",
                "voucher_min_spend_fen",
                "voucher_valid_days",
                "cap",
                "budget_fen",
                "issued_count",
                "spent_fen",
                "per_consumer_daily_limit",
                "referral_bonus_points",
                "referral_friend_value_fen",
                "referral_limit_per_share",
                "clerk_claim_reward_fen",
                "clerk_redeem_reward_fen",
                "store_fee_fen",
                "rotating_token",
                "attribution_minutes",
                "created_at",
            ),
            [
                (
                    i,
                    f"Campaign {i}",
                    start,
                    end,
                    VALUE,
                    0,
                    30,
                    10**9,
                    10**12,
                    0,
                    0,
                    3,
                    BONUS,
                    FRIEND_VALUE,
                    3,
                    CLAIM_REWARD,
                    REDEEM_REWARD,
                    FEE,
                    False,
                    30,
                    start,
                )
                for i in range(1, CAMPAIGNS + 1)
            ],
        )
        _copy(
            cur,
            "products",
            ("id", "name", "url_form", "description", "created_at"),
            [(i, f"Product {i}", "short", "", start) for i in range(1, PRODUCTS + 1)],
        )
        _copy(
            cur,
            "batches",
            (
                "id",
                "product_id",
                "campaign_id",
                "quantity",
                "paired",
                "url_form",
                "code_version",
                "note",
                "created_at",
            ),
            [
                (b, (b - 1) % PRODUCTS + 1, (b - 1) % CAMPAIGNS + 1, PER_BATCH, False, "short", 1, "", start)
                for b in range(1, BATCHES + 1)
            ],
        )
        provinces = sorted({p for p, *_ in self.places[:60]})
        self.ranges = {}
        rows = []
        for b in range(1, BATCHES + 1):
            for half in (0, 1):
                rid = len(rows) + 1
                first, last = half * PER_BATCH // 2, (half + 1) * PER_BATCH // 2 - 1
                region = provinces[(b * 2 + half) % len(provinces)]
                distributor = f"Distributor {(b * 2 + half) % 7 + 1}"
                rows.append((rid, b, "activate", first, last, distributor, f'["{region}"]', None, start))
                self.ranges[(b, half)] = (rid, region)
        _copy(
            cur,
            "batch_ranges",
            (
                "id",
                "batch_id",
                "kind",
                "first_serial",
                "last_serial",
                "distributor",
                "regions",
                "reason",
                "created_at",
            ),
            rows,
        )
        return {"batches": BATCHES, "printed": BATCHES * PER_BATCH}

    def _people(self, cur) -> dict:
        n_stores = max(10, min(400, self.n // 25_000))
        self.stores = []  # (id, province, city)
        for i in range(n_stores):
            province, city, *_ = self.places[i % 40]
            self.stores.append((i + 1, province, city))
        _copy(
            cur,
            "stores",
            ("id", "name", "province", "city", "address", "active", "created_at"),
            [(sid, f"Store {sid}", p, c, "", True, self.start) for sid, p, c in self.stores],
        )
        users = [(1, "admin", "Admin", "x", "admin", None, None, True, 1, 0, self.start)]
        self.clerks_of = {}
        for sid, _, _ in self.stores:
            for _ in range(5):
                uid = len(users) + 1
                users.append(
                    (uid, f"clerk{uid}", f"Clerk {uid}", "x", "clerk", sid, f"P{uid}", True, 1, 0, self.start)
                )
                self.clerks_of.setdefault(sid, []).append(uid)
        _copy(
            cur,
            "users",
            (
                "id",
                "username",
                "display_name",
                "password_hash",
                "role",
                "store_id",
                "promo_code",
                "active",
                "session_version",
                "failed_logins",
                "created_at",
            ),
            users,
        )
        self.stores_in = {}
        for sid, _, city in self.stores:
            self.stores_in.setdefault(city, []).append(sid)
        _copy(
            cur,
            "consumers",
            ("id", "public_id", "created_at"),
            ((i, f"b{i}", self.start) for i in range(1, self.n_consumers + 2 * self.n // 100)),
        )
        return {"stores": n_stores, "clerks": len(users) - 1}

    # ---- the season ----------------------------------------------------------------------------------

    def _moment(self) -> datetime:
        day = self.rng.randrange(self.days)
        hour = self.rng.choices(range(24), HOUR_WEIGHTS)[0]
        return self.start + timedelta(days=day, hours=hour, seconds=self.rng.randrange(3600))

    def _scans(self, cur) -> dict:
        rng, n_codes = self.rng, self.n_codes
        self.first_at = array("d")
        self.home = array("l")  # place index of each code's first scanner
        self.scanner = array("l")
        self.clerk = array("l")
        homes = rng.choices(range(len(self.places)), self.weights, k=self.n_consumers)
        self.homes = homes

        def scan_row(sid, code, moment, consumer, clerk, place):
            batch, serial = code % BATCHES + 1, code // BATCHES
            rid, _ = self.ranges[(batch, 0 if serial < PER_BATCH // 2 else 1)]
            province, city, lat, lng = self.places[place]
            local = moment.astimezone(TZ)
            return (
                sid,
                code + 1,
                batch,
                serial,
                "x",
                "ok",
                moment,
                "",
                consumer + 1,
                clerk or None,
                "done",
                "CN",
                "中国",
                province,
                city,
                lat,
                lng,
                25,
                local.hour,
                local.isoweekday(),
                rid,
                (moment - self.start).days + 30,
            )

        for _ in range(n_codes):  # each pack's first scan: when, by whom, through which clerk
            moment, consumer = self._moment(), rng.randrange(self.n_consumers)
            city = self.places[homes[consumer]][1]
            clerk = 0
            if rng.random() < 0.15 and city in self.stores_in:
                clerk = rng.choice(self.clerks_of[rng.choice(self.stores_in[city])])
            self.first_at.append(moment.timestamp())
            self.scanner.append(consumer)
            self.clerk.append(clerk)
        _copy(
            cur,
            "codes",
            ("id", "batch_id", "serial", "kind", "scan_count", "first_scan_at", "last_scan_at"),
            (
                (c + 1, c % BATCHES + 1, c // BATCHES, 0, 1, _t(self.first_at[c]), _t(self.first_at[c]))
                for c in range(n_codes)
            ),
        )

        def rows():
            for code in range(n_codes):
                consumer = self.scanner[code]
                yield scan_row(
                    code + 1, code, _t(self.first_at[code]), consumer, self.clerk[code], homes[consumer]
                )
            for sid in range(n_codes + 1, self.n + 1):
                code = rng.randrange(n_codes)
                first = _t(self.first_at[code])
                moment = min(
                    first + timedelta(hours=rng.expovariate(1 / 30)), self.end - timedelta(seconds=1)
                )
                consumer = self.scanner[code] if rng.random() < 0.7 else rng.randrange(self.n_consumers)
                yield scan_row(sid, code, moment, consumer, 0, homes[consumer])

        columns = (
            "id",
            "code_id",
            "batch_id",
            "serial",
            "raw_code",
            "outcome",
            "scanned_at",
            "user_agent",
            "consumer_id",
            "clerk_id",
            "geo_status",
            "country_code",
            "country",
            "province",
            "city",
            "lat",
            "lng",
            "accuracy_km",
            "local_hour",
            "weekday",
            "range_id",
            "days_since_activation",
        )
        n = _copy(cur, "scans", columns, rows())
        return {"scans": n, "codes": n_codes}

    # ---- vouchers, redemptions, shares and the ledger --------------------------------------------------

    def _vouchers(self, cur) -> dict:
        rng, end_ts = self.rng, self.end.timestamp() - 1
        vouchers, redemptions, referrals = [], [], []
        ledger = _Ledger(self)
        friend_consumer = self.n_consumers
        for code in range(self.n_codes):
            if rng.random() >= 0.35:
                continue
            vid, campaign = len(vouchers) + 1, code % BATCHES % CAMPAIGNS + 1
            issued = min(self.first_at[code] + rng.uniform(10, 900), end_ts)
            clerk = self.clerk[code]
            redeemed = rng.random() < 0.55 and issued + 3600 < end_ts
            vouchers.append(
                (
                    vid,
                    f"B{vid}",
                    "pack",
                    campaign,
                    code + 1,
                    None,
                    self.scanner[code] + 1,
                    clerk or None,
                    VALUE,
                    0,
                    "redeemed" if redeemed else "issued",
                    _t(issued),
                    _t(issued + 30 * 86400),
                    int(issued - self.first_at[code]),
                )
            )
            if clerk:
                ledger.post(f"claim:{vid}", issued, campaign, [("clerk", clerk, CLAIM_REWARD)])
            if redeemed:
                self._redeem(
                    redemptions, ledger, vid, campaign, issued, self.homes[self.scanner[code]], VALUE, None
                )
            if rng.random() < 0.03:
                shared = min(issued + rng.uniform(60, 3600), end_ts)
                rid = len(referrals) + 1
                used = 1 if rng.random() < 0.6 else 0
                referrals.append((rid, f"R{rid}", vid, self.scanner[code] + 1, 3, used, _t(shared)))
                if used:
                    friend_consumer += 1
                    fid, at = len(vouchers) + 1, min(shared + rng.uniform(60, 7200), end_ts)
                    done = rng.random() < 0.5 and at + 3600 < end_ts
                    vouchers.append(
                        (
                            fid,
                            f"B{fid}",
                            "friend",
                            campaign,
                            None,
                            rid,
                            friend_consumer,
                            None,
                            FRIEND_VALUE,
                            0,
                            "redeemed" if done else "issued",
                            _t(at),
                            _t(at + 30 * 86400),
                            None,
                        )
                    )
                    if done:
                        sharer = self.scanner[code] + 1
                        self._redeem(
                            redemptions,
                            ledger,
                            fid,
                            campaign,
                            at,
                            self.homes[self.scanner[code]],
                            FRIEND_VALUE,
                            sharer,
                        )
        _copy(
            cur,
            "vouchers",
            (
                "id",
                "code",
                "kind",
                "campaign_id",
                "code_id",
                "referral_id",
                "consumer_id",
                "clerk_id",
                "value_fen",
                "min_spend_fen",
                "status",
                "issued_at",
                "expires_at",
                "scan_to_claim_s",
            ),
            (v for v in vouchers if v[2] == "pack"),
        )
        _copy(
            cur,
            "referrals",
            ("id", "token", "voucher_id", "sharer_id", "share_limit", "used_count", "created_at"),
            referrals,
        )
        _copy(
            cur,
            "vouchers",
            (
                "id",
                "code",
                "kind",
                "campaign_id",
                "code_id",
                "referral_id",
                "consumer_id",
                "clerk_id",
                "value_fen",
                "min_spend_fen",
                "status",
                "issued_at",
                "expires_at",
                "scan_to_claim_s",
            ),
            (v for v in vouchers if v[2] == "friend"),
        )
        _copy(
            cur,
            "redemptions",
            (
                "id",
                "voucher_id",
                "store_id",
                "clerk_id",
                "redeemed_at",
                "claim_to_redeem_s",
                "province",
                "city",
            ),
            redemptions,
        )
        ledger.write(cur)
        issued = {}
        for v in vouchers:
            issued[v[3]] = issued.get(v[3], 0) + 1
        for campaign, count in issued.items():
            cur.execute("UPDATE campaigns SET issued_count = %s WHERE id = %s", (count, campaign))
        return {
            "vouchers": len(vouchers),
            "redemptions": len(redemptions),
            "referrals": len(referrals),
            "ledger_entries": len(ledger.entries),
        }

    def _redeem(self, redemptions, ledger, vid, campaign, issued, place, value, sharer) -> None:
        rng = self.rng
        at = min(issued + rng.uniform(3600, 5 * 86400), self.end.timestamp() - 1)
        city = self.places[place][1]
        store = rng.choice(self.stores_in.get(city) or [s[0] for s in self.stores])
        clerk = rng.choice(self.clerks_of[store]) if rng.random() < 0.8 else None
        rid = len(redemptions) + 1
        _, province, store_city = self.stores[store - 1]
        redemptions.append((rid, vid, store, clerk, _t(at), int(at - issued), province, store_city))
        credits = [("store", store, value + FEE)] + ([("clerk", clerk, REDEEM_REWARD)] if clerk else [])
        ledger.post(f"redemption:{rid}", at, campaign, credits, points_to=sharer)

    def _alerts(self, cur) -> dict:
        picked = sorted(self.rng.sample(range(self.n_codes), max(1, self.n_codes // 2000)))
        _copy(
            cur,
            "alerts",
            (
                "id",
                "kind",
                "severity",
                "status",
                "dedupe_key",
                "batch_id",
                "code_id",
                "details",
                "created_at",
            ),
            (
                (
                    i + 1,
                    "geo_velocity",
                    "warning",
                    "open",
                    f"bench:{c}",
                    c % BATCHES + 1,
                    c + 1,
                    '{"summary": "bench"}',
                    _t(self.first_at[c] + 3600),
                )
                for i, c in enumerate(picked)
            ),
        )
        _copy(cur, "alert_codes", ("alert_id", "code_id"), ((i + 1, c + 1) for i, c in enumerate(picked)))
        return {"alerts": len(picked)}


def _t(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


class _Ledger:
    """Accounts, transactions and entries, in memory until written with COPY (append-only tables)."""

    def __init__(self, seed: Seed):
        self.accounts: dict[tuple, int] = {}
        self.transactions: list[tuple] = []
        self.entries: list[tuple] = []

    def account(self, kind: str, ref: int, unit: str = "fen") -> int:
        return self.accounts.setdefault((kind, ref, unit), len(self.accounts) + 1)

    def post(self, key: str, at: float, campaign: int, credits, points_to: int | None = None) -> None:
        tid = len(self.transactions) + 1
        when, available = _t(at), _t(at + 7 * 86400)
        self.transactions.append((tid, key, key.split(":")[0], "{}", when))
        postings = [(self.account("campaign", campaign), -sum(a for *_, a in credits), "fen")]
        postings += [(self.account(kind, ref), amount, "fen") for kind, ref, amount in credits]
        if points_to:
            postings += [
                (self.account("campaign", campaign, "points"), -BONUS, "points"),
                (self.account("consumer", points_to, "points"), BONUS, "points"),
            ]
        for account, amount, unit in postings:
            self.entries.append((len(self.entries) + 1, tid, account, amount, unit, available, when))

    def write(self, cur) -> None:
        _copy(
            cur,
            "ledger_accounts",
            ("id", "kind", "ref_id", "unit"),
            ((i, k, r, u) for (k, r, u), i in self.accounts.items()),
        )
        _copy(cur, "ledger_transactions", ("id", "key", "event", "details", "created_at"), self.transactions)
        _copy(
            cur,
            "ledger_entries",
            ("id", "transaction_id", "account_id", "amount", "unit", "available_at", "created_at"),
            self.entries,
        )
