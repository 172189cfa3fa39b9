"""Benchmark: recomputing one busy local day's rollups on PostgreSQL, against a bare GROUP BY of its scans.

    .venv/bin/python bench/rollups.py            # a day of 1,000,000 scans (with claims and redemptions)
    .venv/bin/python bench/rollups.py --quick    # a day of 100,000 scans, under a minute

Creates a fresh PostgreSQL database, migrates it and seeds one local day with SQL (generate_series): scans
over 8 batches, 40 cities and 50,000 consumers (every code scanned twice), a voucher for one code in five
with a clerk's claim reward, a redemption for half of them with its ledger transaction. Then in turns
(bare, recompute, bare, recompute…): (1) bare — one GROUP BY of the day's scans by batch, province and
city with a distinct count of consumers, the least any rollup of that day must read; (2) recompute —
`server.services.rollups.recompute_day`, what the refresh job does for each day touched (every source,
every measure, both tables), rolled back after each round. The refresh recomputes a touched day whole,
so this is the work behind each refresh of a launch day's "today". Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ADMIN_URL = os.environ.get("CODELOOP_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
TZ, DAY = ZoneInfo("Asia/Shanghai"), date(2026, 3, 10)
TARGET_SECONDS_PER_MILLION = 60.0  # a refresh every minute keeps up with a day of a million scans
CITIES = [(f"省{i // 4}", f"市{i}") for i in range(40)]

SEED = """
INSERT INTO products (id, name, url_form, description, created_at)
  SELECT g, 'P' || g, 'short', '', now() FROM generate_series(1, 8) g;
INSERT INTO campaigns (id, name, starts_at, ends_at, voucher_value_fen, voucher_min_spend_fen,
  voucher_valid_days, cap, budget_fen, issued_count, spent_fen, per_consumer_daily_limit,
  referral_bonus_points, referral_friend_value_fen, referral_limit_per_share, clerk_claim_reward_fen,
  clerk_redeem_reward_fen, store_fee_fen, rotating_token, attribution_minutes, created_at)
  SELECT g, 'C' || g, '2026-01-01', '2027-01-01', 500, 0, 30, 10000000, 10000000000, 0, 0, 3, 0, 0, 0,
    100, 50, 30, false, 30, now() FROM generate_series(1, 2) g;
INSERT INTO batches (id, product_id, campaign_id, quantity, paired, url_form, code_version, note, created_at)
  SELECT g, g, 1 + g % 2, 10000000, false, 'short', 1, '', now() FROM generate_series(1, 8) g;
INSERT INTO batch_ranges (id, batch_id, kind, first_serial, last_serial, distributor, regions, created_at)
  SELECT g, g, 'activate', 0, 9999999, 'D' || (g % 3), '["省1"]', now() FROM generate_series(1, 8) g;
INSERT INTO stores (id, name, province, city, address, active, created_at)
  SELECT g, 'S' || g, '省' || g, '市' || g, '', true, now() FROM generate_series(1, 20) g;
INSERT INTO users (id, username, display_name, password_hash, role, store_id, active, session_version,
  failed_logins, created_at)
  SELECT g, 'clerk' || g, '', 'x', 'clerk', 1 + g % 20, true, 1, 0, now() FROM generate_series(1, 60) g;
INSERT INTO consumers (id, public_id, created_at) SELECT g, 'c' || g, now() FROM generate_series(1, 50000) g;
INSERT INTO codes (id, batch_id, serial, kind, scan_count, first_scan_at, last_scan_at)
  SELECT g, 1 + g % 8, g, 0, 2, now(), now() FROM generate_series(1, :codes) g;
INSERT INTO scans (code_id, batch_id, serial, raw_code, outcome, scanned_at, consumer_id, clerk_id,
  geo_status, province, city, accuracy_km, user_agent)
  SELECT 1 + g % :codes, 1 + (1 + g % :codes) % 8, 1 + g % :codes, 'X', 'ok',
    :start + (g * 86399.0 / :scans) * interval '1 second', 1 + (g * 7919) % 50000,
    CASE WHEN g % 10 = 0 THEN 1 + g % 60 END, 'done', '省' || (g % 40 / 4), '市' || (g % 40), 20, ''
  FROM generate_series(1, :scans) g;
INSERT INTO vouchers (id, code, kind, campaign_id, code_id, consumer_id, clerk_id, value_fen, min_spend_fen,
  status, issued_at, expires_at)
  SELECT g, 'V' || g, 'pack', 1 + (g * 5) % 8 % 2, g * 5, 1 + (g * 7919) % 50000, 1 + g % 60, 500, 0,
    CASE WHEN g % 2 = 0 THEN 'redeemed' ELSE 'issued' END,
    :start + (g * 5 * 86000.0 / :codes) * interval '1 second', :start + interval '30 days'
  FROM generate_series(1, :codes / 5) g;
INSERT INTO redemptions (id, voucher_id, store_id, clerk_id, redeemed_at)
  SELECT g, g, 1 + g % 20, 1 + g % 60, (SELECT issued_at FROM vouchers WHERE id = g) + interval '5 minutes'
  FROM generate_series(2, :codes / 5, 2) g;
INSERT INTO ledger_accounts (id, kind, ref_id, unit)
  VALUES (1, 'campaign', 1, 'fen'), (2, 'campaign', 2, 'fen');
INSERT INTO ledger_accounts (id, kind, ref_id, unit)
  SELECT 10 + g, 'store', g, 'fen' FROM generate_series(1, 20) g;
INSERT INTO ledger_accounts (id, kind, ref_id, unit)
  SELECT 100 + g, 'clerk', g, 'fen' FROM generate_series(1, 60) g;
INSERT INTO ledger_transactions (id, key, event, details, created_at)
  SELECT id, 'redemption:' || id, 'redemption', '{}', redeemed_at FROM redemptions;
INSERT INTO ledger_transactions (id, key, event, details, created_at)
  SELECT 10000000 + id, 'claim:' || id, 'clerk_claim_reward', '{}', issued_at FROM vouchers;
INSERT INTO ledger_entries (transaction_id, account_id, amount, unit, available_at, created_at)
  SELECT r.id, 10 + r.store_id, 530, 'fen', r.redeemed_at, r.redeemed_at FROM redemptions r
  UNION ALL SELECT r.id, 1, -530, 'fen', r.redeemed_at, r.redeemed_at FROM redemptions r
  UNION ALL SELECT 10000000 + v.id, 100 + v.clerk_id, 100, 'fen', v.issued_at, v.issued_at FROM vouchers v
  UNION ALL SELECT 10000000 + v.id, 2, -100, 'fen', v.issued_at, v.issued_at FROM vouchers v;
"""
BARE = """
SELECT batch_id, province, city, count(*), count(DISTINCT consumer_id) FROM scans
 WHERE scanned_at >= :start AND scanned_at < :end GROUP BY batch_id, province, city
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 scans, 2 rounds")
    parser.add_argument("--scans", type=int, default=None)
    args = parser.parse_args()
    scans = args.scans or (100_000 if args.quick else 1_000_000)
    rounds = 2 if args.quick else 3
    from sqlalchemy import create_engine, text

    from server.db import make_engine, make_sessionmaker
    from server.migrate import upgrade
    from server.services.rollups import day_bounds, recompute_day

    name = f"codeloop_bench_rollups_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
    try:
        upgrade(engine)
        start, end = day_bounds(DAY, TZ)
        t0 = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))  # no append-only triggers
            for statement in SEED.split(";\n"):
                if statement.strip():
                    conn.execute(text(statement), {"codes": scans // 2, "scans": scans, "start": start})
            conn.execute(text("ANALYZE"))
        seeded = time.perf_counter() - t0
        sessions = make_sessionmaker(engine)
        bare, recompute, rows = [], [], 0
        for _ in range(rounds):
            with engine.connect() as conn:
                t0 = time.perf_counter()
                conn.execute(text(BARE), {"start": start, "end": end}).all()
                bare.append(time.perf_counter() - t0)
            with sessions() as session:
                t0 = time.perf_counter()
                rows = recompute_day(session, DAY, TZ)
                session.flush()
                recompute.append(time.perf_counter() - t0)
                session.rollback()
        figures = {
            "scans": scans,
            "rows_written": rows,
            "seed_s": round(seeded, 1),
            "bare_group_by_s": round(statistics.median(bare), 3),
            "recompute_day_s": round(statistics.median(recompute), 3),
        }
        figures["ratio_to_bare"] = round(figures["recompute_day_s"] / figures["bare_group_by_s"], 1)
        per_million = figures["recompute_day_s"] * 1_000_000 / scans
        figures["recompute_s_per_million_scans"] = round(per_million, 1)
        figures["targets"] = {"recompute_s_per_million_scans": TARGET_SECONDS_PER_MILLION}
        figures["targets_met"] = per_million <= TARGET_SECONDS_PER_MILLION
        print(f"bare GROUP BY {figures['bare_group_by_s']} s, recompute {figures['recompute_day_s']} s")
        print(json.dumps(figures))
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
