"""Benchmark: every dashboard query and report endpoint over the rollups of 10 million scans, against the same
figures computed from the raw rows in the same run.

    .venv/bin/python bench/reports.py            # 10,000,000 scans over 90 days (seeding and rollups: long)
    .venv/bin/python bench/reports.py --quick    # 60,000 scans over 14 days, under a minute
    .venv/bin/python bench/reports.py --scans 2000000 --keep   # any size; keep the database afterwards

Creates a fresh PostgreSQL database, migrates it, writes a season of raw rows with COPY
(bench/reports_seed.py: scans, codes, vouchers, shares, redemptions, ledger, alerts), builds the rollups
with `codeloop rollups rebuild`'s function, then times (1) each report's queries (server/services/reports)
and (2) each endpoint /api/v1/reports/<name> through the app (JSON included), each over five filter sets
— the last 30 days, one campaign, one province, one batch, all 90 days — repeated; and (3) the summary,
daily series, province and store rankings computed from the raw tables with plain GROUP BY queries,
checked equal to the reports' figures. Target: p95 ≤ 200 ms for every query and endpoint. Ends with one
JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ADMIN_URL = os.environ.get("CODELOOP_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SECRET = "bench-secret-0123456789-0123456789-abcdef"
TARGET_P95_MS = 200.0
REPORTS = (
    "summary",
    "funnel",
    "timeseries",
    "heatmap",
    "geo",
    "stores",
    "clerks",
    "referrals",
    "payouts",
    "diversion",
)


def database() -> tuple[str, callable]:
    from sqlalchemy import create_engine, text

    name = f"codeloop_bench_reports_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return ADMIN_URL.rsplit("/", 1)[0] + "/" + name, drop


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def filter_sets(end_day, days: int):
    from server.services.reports import Filters

    month = Filters(start=end_day - timedelta(days=29), end=end_day)
    return {
        "30_days": month,
        "campaign": Filters(month.start, month.end, campaign_id=1),
        "province": Filters(month.start, month.end, province="__top__"),
        "batch": Filters(month.start, month.end, batch_id=3),
        "all_days": Filters(start=end_day - timedelta(days=days - 1), end=end_day),
    }


def time_queries(app, sets, repeat: int) -> dict:
    from server.models import utcnow
    from server.services import reports

    rt = app.extensions["codeloop"]
    out = {}
    for name in REPORTS:
        samples = []
        for f in sets.values():
            for _ in range(repeat):
                with rt.sessions() as s:
                    t0 = time.perf_counter()
                    reports.run(s, name, f, reports.Context(rt.config.tz, utcnow()))
                    samples.append((time.perf_counter() - t0) * 1000)
        out[name] = {
            "p50_ms": round(statistics.median(samples), 1),
            "p95_ms": round(p95(samples), 1),
            "n": len(samples),
        }
    return out


def time_endpoints(app, sets, repeat: int, token: str) -> dict:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    out = {}
    for name in REPORTS:
        samples = []
        for f in sets.values():
            query = f.query()
            for _ in range(repeat):
                t0 = time.perf_counter()
                response = client.get(f"/api/v1/reports/{name}", query_string=query, headers=headers)
                samples.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, response.get_data(as_text=True)
        out[name] = {
            "p50_ms": round(statistics.median(samples), 1),
            "p95_ms": round(p95(samples), 1),
            "n": len(samples),
        }
    return out


RAW = {  # the same figures from the raw rows, for the 30-day filter set
    "summary": """
        SELECT (SELECT count(*) FROM scans WHERE outcome = 'ok' AND batch_id IS NOT NULL
                  AND scanned_at >= :s AND scanned_at < :e) AS scans,
               (SELECT count(*) FROM (SELECT min(scanned_at) AS first FROM scans WHERE outcome = 'ok'
                  AND batch_id IS NOT NULL GROUP BY code_id) f
                WHERE first >= :s AND first < :e) AS first_scans,
               (SELECT count(*) FROM vouchers WHERE kind = 'pack'
                  AND issued_at >= :s AND issued_at < :e) AS claims,
               (SELECT count(*) FROM redemptions WHERE reversed_at IS NULL
                  AND redeemed_at >= :s AND redeemed_at < :e) AS redemptions,
               (SELECT coalesce(sum(e.amount), 0) FROM redemptions r
                  JOIN ledger_transactions t ON t.key = 'redemption:' || r.id
                  JOIN ledger_entries e ON e.transaction_id = t.id
                  JOIN ledger_accounts a ON a.id = e.account_id AND a.kind = 'store'
                  WHERE r.reversed_at IS NULL
                    AND r.redeemed_at >= :s AND r.redeemed_at < :e) AS payouts_fen""",
    "timeseries": """
        SELECT (scanned_at AT TIME ZONE 'Asia/Shanghai')::date AS day, count(*) AS scans FROM scans
        WHERE outcome = 'ok' AND batch_id IS NOT NULL AND scanned_at >= :s AND scanned_at < :e
        GROUP BY 1 ORDER BY 1""",
    "geo": """
        SELECT coalesce(province, '') AS province, count(*) AS scans FROM scans
        WHERE outcome = 'ok' AND batch_id IS NOT NULL AND scanned_at >= :s AND scanned_at < :e
        GROUP BY 1 ORDER BY 2 DESC, 1""",
    "stores": """
        SELECT r.store_id, count(*) AS redemptions, sum(v.value_fen) AS redeemed_value_fen
        FROM redemptions r JOIN vouchers v ON v.id = r.voucher_id
        WHERE r.reversed_at IS NULL AND r.redeemed_at >= :s AND r.redeemed_at < :e
        GROUP BY 1""",
}


def raw_figures(app, f, repeat: int) -> dict:
    from sqlalchemy import text

    from server.services.reports import Context, run
    from server.services.rollups.facts import day_bounds

    rt = app.extensions["codeloop"]
    tz = rt.config.tz
    start, end = day_bounds(f.start, tz)[0], day_bounds(f.end, tz)[1]
    out = {}
    for name, sql in RAW.items():
        samples, rows = [], None
        for _ in range(repeat):
            with rt.sessions() as s:
                t0 = time.perf_counter()
                rows = [dict(r) for r in s.execute(text(sql), {"s": start, "e": end}).mappings()]
                samples.append((time.perf_counter() - t0) * 1000)
        with rt.sessions() as s:
            report = run(s, name, f, Context(tz, datetime.now(tz)))
        out[name] = {"p50_ms": round(statistics.median(samples), 1), "agrees": _agrees(name, rows, report)}
    return out


def _agrees(name: str, raw: list[dict], report: dict) -> bool:
    plain = lambda rows, keys: [tuple(int(r[k]) if k != "province" else r[k] for k in keys) for r in rows]  # noqa: E731
    if name == "summary":
        keys = ("scans", "first_scans", "claims", "redemptions", "payouts_fen")
        return plain(raw, keys) == [tuple(report["current"][k] for k in keys)]
    if name == "timeseries":
        found = {r["day"].isoformat(): int(r["scans"]) for r in raw}
        return all(found.get(p["t"], 0) == p["scans"] for p in report["points"])
    if name == "geo":
        return {r["province"]: int(r["scans"]) for r in raw} == {
            p["province"]: p["scans"] for p in report["provinces"]
        }
    found = {int(r["store_id"]): (int(r["redemptions"]), int(r["redeemed_value_fen"])) for r in raw}
    ranked = report[
        "stores"
    ]  # the top 50: each as the raw rows count it, the first with the most redemptions
    same = all(found[s["store_id"]] == (s["redemptions"], s["redeemed_value_fen"]) for s in ranked)
    return same and (not ranked or ranked[0]["redemptions"] == max(n for n, _ in found.values()))


def build(url: str, args) -> tuple:
    """Migrate, seed with COPY, build the rollups; returns (app, token, end_day, seconds per phase)."""
    from dataclasses import replace

    from sqlalchemy import text

    from bench.reports_seed import TZ, Seed
    from server.app import create_app
    from server.config import Config
    from server.db import make_engine
    from server.migrate import upgrade
    from server.models import User, utcnow
    from server.services.accounts import create_token
    from server.services.rollups import rebuild

    engine = make_engine(url)
    upgrade(engine)
    end_day = (datetime.now(TZ) - timedelta(days=1)).date()
    phases, counts = {}, {}
    if args.reuse:  # a database a run kept: its season ends on its last rolled-up day
        with engine.connect() as conn:
            end_day = conn.execute(text("SELECT max(day) FROM rollup_days")).scalar()
            args.scans = conn.execute(text("SELECT count(*) FROM scans")).scalar()
    else:
        t0 = time.perf_counter()
        raw = engine.raw_connection()
        counts = Seed(raw.driver_connection, args.scans, args.days, end_day).run()
        raw.close()
        phases["seed_s"] = round(time.perf_counter() - t0, 1)
    config = replace(
        Config(
            env="test", database_url=url, secret_key=SECRET, instance_dir=Path("/tmp/codeloop-bench-reports")
        ),
        testing=True,
    )
    app = create_app(config)
    rt = app.extensions["codeloop"]
    t0 = time.perf_counter()
    if not args.reuse:
        counts["rollup_rows_written"] = rebuild(
            rt.sessions, start=end_day - timedelta(days=args.days + 6), end=end_day, tz=TZ
        )
        phases["rollups_s"] = round(time.perf_counter() - t0, 1)
    with rt.sessions() as s:
        s.execute(text("ANALYZE rollup_days; ANALYZE rollup_hours"))
        s.commit()
        token, _ = create_token(s, user=s.get(User, 1), now=utcnow())
        s.commit()
        tables = ("rollup_days", "rollup_hours", "rollup_slices")
        sizes = {t: s.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in tables}
        top = s.execute(
            text(
                "SELECT province FROM rollup_days WHERE province <> '' "
                "GROUP BY 1 ORDER BY sum(scans) DESC LIMIT 1"
            )
        ).scalar()
    engine.dispose()
    return app, token, end_day, top, phases, {**counts, **sizes}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60,000 scans over 14 days (under a minute)")
    parser.add_argument("--scans", type=int, default=None, help="raw scans to seed (default 10,000,000)")
    parser.add_argument("--days", type=int, default=None, help="local days they span (default 90)")
    parser.add_argument("--repeat", type=int, default=None, help="runs of each query per filter set")
    parser.add_argument("--keep", action="store_true", help="keep the database (its URL is printed)")
    parser.add_argument("--reuse", metavar="URL", help="time the queries on a database an earlier run kept")
    args = parser.parse_args()
    args.scans = args.scans or (60_000 if args.quick else 10_000_000)
    args.days = args.days or (14 if args.quick else 90)
    repeat = args.repeat or (4 if args.quick else 10)
    url, drop = (args.reuse, lambda: None) if args.reuse else database()
    try:
        app, token, end_day, top, phases, sizes = build(url, args)
        print(f"seeded {sizes} in {phases}", file=sys.stderr)
        sets = filter_sets(end_day, args.days)
        from dataclasses import replace

        sets["province"] = replace(sets["province"], province=top)
        queries = time_queries(app, sets, repeat)
        endpoints = time_endpoints(app, sets, repeat, token)
        raw = raw_figures(app, sets["30_days"], 1 if args.scans > 2_000_000 else 3)
        app.extensions["codeloop"].engine.dispose()
    finally:
        if args.keep or args.reuse:
            print(f"database kept: {url}", file=sys.stderr)
        else:
            drop()
    ratios = {
        name: round(raw[name]["p50_ms"] / max(queries[name]["p50_ms"], 0.01), 1) for name in raw
    }  # how many times faster the rollups answer than the raw rows
    targets = {
        **{f"{name}_query_p95_ms<=200": q["p95_ms"] <= TARGET_P95_MS for name, q in queries.items()},
        **{f"{name}_endpoint_p95_ms<=200": e["p95_ms"] <= TARGET_P95_MS for name, e in endpoints.items()},
        "raw_figures_agree": all(r["agrees"] for r in raw.values()),
    }
    print(
        json.dumps(
            {
                "bench": "reports",
                "scans": args.scans,
                "days": args.days,
                "repeat_per_filter_set": repeat,
                "filter_sets": list(sets),
                "cores": os.cpu_count(),
                "sizes": sizes,
                "phases": phases,
                "figures": {"queries": queries, "endpoints": endpoints, "raw": raw},
                "ratios": {"raw_vs_rollup_p50": ratios},
                "targets": targets,
                "targets_met": all(targets.values()),
            },
            ensure_ascii=False,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
