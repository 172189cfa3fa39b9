"""Fixtures for both databases and real Redis.

CODELOOP_TEST_DATABASE=sqlite (default) or postgresql picks the main test database. Tests marked
`postgres` (concurrency proofs) always run on PostgreSQL; tests that need Redis use a real server.
An unreachable PostgreSQL or Redis fails those tests: nothing is skipped.

Isolation on PostgreSQL: a test runs inside one outer transaction on one connection, rolled back at its
end; the test's sessions and its app's sessions join it (each commit releases a savepoint), so they see
each other's work and nothing is ever committed. A test that needs real commits — seen from other
connections, threads or processes: concurrency proofs, served apps, workers, the `codeloop` command, DDL —
asks for `pg_engine`, `engine` or `cli_env`, or is marked `commits`; it gets the database emptied first.
On SQLite every test gets a copy of a migrated template file.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
import redis as redis_lib
from sqlalchemy import create_engine, event, text
from sqlalchemy.orm import sessionmaker

from server.config import Config
from server.db import make_engine, make_sessionmaker
from server.migrate import upgrade
from server.models import Base

MAIN = os.environ.get("CODELOOP_TEST_DATABASE", "sqlite")
PG_ADMIN_URL = os.environ.get("CODELOOP_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("CODELOOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PG_TEST_DB = f"codeloop_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
SECRET = "test-secret-0123456789-0123456789-abcdef"

if MAIN not in ("sqlite", "postgresql"):
    raise pytest.UsageError("CODELOOP_TEST_DATABASE must be sqlite or postgresql")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "commits: needs real commits on PostgreSQL (other connections, threads or processes)"
    )


def pytest_report_header(config):
    return [
        f"codeloop main test database: {MAIN}"
        + (
            f" (database {PG_TEST_DB} on {PG_ADMIN_URL.rsplit('@', 1)[-1].rsplit('/', 1)[0]})"
            if MAIN == "postgresql"
            else ""
        ),
        f"codeloop PostgreSQL for concurrency tests: database {PG_TEST_DB}",
        f"codeloop redis for queue tests: {REDIS_URL}",
    ]


@pytest.fixture(scope="session")
def pg_url():
    """A fresh PostgreSQL database for this run, migrated to head, dropped at the end."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = PG_TEST_DB
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def _pg_engine(pg_url):
    engine = make_engine(pg_url, pool_size=30, max_overflow=30)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


_COMMITTING_FIXTURES = frozenset({"pg_engine", "engine", "cli_env"})
_dirty = {"pg": False}  # rows committed to the PostgreSQL test database since it was last emptied


def _commits(request) -> bool:
    """Whether the test needs real commits (see the module's docstring)."""
    return request.node.get_closest_marker("commits") is not None or bool(
        _COMMITTING_FIXTURES.intersection(request.fixturenames)
    )


def _truncate(engine) -> None:
    """Empty every table and restart ids. DELETE with triggers off: TRUNCATE costs ~0.6 s a test."""
    _dirty["pg"] = True  # the test about to run commits
    with engine.begin() as conn:
        conn.execute(
            text("SET LOCAL session_replication_role = replica")
        )  # skips append-only triggers and FKs
        for table in reversed(Base.metadata.sorted_tables):
            if conn.execute(table.delete()).rowcount and "id" in table.c:
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), 1, false)"))


def _restart_ids(conn) -> None:
    """Sequences do not roll back: restart every table's id, as an emptied database has them."""
    tables = [t.name for t in Base.metadata.sorted_tables if "id" in t.c]
    conn.execute(
        text(
            "SELECT count(setval(pg_get_serial_sequence(t, 'id'), 1, false))"
            " FROM unnest(CAST(:tables AS text[])) AS t"
        ),
        {"tables": tables},
    )


@pytest.fixture
def pg_engine(_pg_engine):
    """PostgreSQL, emptied before the test, for tests that commit (concurrency proofs, served apps)."""
    _truncate(_pg_engine)
    return _pg_engine


@pytest.fixture
def _pg_outer(_pg_engine):
    """One connection in a transaction that is rolled back after the test: the sessions of the test and of
    its app join it (SQLAlchemy's "join a session into an external transaction" recipe)."""
    if _dirty["pg"]:
        _truncate(_pg_engine)
        _dirty["pg"] = False
    conn = _pg_engine.connect()
    # The scan's single statement asks for autocommit when it opens the request's transaction; inside the
    # outer transaction it runs in the session's savepoint instead (tests that commit cover autocommit).
    event.listen(conn, "set_connection_execution_options", lambda _c, opts: opts.pop("isolation_level", None))
    outer = conn.begin()
    try:
        yield conn
    finally:
        if outer.is_active:
            outer.rollback()
        _restart_ids(conn)
        conn.commit()
        conn.close()


def _joined_sessions(conn) -> sessionmaker:
    return sessionmaker(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture(autouse=True)
def _runtimes_join_the_outer_transaction(request, monkeypatch):
    """On PostgreSQL, every app or runtime a non-committing test builds on the test database (through the
    `app` fixture or its own) takes its sessions from the test's outer transaction."""
    if MAIN != "postgresql" or _commits(request):
        return
    import server.runtime

    real = server.runtime.make_sessionmaker

    def make_sessionmaker(engine):
        if engine.url.database != PG_TEST_DB:
            return real(engine)
        return _joined_sessions(request.getfixturevalue("_pg_outer"))

    monkeypatch.setattr(server.runtime, "make_sessionmaker", make_sessionmaker)


@pytest.fixture
def database_url(request, tmp_path):
    """The main test database's URL, empty and migrated."""
    if MAIN == "postgresql":
        if _commits(request):
            _truncate(request.getfixturevalue("_pg_engine"))
        return request.getfixturevalue("pg_url")
    path = tmp_path / "test.sqlite3"
    shutil.copy(request.getfixturevalue("_sqlite_template"), path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(request, database_url):
    if MAIN == "postgresql":
        yield request.getfixturevalue("_pg_engine")
        return
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(request, database_url):
    """Sessions on the main test database (on PostgreSQL joined to the test's outer transaction, unless the
    test commits)."""
    if MAIN == "postgresql" and not _commits(request):
        return _joined_sessions(request.getfixturevalue("_pg_outer"))
    return make_sessionmaker(request.getfixturevalue("engine"))


@pytest.fixture
def session(sessions):
    with sessions() as s:
        yield s


@pytest.fixture
def redis_url():
    """A real Redis, flushed; fails the test when Redis is not running."""
    client = redis_lib.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis_lib.RedisError as exc:
        pytest.fail(f"Redis at {REDIS_URL} is required and unreachable: {exc}")
    client.flushdb()
    yield REDIS_URL
    client.flushdb()


def make_config(database_url: str, tmp_path: Path, **overrides) -> Config:
    values = dict(
        env="test",
        database_url=database_url,
        secret_key=SECRET,
        instance_dir=tmp_path / "instance",
        public_url="https://q.example.cn",
        testing=True,
    )
    values.update(overrides)
    return Config(**values)


@pytest.fixture
def config(database_url, tmp_path):
    return make_config(database_url, tmp_path)


@pytest.fixture
def app(config):
    from server.app import create_app

    app = create_app(config)
    yield app
    app.extensions["codeloop"].engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def codeloop_env(**settings: str) -> dict[str, str]:
    """This process's environment without any CODELOOP_* variable, plus `settings`:
    for a `codeloop` subprocess."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("CODELOOP_")}, **settings}


@pytest.fixture
def cli_env(database_url, tmp_path):
    """Environment for running the `codeloop` console script against the test database."""
    return codeloop_env(
        CODELOOP_DATABASE_URL=database_url,
        CODELOOP_SECRET_KEY=SECRET,
        CODELOOP_INSTANCE_DIR=str(tmp_path / "instance"),
        CODELOOP_ENV="test",
    )
