"""Running the real `codeloop worker` / `codeloop cron` and a private redis-server in tests."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import redis
from sqlalchemy import func, select

from server.models import Code, Scan, utcnow
from tests.conftest import SECRET, codeloop_env

CODELOOP = str(Path(sys.executable).with_name("codeloop"))


def env_for(database_url: str, redis_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return codeloop_env(
        CODELOOP_DATABASE_URL=database_url,
        CODELOOP_REDIS_URL=redis_url,
        CODELOOP_SECRET_KEY=SECRET,
        CODELOOP_INSTANCE_DIR=str(tmp_path / "instance"),
        CODELOOP_ENV="test",
        **extra,
    )


def start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    """A `codeloop …` process in its own session, its output in `log`."""
    return subprocess.Popen(
        [CODELOOP, *args], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Signal the process group; SIGKILL after 30 s."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    except ProcessLookupError:
        pass


def wait_for(condition, timeout: float = 120, what: str = "condition"):
    """Poll `condition()` until it is truthy; fail after `timeout` seconds (generous: the machine is busy)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def count(world, *where) -> int:
    with world.session() as s:
        return s.execute(select(func.count()).select_from(Scan).where(*where)).scalar_one()


def add_pending_scans(world, n: int, ip: str = "114.114.114.114", start_serial: int = 0) -> None:
    """`n` pending scans of `n` codes, a minute old."""
    at = utcnow() - timedelta(minutes=1)
    with world.session() as s:
        codes = [
            Code(batch_id=world.batch_id, serial=start_serial + i, kind=0, first_scan_at=at, last_scan_at=at)
            for i in range(n)
        ]
        s.add_all(codes)
        s.flush()
        s.add_all(
            Scan(
                code_id=c.id, batch_id=world.batch_id, serial=c.serial, raw_code="X", outcome="ok",
                scanned_at=at, ip=ip, geo_status="pending",
            )
            for c in codes
        )  # fmt: skip
        s.commit()


class RedisServer:
    """A redis-server of the test's own, on a free port, that the test may stop and start again (the shared
    one on 6379 is never touched). No persistence: a restart loses every queued job, as a crash would."""

    def __init__(self, tmp_path: Path, port: int) -> None:
        self.dir, self.port, self.proc = tmp_path / "redis", port, None
        self.dir.mkdir(exist_ok=True)
        self.url = f"redis://127.0.0.1:{port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is required"
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--maxmemory-policy", "noeviction"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        client = redis.Redis(port=self.port, socket_connect_timeout=10)  # polled within wait_for's 30 s
        wait_for(lambda: _pings(client), 30, "redis-server to answer")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None


def _pings(client) -> bool:
    try:
        return client.ping()
    except redis.RedisError:
        return False
