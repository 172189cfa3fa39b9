"""The idempotency keys' statements (services/idempotency.py): on PostgreSQL a key's state is read, and its
lock taken, in the same statement (with_key_state), which a bearer token's lookup can carry too; the stored
answer is written with one prebuilt statement on both dialects."""

from __future__ import annotations

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    bindparam,
    case,
    column,
    func,
    literal,
    select,
    text,
)

from server.models import IdempotencyKey
from server.models.base import UTCDateTime

KEYS = IdempotencyKey.__table__


def with_key_state(stmt: Select, principal: ColumnElement[str], key: ColumnElement[str]) -> Select:
    """PostgreSQL: `stmt` reading also the state of an idempotency key: the stored answer, or, none being
    stored, the key's lock taken (CASE evaluates one branch). begin() reads it alone; a request's principal
    lookup can read it in the same round trip (`principal` being Principal.key in SQL). The last five columns
    are the state."""
    lock = func.pg_try_advisory_xact_lock(func.hashtextextended(principal + " " + key, 0))
    return stmt.add_columns(
        case((KEYS.c.id.is_(None), lock)).label("key_locked"),
        KEYS.c.request_hash.label("key_hash"),
        KEYS.c.status.label("key_status"),
        KEYS.c.response_status.label("key_response_status"),
        KEYS.c.response_body.label("key_response_body"),
    ).outerjoin(KEYS, and_(KEYS.c.principal == principal, KEYS.c.key == key))


_ONE = select(literal(1).label("one")).subquery("one")
READ_OR_LOCK = with_key_state(
    select(_ONE.c.one), bindparam("principal", type_=String), bindparam("key", type_=String)
)


# prebuilt: every till request with a key stores its answer (same text on both dialects)
STORE = (
    text(
        "INSERT INTO idempotency_keys "
        "(principal, key, request_hash, status, response_status, response_body, created_at) "
        "VALUES (:principal, :key, :request_hash, 'done', :response_status, :response_body, :created_at) "
        "ON CONFLICT (principal, key) DO NOTHING RETURNING id"
    )
    .bindparams(
        bindparam("response_body", type_=KEYS.c.response_body.type),
        bindparam("created_at", type_=UTCDateTime()),
    )
    .columns(column("id"))
)
