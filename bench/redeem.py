"""Benchmark: redemptions through POST /api/v1/redemptions on PostgreSQL under concurrency.

    .venv/bin/python bench/redeem.py            # N = 10,000 redemptions per phase
    .venv/bin/python bench/redeem.py --quick    # N = 1,000, under a minute

Creates a fresh PostgreSQL database, migrates and seeds it with vouchers, then, with the same gunicorn
settings and the same client concurrency, and in turns (api, bare, api, bare …, so that drift in the machine's
speed — CPU steal from other guests — falls on both alike), drives (1) the real API — bearer token,
Idempotency-Key, conditional update, redemption row and ledger postings in one transaction — and (2) a bare
Flask endpoint that only runs the conditional `UPDATE vouchers … RETURNING`. Then a race: RACE vouchers, each
sent by every client connection at the same moment, must each be redeemed once, the others refused as already
redeemed; the database is checked for double redemptions, ledger transactions and invariants afterwards. Ends
with one JSON line.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import cpu_times, free_port, interleave, serve, steal_share, stop  # noqa: E402

ADMIN_URL = os.environ.get("CODELOOP_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SECRET = "bench-secret-0123456789-0123456789-abcdef"
TARGET_RATIO = 0.40
TARGET_P99_MS = 50.0
# Redemptions per side before the measured turns, then ANALYZE. PostgreSQL keeps the generic plan of each
# foreign-key check per connection; planned while ledger_transactions is a few pages it is a sequential scan,
# which then grows with the table for as long as the connection lives (in a live database the ledger is large
# and autovacuum re-analyses it). From about 500 rows the plan is an index scan: measure from there.
WARM_UP = 1_000
# After the measured turns, every one of RACE vouchers is sent by all client connections at once, in the same
# order: each must be redeemed exactly once, every other answer VOUCHER_ALREADY_REDEEMED.
RACE = 500
BARE_SQL = (
    "UPDATE vouchers SET status = 'redeemed' WHERE code = %s AND status = 'issued' AND expires_at > now() "
    "RETURNING id"
)


def bare_app():
    """The comparison: a Flask endpoint doing only the conditional UPDATE … RETURNING
    (gunicorn entry point)."""
    from flask import Flask
    from sqlalchemy import text

    from server.db import make_engine

    engine = make_engine(os.environ["CODELOOP_DATABASE_URL"])
    app = Flask("bare")
    statement = text(BARE_SQL.replace("%s", ":code"))

    @app.post("/bare/<code>")
    def bare(code: str):
        with engine.begin() as conn:
            won = conn.execute(statement, {"code": code}).scalar()
        return ({"id": won}, 201) if won else ({"error": {"code": "VOUCHER_ALREADY_REDEEMED"}}, 409)

    return app


# ---- database ------------------------------------------------------------------------------------------


def create_database(name: str) -> str:
    from sqlalchemy import create_engine, text

    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_database(name: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def seed(url: str, n: int) -> tuple[str, list[str], list[str]]:
    """Migrate; one campaign, store, clerk and POS token;
    n vouchers for the API and n for the bare endpoint."""
    from sqlalchemy import text

    from server.db import make_engine, make_sessionmaker
    from server.migrate import upgrade
    from server.models import Batch, Campaign, Consumer, Product, Store, utcnow
    from server.services.accounts import create_token, create_user

    engine = make_engine(url)
    upgrade(engine)
    now = utcnow()
    from datetime import timedelta

    with make_sessionmaker(engine).begin() as s:
        total = 2 * (n + WARM_UP) + RACE
        campaign = Campaign(
            name="bench",
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=60),
            voucher_value_fen=500,
            voucher_min_spend_fen=0,
            voucher_valid_days=30,
            cap=total,
            budget_fen=total * 500,
            issued_count=total,
            spent_fen=total * 500,
            store_fee_fen=100,
            clerk_redeem_reward_fen=50,
        )
        product = Product(name="bench")
        s.add_all([campaign, product])
        s.flush()
        batch = Batch(product_id=product.id, campaign_id=campaign.id, quantity=total)
        store = Store(name="压测门店", created_at=now)
        consumer = Consumer(public_id="bench")
        s.add_all([batch, store, consumer])
        s.flush()
        clerk = create_user(
            s, username="bench.clerk", password="bench-password", role="clerk", now=now, store_id=store.id
        )
        token, _ = create_token(s, user=clerk, now=now)
        s.execute(
            text(
                "INSERT INTO codes (batch_id, serial, kind, scan_count, first_scan_at, last_scan_at) "
                "SELECT :b, g, 0, 1, now(), now() FROM generate_series(1, :n) g"
            ),
            {"b": batch.id, "n": total},
        )
        s.execute(
            text(
                "INSERT INTO vouchers (code, kind, campaign_id, code_id, consumer_id, value_fen, "
                "min_spend_fen, status, issued_at, expires_at) "
                "SELECT 'B' || lpad(c.serial::text, 8, '0'), 'pack', :camp, c.id, :cons, 500, 0, "
                "'issued', now(), now() + interval '30 days' FROM codes c WHERE c.batch_id = :b"
            ),
            {"camp": campaign.id, "cons": consumer.id, "b": batch.id},
        )
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()
    codes = [f"B{i:08d}" for i in range(1, total + 1)]
    return token, codes[: n + WARM_UP + RACE], codes[n + WARM_UP + RACE :]


def analyze(url: str) -> None:
    """Refresh the planner's statistics after the warm-up, as autovacuum would on a live database
    (see WARM_UP): a generic plan cached while a table was seeded empty would otherwise slow the run down
    as it grows."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()


def verify(url: str) -> dict:
    """Double redemptions, ledger and invariants, read from the database after the run."""
    from sqlalchemy import text

    from server.db import make_engine, make_sessionmaker
    from server.services.invariants import run_checks

    engine = make_engine(url)
    with engine.connect() as conn:
        doubles = conn.execute(
            text(
                "SELECT count(*) FROM (SELECT voucher_id FROM redemptions WHERE reversed_at IS NULL "
                "GROUP BY voucher_id HAVING count(*) > 1) d"
            )
        ).scalar()
        redemptions = conn.execute(text("SELECT count(*) FROM redemptions")).scalar()
        redemption_txns = conn.execute(
            text("SELECT count(*) FROM ledger_transactions WHERE key LIKE 'redemption:%'")
        ).scalar()
        api_redeemed = conn.execute(
            text(
                "SELECT count(*) FROM vouchers v WHERE status = 'redeemed' AND EXISTS "
                "(SELECT 1 FROM redemptions r WHERE r.voucher_id = v.id)"
            )
        ).scalar()
    with (
        engine.begin() as conn
    ):  # the bare endpoint redeems without Redemption rows: count, then put them back
        bare_redeemed = conn.execute(
            text(
                "UPDATE vouchers v SET status = 'issued' WHERE status = 'redeemed' AND NOT EXISTS "
                "(SELECT 1 FROM redemptions r WHERE r.voucher_id = v.id AND r.reversed_at IS NULL)"
            )
        ).rowcount
    with make_sessionmaker(engine)() as s:
        violations = [f"{v.invariant}: {v.description}" for v in run_checks(s)]
    engine.dispose()
    return {
        "double_redemptions": doubles,
        "redemptions": redemptions,
        "ledger_transactions": redemption_txns,
        "vouchers_redeemed_via_api": api_redeemed,
        "vouchers_redeemed_bare": bare_redeemed,
        "invariant_violations": violations,
    }


# ---- servers and load --------------------------------------------------------------------------------------


def app_env(url: str) -> dict:
    """The environment both apps run with (production settings, this run's database)."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("CODELOOP_")},
        "CODELOOP_DATABASE_URL": url,
        "CODELOOP_SECRET_KEY": SECRET,
        "CODELOOP_ENV": "production",
        "CODELOOP_PUBLIC_URL": "https://q.bench.cn",
        "CODELOOP_INSTANCE_DIR": str(ROOT / "bench" / "out" / "instance"),
        "CODELOOP_HOLD_DAYS": "7",
    }


def _client(args) -> list[tuple[float, int, str | None]]:
    """One client connection (keep-alive) sending its requests back to back:
    [(seconds, status, error code)]."""
    port, kind, token, codes, start_at = args
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    out = []
    while time.time() < start_at:
        time.sleep(0.001)
    for code in codes:
        if kind == "api":
            body = json.dumps({"voucher": code})
            headers = {
                "Content-Type": "application/json",
                "Authorization": f"Bearer {token}",
                "Idempotency-Key": str(uuid.uuid4()),
            }
            path = "/api/v1/redemptions"
        else:
            body, headers, path = "", {}, f"/bare/{code}"
        started = time.perf_counter()
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        answer = response.read()
        seconds = time.perf_counter() - started
        error = json.loads(answer)["error"]["code"] if response.status >= 400 else None
        out.append((seconds, response.status, error))
    conn.close()
    return out


def drive(port: int, kind: str, token: str, codes: list[str], concurrency: int, dupes: float, pool) -> dict:
    """Send every code once (and a share of them twice, from another client at about the same time)."""
    rng = random.Random(7)
    plan = [[] for _ in range(concurrency)]
    for i, code in enumerate(codes):
        plan[i % concurrency].append(code)
        if rng.random() < dupes:
            plan[(i + 1) % concurrency].append(code)
    start_at = time.time() + 0.5
    began = time.perf_counter()
    results = pool.map(_client, [(port, kind, token, p, start_at) for p in plan])
    return {
        "seconds": time.perf_counter() - began - 0.5,
        "latencies": [s for r in results for s, _, _ in r],
        "statuses": Counter(status for r in results for _, status, _ in r),
    }


def race(port: int, token: str, codes: list[str], concurrency: int, pool) -> dict:
    """Every client sends every code, in the same order, starting together: each code is contended by all of
    them at about the same moment. Exactly one may win; the others must hear VOUCHER_ALREADY_REDEEMED."""
    start_at = time.time() + 0.5
    results = pool.map(_client, [(port, "api", token, codes, start_at)] * concurrency)
    winners = [sum(r[i][1] == 201 for r in results) for i in range(len(codes))]
    answers = Counter(error or status for r in results for _, status, error in r)
    return {
        "vouchers": len(codes),
        "clients": concurrency,
        "requests": len(codes) * concurrency,
        "answers": dict(answers),
        "one_winner_each": all(w == 1 for w in winners),
        "losers_told_already_redeemed": answers.get("VOUCHER_ALREADY_REDEEMED", 0)
        == len(codes) * (concurrency - 1),
    }


def summary(slices: list[dict]) -> dict:
    """Throughput over all slices and latency percentiles over all their requests."""
    latencies = sorted(s for sl in slices for s in sl["latencies"])
    statuses = sum((sl["statuses"] for sl in slices), Counter())
    n, elapsed = len(latencies), sum(sl["seconds"] for sl in slices)
    return {
        "requests": n,
        "seconds": round(elapsed, 3),
        "requests_per_s": round(n / elapsed, 1),
        "redemptions_per_s": round(statuses.get(201, 0) / elapsed, 1),
        "statuses": dict(statuses),
        "p50_ms": round(latencies[n // 2] * 1000, 2),
        "p99_ms": round(latencies[min(n - 1, int(n * 0.99))] * 1000, 2),
        "slices_per_s": [round(len(sl["latencies"]) / sl["seconds"]) for sl in slices],
    }


def chunks(items: list, k: int) -> list[list]:
    return [items[i * len(items) // k : (i + 1) * len(items) // k] for i in range(k)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 1,000 per phase (under a minute)")
    parser.add_argument("-n", type=int, default=None, help="vouchers per phase (default 10,000)")
    parser.add_argument("--concurrency", type=int, default=4, help="client connections at once")
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=2, help="gunicorn threads per worker")
    parser.add_argument(
        "--dupes",
        type=float,
        default=0.0,
        help="share of the turns' vouchers also sent by a second client (contention is the race's job)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    n = args.n or (1_000 if args.quick else 10_000)
    rounds = 4 if args.quick else 10
    name = f"codeloop_bench_{os.getpid()}"
    load_before = os.getloadavg()[0]
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    url = create_database(name)
    try:
        token, api_codes, bare_codes = seed(url, n)
        ports = {"api": free_port(), "bare": free_port()}
        targets = {"api": "server.app:create_app()", "bare": "bench.redeem:bare_app()"}
        raced = api_codes[WARM_UP : WARM_UP + RACE]
        warm_up, codes = (
            {"api": api_codes[:WARM_UP], "bare": bare_codes[:WARM_UP]},
            {
                "api": chunks(api_codes[WARM_UP + RACE :], rounds),
                "bare": chunks(bare_codes[WARM_UP:], rounds),
            },
        )
        servers = {}
        with mp.get_context("fork").Pool(args.concurrency) as pool:
            try:
                for side in ("api", "bare"):
                    servers[side] = serve(
                        targets[side], app_env(url), ports[side], args.workers, args.threads
                    )
                    drive(ports[side], side, token, warm_up[side], args.concurrency, 0, pool)
                analyze(url)
                before = cpu_times()
                slices = interleave(
                    rounds,
                    {
                        side: (
                            lambda i, side=side: drive(
                                ports[side], side, token, codes[side][i], args.concurrency, args.dupes, pool
                            )
                        )
                        for side in ports
                    },
                )
                steal = steal_share(before, cpu_times())
                contended = race(ports["api"], token, raced, args.concurrency, pool)
            finally:
                for server in servers.values():
                    stop(server)
        api, bare = summary(slices["api"]), summary(slices["bare"])
        checked = verify(url)
    finally:
        if not args.keep:
            drop_database(name)
    ratio = api["requests_per_s"] / bare["requests_per_s"]
    unexpected = {k: v for k, v in api["statuses"].items() if k not in (201, 409)}
    print(
        f"N = {n:,} vouchers per phase (+{args.dupes:.0%} sent twice), concurrency {args.concurrency}, "
        f"gunicorn {args.workers} workers x {args.threads} threads (gthread), {os.cpu_count()} cores, "
        f"PostgreSQL, load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after; {rounds} turns "
        f"each, interleaved; CPU steal {steal if steal is None else f'{steal:.0%}'}"
    )
    for label, r in (("POST /api/v1/redemptions", api), ("bare UPDATE … RETURNING", bare)):
        print(
            f"{label:26} {r['requests_per_s']:8,.0f} req/s  {r['redemptions_per_s']:8,.0f} redemptions/s  "
            f"p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms  statuses {r['statuses']}"
        )
    print(
        f"race: {contended['vouchers']} vouchers, each sent by {contended['clients']} connections at once: "
        f"answers {contended['answers']}"
    )
    print(
        f"API / bare throughput: {ratio:.2f}; double redemptions: {checked['double_redemptions']}; "
        f"invariant violations: {len(checked['invariant_violations'])}"
    )
    targets = {
        "api throughput >= 40% of bare endpoint": ratio >= TARGET_RATIO,
        "api p99 <= 50 ms": api["p99_ms"] <= TARGET_P99_MS,
        "zero double redemptions": checked["double_redemptions"] == 0
        and contended["one_winner_each"]
        and contended["losers_told_already_redeemed"]
        and checked["vouchers_redeemed_bare"] == bare["statuses"].get(201, 0) + WARM_UP,
        "one ledger transaction per redemption, invariants hold": (
            checked["ledger_transactions"]
            == checked["redemptions"]
            == api["statuses"].get(201, 0) + WARM_UP + RACE
            and not checked["invariant_violations"]
            and not unexpected
        ),
    }
    print(
        json.dumps(
            {
                "bench": "redeem",
                "n": n,
                "concurrency": args.concurrency,
                "workers": args.workers,
                "threads": args.threads,
                "dupes": args.dupes,
                "cores": os.cpu_count(),
                "rounds": rounds,
                "cpu_steal": steal,
                "load_average": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
                "figures": {"api": api, "bare": bare, "race": contended, "db": checked},
                "ratios": {"api_vs_bare_throughput": round(ratio, 3)},
                "targets": targets,
                "targets_met": all(targets.values()),
            },
            ensure_ascii=False,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
