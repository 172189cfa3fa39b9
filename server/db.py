"""Engine and session factory; no Flask here, so workers and the CLI share it."""

from __future__ import annotations

import select
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from server.config import ConfigError

# Connections per process on PostgreSQL. None beyond the pool: a request that finds all ten busy waits (up
# to pool_timeout) rather than opening a connection for one statement, which costs the server a new process.
POOL_SIZE, MAX_OVERFLOW = 10, 0


def make_engine(url: str, **kwargs) -> Engine:
    """An engine with the per-dialect settings codeloop relies on."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite only opens a transaction before INSERT/UPDATE/DELETE, so a SAVEPOINT taken first would
        # commit on release; SQLAlchemy's recipe: the driver stays in autocommit and we emit BEGIN ourselves
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
        return engine
    kwargs.setdefault("pool_size", POOL_SIZE)
    kwargs.setdefault("max_overflow", MAX_OVERFLOW)
    kwargs.setdefault("pool_timeout", 5)
    engine = create_engine(url, connect_args={"connect_timeout": 5}, **kwargs)
    event.listen(engine, "checkout", _closed_by_server_check(_unpatched_poll()))
    return engine


def _unpatched_poll():
    """select.poll as the OS gives it:
    gevent's replacement would run its event loop even for a zero timeout."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey.get_original("select", "poll") if monkey else select.poll


def _closed_by_server_check(poll):
    """A pool checkout listener that replaces connections the server has closed, without a round trip."""

    def check(dbapi_conn, _record, _proxy) -> None:
        # A pooled connection sits idle, so the server has nothing to say to it unless it closed it
        # (a restart, an idle timeout, a terminated backend: a last error message, then EOF). One
        # zero-timeout poll of the socket finds that, where pool_pre_ping's SELECT cost a round trip per
        # checkout, one of a scan's three. The pool replaces a connection this refuses.
        if not dbapi_conn.closed:
            poller = poll()
            poller.register(dbapi_conn.pgconn.socket, select.POLLIN)
            if not poller.poll(0):
                return
        raise DisconnectionError("the database closed this pooled connection")

    return check


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    # WAL lets readers run beside the one writer; foreign keys are off by default in SQLite.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def ping(engine: Engine) -> None:
    """Raise ConfigError with one clear line when the database cannot be reached."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise ConfigError(
            f"cannot reach the database at {engine.url.render_as_string(hide_password=True)}: {reason}"
        ) from None


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One short unit of work for jobs and the CLI: commit on success, roll back on error."""
    with factory() as session, session.begin():
        yield session


def is_postgres(session_or_engine) -> bool:
    bind = session_or_engine.get_bind() if isinstance(session_or_engine, Session) else session_or_engine
    return bind.dialect.name == "postgresql"


def insert_ignoring_conflicts(session: Session, table, *, index_elements: list[str]):
    """`INSERT … ON CONFLICT DO NOTHING` for the session's dialect: the race-free create-if-absent."""
    if is_postgres(session):
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).on_conflict_do_nothing(index_elements=index_elements)


def add_unique(session: Session, row) -> bool:
    """Add and flush `row` in a savepoint; False (and nothing added) when a unique constraint refuses it."""
    from sqlalchemy.exc import IntegrityError

    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return False
    return True
