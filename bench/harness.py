"""What the benchmarks share: a free port, and the app under gunicorn started and stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from server.serving import WORKER_CONNECTIONS

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def worker_flags(
    workers: int, threads: int, worker_class: str = "gthread", connections: int = WORKER_CONNECTIONS
) -> list[str]:
    """gunicorn's worker settings: `threads` counts for gthread workers, `connections` for gevent workers."""
    per_worker = (
        ["--threads", str(threads)]
        if worker_class == "gthread"
        else ["--worker-connections", str(connections)]
    )
    return ["-k", worker_class, "-w", str(workers), *per_worker]


def serve(
    target: str,
    env: dict,
    port: int,
    workers: int,
    threads: int,
    worker_class: str = "gthread",
    connections: int = WORKER_CONNECTIONS,
) -> subprocess.Popen:
    """gunicorn serving `target` on 127.0.0.1:port with `worker_flags`, once it accepts connections;
    gunicorn's hooks as in `codeloop serve`."""
    cmd = [
        str(Path(sys.executable).parent / "gunicorn"),
        "--config",
        "python:server.gunicorn_config",
        *worker_flags(workers, threads, worker_class, connections),
        "-b",
        f"127.0.0.1:{port}",
        "--chdir",
        str(ROOT),
        "--log-level",
        "warning",
        "--keep-alive",
        "30",
        target,
    ]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"gunicorn {target} failed: {proc.stderr.read().decode()[-2000:]}"
                ) from None
            time.sleep(0.2)
    stop(proc)
    raise RuntimeError(f"gunicorn {target} did not start")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def probe_seconds() -> float:
    """Seconds this machine takes for a fixed piece of pure Python (≈ 0.5 s when fast): how fast the machine
    is right now, for reading absolute figures such as a p99, which no same-run yardstick can correct."""
    started = time.perf_counter()
    sum(range(30_000_000))
    return round(time.perf_counter() - started, 2)


def cpu_times() -> list[int]:
    """The machine's CPU time counters from /proc/stat (user … steal), or [] where there is none."""
    try:
        with open("/proc/stat") as stat:
            return [int(v) for v in stat.readline().split()[1:9]]
    except OSError:
        return []


def steal_share(before: list[int], after: list[int]) -> float | None:
    """The share of CPU time the hypervisor gave to other guests between two cpu_times() readings."""
    if not before or not after:
        return None
    spent = [b - a for a, b in zip(before, after, strict=True)]
    return round(spent[7] / max(1, sum(spent)), 3)


def interleave(rounds: int, sides: dict) -> dict[str, list]:
    """Run each side's `slice(i)` in turn, `rounds` times (A B A B …): on a machine whose speed drifts (other
    guests, CPU steal), both sides see the same conditions, so their ratio compares like with like."""
    results: dict[str, list] = {name: [] for name in sides}
    for i in range(rounds):
        for name, run_slice in sides.items():
            results[name].append(run_slice(i))
    return results
