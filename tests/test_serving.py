"""`codeloop serve`: gunicorn with gevent workers on PostgreSQL and gthread workers on SQLite, serving real
HTTP requests from other threads of this process."""

from __future__ import annotations

import gc
import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import text

from server.config import ConfigError
from server.db import MAX_OVERFLOW, POOL_SIZE
from server.gunicorn_config import post_worker_init
from server.services.invariants import run_checks
from server.serving import gunicorn_argv, worker_class
from tests.conftest import SECRET, codeloop_env, make_config
from tests.consumer.conftest import assert_one_winner, build_world, csrf_of
from tests.health import wait_for_health
from tests.test_cli import CODELOOP, _free_port


def test_worker_class_follows_the_database():
    assert worker_class("auto", "postgresql+psycopg://db/codeloop") == "gevent"
    assert worker_class("auto", "sqlite:////srv/codeloop.sqlite3") == "gthread"
    assert worker_class("gthread", "postgresql+psycopg://db/codeloop") == "gthread"
    with pytest.raises(ConfigError, match="gevent workers need PostgreSQL"):
        worker_class("gevent", "sqlite:////srv/codeloop.sqlite3")


def test_gunicorn_builds_the_app_in_each_worker():
    gevent = gunicorn_argv(
        host="0.0.0.0", port=8000, workers=4, worker_class="gevent", threads=4, connections=20
    )
    assert gevent[-1] == "server.app:create_app()" and "--preload" not in gevent
    assert " --config python:server.gunicorn_config " in " ".join(gevent)
    assert (
        " --worker-class gevent --access-logfile - " in " ".join(gevent) and "--worker-connections" in gevent
    )
    assert "--threads" in gunicorn_argv(
        host="h", port=1, workers=1, worker_class="gthread", threads=8, connections=20
    )


def test_workers_hide_the_built_app_from_the_garbage_collector(app):
    assert any(o is app for o in gc.get_objects())
    try:
        post_worker_init(None)
        assert not any(o is app for o in gc.get_objects())  # full collections no longer walk it
    finally:
        gc.unfreeze()


def test_gevent_on_sqlite_is_refused_before_serving(tmp_path):
    env = codeloop_env(
        CODELOOP_DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}", CODELOOP_INSTANCE_DIR=str(tmp_path)
    )
    run = subprocess.run(
        [CODELOOP, "serve", "--worker-class", "gevent", "--port", str(_free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2 and "configuration error: gevent workers need PostgreSQL" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.fixture
def serve(pg_engine, pg_url, redis_url, tmp_path):
    """Start `codeloop serve …` on the PostgreSQL test database (production settings, jobs queued in
    Redis, rate limits out of the way); return its base URL once it answers."""
    procs = []

    def start(*args: str) -> str:
        port = _free_port()
        env = codeloop_env(
            CODELOOP_ENV="production",
            CODELOOP_DATABASE_URL=pg_url,
            CODELOOP_SECRET_KEY=SECRET,
            CODELOOP_REDIS_URL=redis_url,
            CODELOOP_INSTANCE_DIR=str(tmp_path / "instance"),
            CODELOOP_RATE_LIMIT_SCAN="100000/minute",
            CODELOOP_RATE_LIMIT_CLAIM="100000/minute",
        )
        proc = subprocess.Popen(
            [CODELOOP, "serve", "--port", str(port), *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        procs.append(proc)
        base = f"http://127.0.0.1:{port}"
        wait_for_health(base, proc=proc, output=proc.stdout.read)
        return base

    yield start
    for proc in procs:
        os.killpg(proc.pid, signal.SIGTERM)
        output = proc.communicate(timeout=120)[0]
        assert "Traceback" not in output, output


@pytest.fixture
def world(pg_engine, pg_url, tmp_path):  # pg_engine first: it empties the tables
    from server.app import create_app

    app = create_app(make_config(pg_url, tmp_path))  # same secret as the server: same codes
    yield build_world(app)
    app.extensions["codeloop"].engine.dispose()


def _waiting_on_a_lock(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            )
        ).scalar_one()


@pytest.mark.postgres
@pytest.mark.parametrize("kind", ["gevent", "gthread"])
def test_a_request_waiting_on_the_database_does_not_hold_up_the_worker(serve, world, pg_engine, kind):
    """One worker: while a scan waits for a table lock, the same worker still answers other requests."""
    base = serve("--workers", "1", "--worker-class", kind)
    code, answers = world.code(3), []
    with pg_engine.connect() as locker:
        locker.execute(text("LOCK TABLE codes IN ACCESS EXCLUSIVE MODE"))
        scan = threading.Thread(target=lambda: answers.append(requests.get(f"{base}/S/{code}", timeout=1200)))
        scan.start()
        deadline = time.monotonic() + 300  # a safety net: the scan reaches the lock however busy the machine
        while not _waiting_on_a_lock(pg_engine):
            assert time.monotonic() < deadline, "the scan never reached the database"
            time.sleep(0.05)
        # The lock is held until /healthz has answered: a worker blocked in the driver could never answer,
        # and the request would run into its timeout (a safety net, not a speed limit).
        health = requests.get(f"{base}/healthz", timeout=120)
        assert health.status_code == 200 and scan.is_alive()
        locker.rollback()
    scan.join(300)
    assert answers[0].status_code == 200 and "正品，首次查询" in answers[0].text


@pytest.mark.postgres
def test_twenty_phones_claim_one_pack_at_once_through_gevent_workers(serve, world, pg_engine):
    base = serve("--workers", "2")  # auto: gevent on PostgreSQL
    code, n = world.code(42), 20
    barrier = threading.Barrier(n)

    def phone(_):
        browser = requests.Session()
        barrier.wait()
        token = csrf_of(browser.get(f"{base}/S/{code}", timeout=120).text)
        barrier.wait()
        return browser.post(
            f"{base}/S/{code}/claim", data={"csrf_token": token}, allow_redirects=False, timeout=120
        ).status_code

    with ThreadPoolExecutor(n) as pool:
        assert_one_winner(world, list(pool.map(phone, range(n))))
    with world.session() as s:
        assert run_checks(s) == []


def _sessions_opened(probe) -> int:
    opened = probe.execute(
        text("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
    ).scalar_one()
    probe.commit()  # the statistics are a snapshot per transaction
    return opened


@pytest.mark.postgres
def test_a_burst_beyond_the_pool_waits_for_connections_instead_of_opening_more(serve, world, pg_engine):
    """40 clients at once against one gevent worker (20 requests at a time): it never opens more database
    connections than its pool holds, where connections beyond the pool would be opened and closed per
    request."""
    base = serve("--workers", "1")
    with pg_engine.connect() as probe:
        before = _sessions_opened(probe)
        with ThreadPoolExecutor(40) as pool:
            statuses = list(
                pool.map(
                    lambda i: requests.get(f"{base}/S/{world.code(i)}", timeout=120).status_code, range(400)
                )
            )
        opened = _sessions_opened(probe) - before
    assert statuses == [200] * 400
    assert opened <= POOL_SIZE


def _drop_database_connections(pg_engine) -> int:
    """What a PostgreSQL restart or a proxy's idle timeout does to the app's pooled connections."""
    with pg_engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()


@pytest.mark.postgres
def test_pooled_connections_the_database_dropped_are_replaced_unseen(world, pg_engine):
    """PostgreSQL restarted or a proxy cut idle connections: the next requests still answer 200."""
    client = world.app.test_client()
    assert [client.get(f"/S/{world.code(i)}").status_code for i in range(3)] == [200] * 3
    assert _drop_database_connections(pg_engine) >= 1
    assert [client.get(f"/S/{world.code(i)}").status_code for i in range(3, 6)] == [200] * 3


@pytest.mark.postgres
def test_a_gevent_worker_replaces_the_connections_the_database_dropped(serve, world, pg_engine):
    """The same under gevent, where the pool's liveness check must see the socket as the OS does."""
    base = serve("--workers", "1")
    with ThreadPoolExecutor(8) as pool:  # several pooled connections, all idle afterwards
        assert set(
            pool.map(lambda i: requests.get(f"{base}/S/{world.code(i)}", timeout=120).status_code, range(40))
        ) == {200}
    assert _drop_database_connections(pg_engine) >= 2
    assert [requests.get(f"{base}/S/{world.code(i)}", timeout=120).status_code for i in range(40, 60)] == [
        200
    ] * 20


def test_the_pools_liveness_check_polls_as_the_os_does_under_gevent():
    """gevent's poll() runs its event loop even for a zero timeout (redis-py's checkout pays that, ≈ 3 % of a
    scan); the pool's check keeps the OS's poll, though a gevent worker patches select before it builds the
    app."""
    probe = (
        "from gevent import monkey; monkey.patch_all()\n"
        "import select; from server.db import _unpatched_poll\n"
        "print(type(select.poll()).__module__, type(_unpatched_poll()()).__module__)"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert run.stdout.split() == ["gevent.select", "select"]


@pytest.mark.postgres
def test_a_busy_pool_answers_503_with_retry_after(world):
    """Every pooled connection held elsewhere for longer than the pool's timeout: a clear 503, not a 500."""
    runtime = world.app.extensions["codeloop"]
    held = [runtime.engine.connect() for _ in range(POOL_SIZE + MAX_OVERFLOW)]
    try:
        response = world.app.test_client().get(f"/api/v1/scan/{world.code(5)}")
    finally:
        for conn in held:
            conn.close()
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert response.get_json()["error"]["code"] == "INTERNAL_ERROR"
    assert re.fullmatch(r"\S.+", response.get_json()["error"]["message"])


def test_two_deployments_on_one_host_each_have_their_own_control_socket(tmp_path):
    """gunicorn's control socket lives in each deployment's instance folder, not in the shared per-user
    default (~/.gunicorn/gunicorn.ctl), so two deployments on one machine do not collide."""
    home, procs = tmp_path / "home", []
    home.mkdir()
    try:
        for name in ("a", "b"):
            instance = tmp_path / name
            env = {
                **codeloop_env(
                    CODELOOP_DATABASE_URL=f"sqlite:///{instance / 'db.sqlite3'}",
                    CODELOOP_INSTANCE_DIR=str(instance),
                ),
                "HOME": str(home),
            }
            env.pop("XDG_RUNTIME_DIR", None)
            subprocess.run([CODELOOP, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
            port = _free_port()
            procs.append(
                subprocess.Popen(
                    [CODELOOP, "serve", "--port", str(port), "--workers", "1"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
            deadline = time.monotonic() + 60
            while not (instance / "gunicorn.ctl").is_socket() and time.monotonic() < deadline:
                assert procs[-1].poll() is None, f"deployment {name} stopped"
                time.sleep(0.2)
            assert (instance / "gunicorn.ctl").is_socket(), f"deployment {name} has no control socket"
            assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=30).status_code == 200
        assert all(proc.poll() is None for proc in procs)
        assert not (home / ".gunicorn").exists()
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


def test_an_instance_folder_too_deep_for_a_socket_runs_without_one(tmp_path):
    argv = gunicorn_argv(
        host="127.0.0.1",
        port=1,
        workers=1,
        worker_class="gthread",
        threads=1,
        connections=1,
        instance_dir=tmp_path / ("x" * 120),
    )
    assert "--no-control-socket" in argv and "--control-socket" not in argv
