"""\
Instructions per request, counted by valgrind's callgrind: a change's cost on a machine too noisy for seconds.

    .venv/bin/python bench/tools/instructions.py redeem   # POST /api/v1/redemptions (bearer, Idempotency-Key)
    .venv/bin/python bench/tools/instructions.py scan     # GET /S/<code> (consumer cookie only,
                                                          # as wrk sends it; zh-CN)

Seeds a fresh PostgreSQL database as bench/redeem.py or bench/scan.py does, then runs the app in-process
(Flask test client, production settings) under `valgrind --tool=callgrind --instr-atstart=no`: 20 warm-up
requests uninstrumented, then instrumentation on (`callgrind_control -i on`) for -n requests. The count is
the same run after run (±0.2 %) whatever else the machine does; it includes the test client's own work.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def seed(what: str) -> dict:
    if what == "redeem":
        from bench import redeem

        name = f"codeloop_instr_{os.getpid()}"
        url = redeem.create_database(name)
        token, codes, _ = redeem.seed(url, 1000)
        return {"what": what, "url": url, "env": redeem.app_env(url), "token": token, "codes": codes}
    from bench import scan

    url = scan.create_database()
    codes, tokens = scan.seed(url)
    env = {
        "CODELOOP_ENV": "production",
        "CODELOOP_DATABASE_URL": url,
        "CODELOOP_SECRET_KEY": scan.SECRET,
        "CODELOOP_REDIS_URL": scan.REDIS_URL,
        "CODELOOP_INSTANCE_DIR": tempfile.mkdtemp(prefix="codeloop-instr-"),
        "CODELOOP_RATE_LIMIT_SCAN": "100000000/minute",
    }
    return {"what": what, "url": url, "env": env, "tokens": tokens, "codes": codes}


def run(plan: dict, n: int) -> None:
    """The instrumented side: warm up, switch instrumentation on, make n requests."""
    os.environ.update(plan["env"])
    from server.app import create_app

    client = create_app().test_client(use_cookies=plan["what"] == "redeem")
    codes, rng = iter(plan["codes"]), random.Random(7)

    def request() -> None:
        if plan["what"] == "redeem":
            r = client.post(
                "/api/v1/redemptions",
                json={"voucher": next(codes)},
                headers={"Authorization": f"Bearer {plan['token']}", "Idempotency-Key": str(uuid.uuid4())},
            )
            assert r.status_code == 201, r.get_data()
        else:
            # as bench/scan.py's wrk sends it: the consumer cookie only, no session cookie kept between scans
            r = client.get(
                "/S/" + rng.choice(plan["codes"]),
                headers={"Accept-Language": "zh-CN", "Cookie": "cl_c=" + rng.choice(plan["tokens"])},
            )
            assert r.status_code == 200, r.status_code

    for _ in range(20):
        request()
    subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], check=True, capture_output=True)
    for _ in range(n):
        request()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("redeem", "scan"))
    parser.add_argument("-n", type=int, default=200, help="requests counted (default 200)")
    parser.add_argument("--plan", help=argparse.SUPPRESS)  # the instrumented child's seeded database
    args = parser.parse_args()
    if args.plan:
        run(json.loads(Path(args.plan).read_text()), args.n)
        os._exit(
            0
        )  # no interpreter shutdown: callgrind would count its ≈ 0.28 G instructions with the requests
    plan = seed(args.what)
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "plan.json").write_text(json.dumps(plan))
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={tmp}/out",
                sys.executable,
                __file__,
                args.what,
                "-n",
                str(args.n),
                "--plan",
                f"{tmp}/plan.json",
            ],
            check=False,
            capture_output=True,
            text=True,
        )
    from bench.redeem import drop_database

    drop_database(plan["url"].rsplit("/", 1)[1])
    counted = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode or counted is None:
        print(done.stderr[-3000:], file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "what": args.what,
                "requests": args.n,
                "instructions_per_request": int(counted.group(1)) // args.n,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
