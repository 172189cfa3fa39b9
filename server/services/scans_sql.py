"""The scan's writes, per dialect: what record_scan (services/scans.py) does in one statement on PostgreSQL
and in two or three on SQLite. Both return (scan id, consumer id, code id, scan count, first scan at, first
city, voucher id); the code's columns are None when `code` is None (not a genuine, active code)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from codegen.codes import PackCode
from server.models import Attribution, Code, Consumer, Scan, Voucher

Written = tuple  # (scan id, consumer id, code id, scan count, first scan at, first city, voucher id)


_attributions, _consumers, _codes, _scans = (
    Attribution.__table__,
    Consumer.__table__,
    Code.__table__,
    Scan.__table__,
)
# Core statements built once: the scan path is hot, and building (or ORM-compiling) a statement costs more
# Python than running it
_CLERK = (
    select(_attributions.c.clerk_id)
    .where(
        _attributions.c.consumer_id == _consumers.c.id,
        _attributions.c.expires_at > bindparam("now", type_=Attribution.expires_at.type),
    )
    .order_by(_attributions.c.id.desc())
    .limit(1)
    .scalar_subquery()
)
_CONSUMER_AND_CLERK = select(_consumers.c.id, _CLERK).where(_consumers.c.public_id == bindparam("public_id"))


def consumer_and_clerk(
    session: Session, public_id: str | None, now: datetime
) -> tuple[int, int | None] | None:
    """(consumer id, attributed clerk id) for a consumer's public id in one query; None if unknown."""
    if not public_id:
        return None
    row = session.execute(_CONSUMER_AND_CLERK, {"public_id": public_id, "now": now}).first()
    return (row[0], row[1]) if row else None


def _build_upsert(dialect_insert):
    now = bindparam("now", type_=Code.first_scan_at.type)
    stmt = dialect_insert(_codes).values(
        batch_id=bindparam("batch_id"),
        serial=bindparam("serial"),
        kind=bindparam("kind"),
        scan_count=1,
        first_scan_at=now,
        last_scan_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["batch_id", "serial", "kind"],
        set_={"scan_count": _codes.c.scan_count + 1, "last_scan_at": stmt.excluded.last_scan_at},
    )
    return stmt.returning(_codes.c.id, _codes.c.scan_count, _codes.c.first_scan_at, _codes.c.first_city)


_SQLITE_UPSERT = _build_upsert(sqlite_insert)  # PostgreSQL counts inside _PG_SCAN


def _count_scan(
    session: Session, batch_id: int, serial: int, kind: int, now: datetime
) -> tuple[int, int, datetime, str | None]:
    """SQLite: create the Code row on its first scan or count another, in ONE race-free statement:
    INSERT … ON CONFLICT (batch_id, serial, kind)
    DO UPDATE SET scan_count = codes.scan_count + 1 … RETURNING."""
    row = session.execute(
        _SQLITE_UPSERT, {"batch_id": batch_id, "serial": serial, "kind": kind, "now": now}
    ).one()
    return row[0], row[1], row[2], row[3]


_SCAN_COLUMNS = (
    "code_id",
    "batch_id",
    "serial",
    "raw_code",
    "outcome",
    "scanned_at",
    "ip",
    "ip_hash",
    "user_agent",
    "consumer_id",
    "clerk_id",
    "geo_status",
)
_INSERT_SCAN = (
    insert(_scans)
    .values({name: bindparam(name, type_=_scans.c[name].type) for name in _SCAN_COLUMNS})
    .returning(_scans.c.id)
)

# PostgreSQL: the whole scan in ONE statement — who is scanning and their attributed clerk, the race-free
# count of the code (only for a genuine, active code), the scan row, and the pack's voucher if any.
_PG_SCAN = text("""
WITH who AS (
    SELECT c.id AS consumer_id,
           (SELECT a.clerk_id FROM attributions a WHERE a.consumer_id = c.id AND a.expires_at > :now
             ORDER BY a.id DESC LIMIT 1) AS clerk_id
      FROM consumers c WHERE c.public_id = :public_id
), code AS (
    INSERT INTO codes (batch_id, serial, kind, scan_count, first_scan_at, last_scan_at)
    SELECT :code_batch, :code_serial, :code_kind, 1, :now, :now WHERE :count_code
    ON CONFLICT (batch_id, serial, kind)
    DO UPDATE SET scan_count = codes.scan_count + 1, last_scan_at = excluded.last_scan_at
    RETURNING id, scan_count, first_scan_at, first_city
), scan AS (
    INSERT INTO scans (code_id, batch_id, serial, raw_code, outcome, scanned_at, ip, ip_hash, user_agent,
                       consumer_id, clerk_id, geo_status)
    VALUES ((SELECT id FROM code), :batch_id, :serial, :raw_code, :outcome, :now, :ip, :ip_hash, :user_agent,
            (SELECT consumer_id FROM who), (SELECT clerk_id FROM who), 'pending')
    RETURNING id, consumer_id
)
SELECT scan.id, scan.consumer_id, code.id, code.scan_count, code.first_scan_at, code.first_city, v.id
  FROM scan LEFT JOIN code ON true LEFT JOIN vouchers v ON v.code_id = code.id
""").bindparams(bindparam("now", type_=Scan.scanned_at.type))


def write_postgres(
    session: Session, values: dict, *, code: PackCode | None, public_id: str | None, now: datetime
) -> Written:
    """PostgreSQL: the whole scan in one statement (_PG_SCAN)."""
    session.flush()  # the statement runs on the session's connection, past the ORM's autoflush
    # one statement is its own transaction: no BEGIN and COMMIT round trips on the hot path
    options = {} if session.in_transaction() else {"execution_options": {"isolation_level": "AUTOCOMMIT"}}
    params = {
        **values,
        "public_id": public_id,
        "now": now,
        "count_code": code is not None,
        "code_batch": code.batch if code else 0,
        "code_serial": code.serial if code else 0,
        "code_kind": code.kind if code else 0,
    }
    return session.connection(**options).execute(_PG_SCAN, params).one()


def write_sqlite(
    session: Session, values: dict, *, code: PackCode | None, public_id: str | None, now: datetime
) -> Written:
    """SQLite: who is scanning, the code's count (an upsert), the scan row, and the pack's voucher if the code
    was scanned before."""
    consumer_id, clerk_id = consumer_and_clerk(session, public_id, now) or (None, None)
    code_id = scan_count = first_at = first_city = voucher_id = None
    if code is not None:
        code_id, scan_count, first_at, first_city = _count_scan(
            session, code.batch, code.serial, code.kind, now
        )
    scan_id = session.execute(
        _INSERT_SCAN, {**values, "code_id": code_id, "consumer_id": consumer_id, "clerk_id": clerk_id}
    ).scalar_one()
    if scan_count and scan_count > 1:
        voucher_id = session.execute(select(Voucher.id).where(Voucher.code_id == code_id)).scalar()
    return scan_id, consumer_id, code_id, scan_count, first_at, first_city, voucher_id
