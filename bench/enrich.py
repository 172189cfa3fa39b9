"""Benchmark: scans enriched per second by one worker, against bare geoip2 City look-ups in the same run.

    .venv/bin/python bench/enrich.py            # 5 rounds of 20,000 scans
    .venv/bin/python bench/enrich.py --quick    # 3 rounds of 5,000, under a minute
    .venv/bin/python bench/enrich.py --sqlite   # on a SQLite file instead of PostgreSQL

Creates a fresh PostgreSQL database, migrates it, seeds a batch with an activated range, then in turns
(bare, enrich, bare, enrich …, so that drift in the machine's speed falls on both alike): (1) bare —
`geoip2.database.Reader(...).city(ip)` over the round's addresses, the rate a worker could place scans if
it did nothing else; (2) enrich — the round's scans inserted pending, then `workers.geo.enrich_scans()`
in this process (what one `codeloop worker` runs for a poke or a sweep): chunks taken FOR UPDATE SKIP
LOCKED, GeoIP place in canonical names, local time, range and days since activation, network hash, one
bulk UPDATE per chunk and the codes' first city. Addresses: half from Chinese operators' blocks, half
anywhere, each used once. The ratio is the median of the rounds' ratios (each enrich round against the
bare round just before it, so both saw the same machine); the ratio of the medians is printed too. Ends
with one JSON line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import interleave  # noqa: E402

ADMIN_URL = os.environ.get("CODELOOP_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SECRET = "bench-secret-0123456789-0123456789-abcdef"
TARGET_RATIO = 0.40
CHINESE_BLOCKS = (58, 59, 60, 61, 101, 106, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122)
CHINESE_BLOCKS += (123, 124, 125, 175, 180, 182, 183, 202, 203, 210, 211, 218, 219, 220, 221, 222, 223)


def addresses(n: int, rng: random.Random) -> list[str]:
    out = []
    for i in range(n):
        first = rng.choice(CHINESE_BLOCKS) if i % 2 else rng.randint(1, 223)
        out.append(f"{first}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}")
    return out


def database(sqlite: bool) -> tuple[str, callable]:
    from sqlalchemy import create_engine, text

    if sqlite:
        path = Path(f"/tmp/codeloop-bench-enrich-{uuid.uuid4().hex[:8]}.sqlite3")
        return f"sqlite:///{path}", lambda: path.unlink(missing_ok=True)
    name = f"codeloop_bench_enrich_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return ADMIN_URL.rsplit("/", 1)[0] + "/" + name, drop


def seed(runtime) -> int:
    """A product, a campaign and a batch of 10 million codes with its first 5 million activated."""
    from server.db import transaction
    from server.models import Batch, BatchRange, Campaign, Product

    now = datetime.now(UTC)
    with transaction(runtime.sessions) as s:
        product = Product(name="bench")
        campaign = Campaign(
            name="bench", starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=30),
            voucher_value_fen=500, cap=10**9, budget_fen=10**12,
        )  # fmt: skip
        s.add_all([product, campaign])
        s.flush()
        batch = Batch(product_id=product.id, campaign_id=campaign.id, quantity=10_000_000)
        s.add(batch)
        s.flush()
        s.add(
            BatchRange(
                batch_id=batch.id, kind="activate", first_serial=0, last_serial=4_999_999,
                regions=["上海市"], created_at=now - timedelta(days=40),
            )
        )  # fmt: skip
        return batch.id


def insert_pending(runtime, batch_id: int, ips: list[str], serial0: int) -> None:
    from sqlalchemy import insert

    from server.db import transaction
    from server.models import Scan

    now = datetime.now(UTC)
    rows = [
        dict(batch_id=batch_id, serial=serial0 + i, raw_code="X", outcome="ok", scanned_at=now, ip=ip,
             user_agent="", geo_status="pending")
        for i, ip in enumerate(ips)
    ]  # fmt: skip
    with transaction(runtime.sessions) as s:
        s.execute(insert(Scan), rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds of 5,000 scans")
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead of PostgreSQL")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--scans", type=int, help="scans per round")
    args = parser.parse_args()
    rounds = args.rounds or (3 if args.quick else 5)
    per_round = args.scans or (5_000 if args.quick else 20_000)

    import geoip2.database
    import geoip2.errors

    from server.config import Config
    from server.geo import bundled_database
    from server.migrate import upgrade
    from server.runtime import build
    from workers.geo import enrich_scans

    url, drop = database(args.sqlite)
    try:
        runtime = build(Config(database_url=url, secret_key=SECRET, testing=True))
        upgrade(runtime.engine)
        batch_id = seed(runtime)
        rng = random.Random(18)
        batches = [addresses(per_round, rng) for _ in range(rounds)]
        reader = geoip2.database.Reader(bundled_database())
        runtime.geo.lookup("1.2.4.8")  # load the regions list and the reader before timing

        def bare(i: int) -> float:
            start = time.perf_counter()
            for ip in batches[i]:
                with contextlib.suppress(geoip2.errors.AddressNotFoundError):
                    reader.city(ip)
            return len(batches[i]) / (time.perf_counter() - start)

        def enrich(i: int) -> float:
            insert_pending(runtime, batch_id, batches[i], i * per_round)
            start = time.perf_counter()
            done = enrich_scans()
            elapsed = time.perf_counter() - start
            assert done == per_round, (done, per_round)
            return done / elapsed

        results = interleave(rounds, {"bare": bare, "enrich": enrich})
        report(results, rounds, per_round, "sqlite" if args.sqlite else "postgresql", runtime)
    finally:
        from server import runtime as runtime_module

        if runtime_module._current is not None:
            runtime_module._current.engine.dispose()
        drop()


def report(results: dict, rounds: int, per_round: int, database: str, runtime) -> None:
    from sqlalchemy import func, select

    from server.models import Scan

    with runtime.sessions() as s:
        statuses = dict(s.execute(select(Scan.geo_status, func.count()).group_by(Scan.geo_status)).all())
        placed = s.execute(select(func.count()).where(Scan.province.is_not(None))).scalar_one()
    bare, enrich = statistics.median(results["bare"]), statistics.median(results["enrich"])
    # each round's enrichment against the bare look-ups measured just before it, under the same conditions
    paired = [e / b for e, b in zip(results["enrich"], results["bare"], strict=True)]
    ratio = statistics.median(paired)
    print(f"database {database}; {rounds} rounds of {per_round} scans; statuses {statuses}; {placed} placed")
    for name in ("bare", "enrich"):
        print(f"  {name:7} per round: " + ", ".join(f"{r:,.0f}/s" for r in results[name]))
    print("  ratio per round: " + ", ".join(f"{r:.2f}" for r in paired))
    print(
        f"  median: bare geoip2 {bare:,.0f}/s, enrichment {enrich:,.0f}/s; median ratio per round {ratio:.2f}"
    )
    figures = {
        "bench": "enrich",
        "database": database,
        "rounds": rounds,
        "scans_per_round": per_round,
        "bare_lookups_per_s": round(bare),
        "enriched_per_s": round(enrich),
        "ratio": round(ratio, 3),
        "ratio_of_medians": round(enrich / bare, 3),
        "ratios_per_round": [round(r, 3) for r in paired],
        "target_ratio": TARGET_RATIO,
        "pending_left": statuses.get("pending", 0),
        "targets_met": ratio >= TARGET_RATIO and statuses.get("pending", 0) == 0,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
