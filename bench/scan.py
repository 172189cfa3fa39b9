"""\
Benchmark: scans/s and p50/p99 latency of `GET /S/<code>` under gunicorn on PostgreSQL, against a bare Flask
endpoint doing one primary-key SELECT and one INSERT, in the same run with the same settings.

    .venv/bin/python bench/scan.py            # 30 s per endpoint
    .venv/bin/python bench/scan.py --quick    # 10 s per endpoint, under a minute in all

It creates a fresh PostgreSQL database (CODELOOP_TEST_PG_URL's server, default postgres@127.0.0.1), migrates
it, seeds an activated batch, and serves both apps at once with the same gunicorn settings: as
`codeloop serve` does on PostgreSQL, gevent workers with `codeloop serve`'s connections per worker
(`--worker-class gthread` for threads). It loads them in turns of 5 s (bare, scan, bare, scan …) so that drift
in the machine's speed (CPU steal from other guests) falls on both alike; the JSON line reports the steal
share seen during the run, and `probe_s`, the seconds a fixed piece of pure Python took before and after
(≈ 0.5 on a fast machine): the ratio is corrected for the machine's speed, the absolute p99 is not. The scan
app runs as in production: jobs and rate-limit counters in Redis (CODELOOP_BENCH_REDIS_URL, default
redis://127.0.0.1:6379/14; the enrichment jobs are queued, not run), rate limits raised out of the way.
Load: wrk at 16 connections (a Lua script spreads requests over 20,000 codes and 16 consumer cookies), or,
without wrk, a Python thread pool of 16 keep-alive http.client connections. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402
    cpu_times,
    free_port,
    interleave,
    probe_seconds,
    serve,
    steal_share,
    stop,
    worker_flags,
)

PG_ADMIN_URL = os.environ.get("CODELOOP_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("CODELOOP_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
SECRET = "bench-secret-0123456789-0123456789-abcdef"
CONNECTIONS = 16
WORKERS, THREADS = 2, 8
CODES = 20_000
TARGET_RATIO = 0.70
TARGET_P99_MS = 50.0


def bare_app():
    """The yardstick: one primary-key SELECT and one INSERT per request, on the same engine settings."""
    from flask import Flask
    from sqlalchemy import insert, select

    from server.db import make_engine, make_sessionmaker
    from server.models import Batch, Scan, utcnow

    engine = make_engine(os.environ["CODELOOP_DATABASE_URL"])
    sessions = make_sessionmaker(engine)
    app = Flask("bare")

    @app.get("/bare/<code>")
    def bare(code: str):
        with sessions() as s:
            batch = s.execute(select(Batch.id, Batch.quantity).where(Batch.id == 1)).one()
            s.execute(
                insert(Scan).values(
                    raw_code=code[:64],
                    outcome="ok",
                    scanned_at=utcnow(),
                    batch_id=batch.id,
                    user_agent="",
                    geo_status="pending",
                )
            )
            s.commit()
        return f"<!doctype html><p>{batch.quantity}</p>"

    return app


def create_database() -> str:
    from sqlalchemy import create_engine, text

    from server.db import make_engine
    from server.migrate import upgrade

    name = f"codeloop_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def drop_database(url: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def seed(url: str) -> tuple[list[str], list[str]]:
    """An activated batch of 1,000,000 codes; returns CODES codes and 16 consumer tokens."""
    from datetime import timedelta

    from codegen.codes import Codec
    from server.db import make_engine, make_sessionmaker
    from server.models import Batch, BatchRange, Campaign, Product, utcnow
    from server.services import consumers

    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        now = utcnow()
        campaign = Campaign(
            name="Bench",
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=30),
            voucher_value_fen=500,
            cap=1000,
            budget_fen=500_000,
        )
        batch = Batch(product=Product(name="Bench tea"), campaign=campaign, quantity=1_000_000)
        s.add(batch)
        s.flush()
        s.add(BatchRange(batch_id=batch.id, kind="activate", first_serial=0, last_serial=999_999, regions=[]))
        tokens = [
            consumers.make_token(SECRET, consumers.create(s, now=now).public_id) for _ in range(CONNECTIONS)
        ]
        s.commit()
        codes = Codec(SECRET.encode()).encode_range(batch.id, 0, CODES)
    engine.dispose()
    return codes, tokens


SLICE_SECONDS = 5


def wrk(port: int, prefix: str, codes: list[str], tokens: list[str], seconds: int, workdir: Path) -> dict:
    """One wrk run: counts, and the latency histogram ({microseconds: requests})
    so that runs can be merged."""
    script = workdir / f"{prefix.strip('/').replace('/', '_')}.lua"
    script.write_text(
        "local codes = {" + ",".join(f'"{c}"' for c in codes) + "}\n"
        "local tokens = {" + ",".join(f'"{t}"' for t in tokens) + "}\n"
        "math.randomseed(os.time())\n"
        "request = function()\n"
        "  local c = codes[math.random(#codes)]\n"
        "  local t = tokens[math.random(#tokens)]\n"
        f"  return wrk.format('GET', '{prefix}' .. c, "
        "{['Cookie'] = 'cl_c=' .. t, ['Accept-Language'] = 'zh-CN'})\n"
        "end\n"
        "done = function(summary, latency, requests)\n"
        '  io.write(string.format(\'JSON {"requests": %d, "seconds": %f, "errors": %d, "non2xx": %d}\\n\', '
        "summary.requests, summary.duration / 1e6, summary.errors.connect + summary.errors.read + "
        "summary.errors.write + summary.errors.timeout, summary.errors.status))\n"
        "  for i = 1, #latency do\n"
        "    local us, n = latency(i)\n"
        "    if n > 0 then io.write(string.format('H %d %d\\n', us, n)) end\n"
        "  end\n"
        "end\n"
    )
    run = subprocess.run(
        [
            "wrk",
            "-t",
            "2",
            "-c",
            str(CONNECTIONS),
            "-d",
            f"{seconds}s",
            "--timeout",
            "5s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        check=False,
        capture_output=True,
        text=True,
    )
    if run.returncode:
        raise RuntimeError(f"wrk failed: {run.stdout[-1500:]} {run.stderr[-1500:]}")
    result = json.loads(re.search(r"^JSON (.*)$", run.stdout, re.MULTILINE).group(1))
    result["histogram"] = Counter(
        {int(us): int(n) for us, n in re.findall(r"^H (\d+) (\d+)$", run.stdout, re.MULTILINE)}
    )
    return result


def python_load(port: int, prefix: str, codes: list[str], tokens: list[str], seconds: int) -> dict:
    """The same load without wrk: CONNECTIONS keep-alive http.client connections in threads."""
    histogram: Counter = Counter()
    errors = [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        mine: Counter = Counter()
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            conn.request("GET", prefix + random.choice(codes), headers={"Cookie": f"cl_c={tokens[i]}"})
            response = conn.getresponse()
            response.read()
            mine[int((time.perf_counter() - started) * 1e6)] += 1
            if response.status != 200:
                errors[0] += 1
        with lock:
            histogram.update(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(CONNECTIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {
        "requests": sum(histogram.values()),
        "seconds": time.perf_counter() - started,
        "errors": 0,
        "non2xx": errors[0],
        "histogram": histogram,
    }


def percentile(histogram: Counter, p: float) -> float:
    """The p-th percentile, in ms, of a {microseconds: requests} histogram."""
    rank, seen = p / 100 * sum(histogram.values()), 0
    for us in sorted(histogram):
        seen += histogram[us]
        if seen >= rank:
            return us / 1000
    return 0.0


def merged(slices: list[dict]) -> dict:
    """Requests/s over all slices, p50/p99 from their merged latency histograms, and each slice's own figures
    (a tail that sits in one slice is a hiccup of the machine; one spread over all is the app's)."""
    histogram: Counter = sum((s["histogram"] for s in slices), Counter())
    requests, seconds = sum(s["requests"] for s in slices), sum(s["seconds"] for s in slices)
    return {
        "requests": requests,
        "seconds": seconds,
        "per_s": requests / seconds,
        "p50_ms": percentile(histogram, 50),
        "p99_ms": percentile(histogram, 99),
        "errors": sum(s["errors"] for s in slices),
        "non2xx": sum(s["non2xx"] for s in slices),
        "slices_per_s": [round(s["requests"] / s["seconds"]) for s in slices],
        "slices_p99_ms": [round(percentile(s["histogram"], 99)) for s in slices],
    }


def measure(
    sides: dict[str, tuple[str, str]],
    env: dict,
    codes,
    tokens,
    seconds: int,
    warmup: int,
    workdir: Path,
    use_wrk: bool,
    gunicorn: dict,
) -> dict[str, dict]:
    """Serve every side at once ({name: (gunicorn target, URL prefix)}), warm each up, then load them in turns
    of SLICE_SECONDS until each has had `seconds`."""
    ports = {name: free_port() for name in sides}
    procs = {}

    def load(name: str, s: int) -> dict:
        port, prefix = ports[name], sides[name][1]
        try:
            return (
                wrk(port, prefix, codes, tokens, s, workdir)
                if use_wrk
                else python_load(port, prefix, codes, tokens, s)
            )
        except RuntimeError:
            if procs[name].poll() is not None:
                raise RuntimeError(
                    f"{sides[name][0]} died: {procs[name].stderr.read().decode()[-3000:]}"
                ) from None
            raise

    try:
        for name, (target, _) in sides.items():
            procs[name] = serve(target, env, ports[name], **gunicorn)
        for name in sides:
            load(name, warmup)
        rounds = max(1, seconds // SLICE_SECONDS)
        slices = interleave(
            rounds, {name: (lambda i, name=name: load(name, SLICE_SECONDS)) for name in sides}
        )
        return {name: merged(runs) for name, runs in slices.items()}
    finally:
        for proc in procs.values():
            stop(proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s per endpoint instead of 30 s")
    parser.add_argument(
        "--python-client", action="store_true", help="use the Python load generator even if wrk exists"
    )
    parser.add_argument("--workers", type=int, default=WORKERS, help="gunicorn workers (both apps)")
    parser.add_argument(
        "--worker-class",
        default="gevent",
        choices=["gevent", "gthread"],
        help="gunicorn worker class (both apps)",
    )
    parser.add_argument("--threads", type=int, default=THREADS, help="threads per gthread worker (both apps)")
    args = parser.parse_args()
    seconds, warmup = (10, 2) if args.quick else (30, 5)
    use_wrk = shutil.which("wrk") is not None and not args.python_client
    url = create_database()
    workdir = Path(tempfile.mkdtemp(prefix="codeloop-bench-"))
    try:
        codes, tokens = seed(url)
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CODELOOP_")}
        env.update(
            CODELOOP_ENV="production",
            CODELOOP_DATABASE_URL=url,
            CODELOOP_SECRET_KEY=SECRET,
            CODELOOP_REDIS_URL=REDIS_URL,
            CODELOOP_INSTANCE_DIR=str(workdir / "instance"),
            CODELOOP_RATE_LIMIT_SCAN="100000000/minute",
            CODELOOP_RATE_LIMIT_CLAIM="100000000/minute",
        )
        gunicorn = {"workers": args.workers, "threads": args.threads, "worker_class": args.worker_class}
        probe_before, before = probe_seconds(), cpu_times()
        results = measure(
            {"bare": ("bench.scan:bare_app()", "/bare/"), "scan": ("server.app:create_app()", "/S/")},
            env,
            codes,
            tokens,
            seconds,
            warmup,
            workdir,
            use_wrk,
            gunicorn,
        )
        steal, probe_after = steal_share(before, cpu_times()), probe_seconds()
        bare, scan = results["bare"], results["scan"]
        redis.Redis.from_url(REDIS_URL).flushdb()
    finally:
        drop_database(url)
        shutil.rmtree(workdir, ignore_errors=True)
    ratio = scan["per_s"] / bare["per_s"]
    figures = {
        side: {k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()}
        for side, r in (("scan", scan), ("bare", bare))
    }
    targets = {"ratio_min": TARGET_RATIO, "scan_p99_ms_max": TARGET_P99_MS}
    met = (
        ratio >= TARGET_RATIO
        and scan["p99_ms"] <= TARGET_P99_MS
        and scan["non2xx"] == 0
        and scan["errors"] == 0
    )
    print(
        json.dumps(
            {
                "figures": figures,
                "ratios": {"scan_vs_bare": round(ratio, 3)},
                "targets": targets,
                "settings": {
                    "connections": CONNECTIONS,
                    "gunicorn": " ".join(worker_flags(**gunicorn)),
                    "seconds": seconds,
                    "slice_seconds": SLICE_SECONDS,
                    "cpu_steal": steal,
                    "probe_s": [probe_before, probe_after],
                    "load": "wrk" if use_wrk else "python",
                    "cores": os.cpu_count(),
                    "jobs": "redis (queued)",
                    "database": "postgresql",
                },
                "targets_met": met,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
