"""Idempotency keys with Stripe's semantics, for till and POS retries — in the work's own transaction.

begin()   first thing in the transaction: the stored response to replay, IDEMPOTENCY_KEY_REUSED (other
          body), REQUEST_IN_PROGRESS (a request with this key is running now), or None: do the work.
          PostgreSQL: a transaction-level advisory lock on the key says "running"; it ends with the
          transaction, so a request that dies leaves nothing behind. SQLite (one writer at a time): a
          'started' row written first takes the write lock; a same-key request waits, then replays.
resume()  the same on PostgreSQL, with the key's read and lock riding along with the request's first
          statement, the lookup of its principal (idempotency_sql.with_key_state): a round trip less.
finish()  stores the response: in the same transaction as the work on success (a crash leaves either
          nothing or the work and its answer), in its own after a refusal.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    select,
    update,
)
from sqlalchemy.orm import Session

from server.db import insert_ignoring_conflicts, is_postgres
from server.errors import DomainError, validation
from server.models import IdempotencyKey
from server.services import idempotency_sql

KEYS = IdempotencyKey.__table__
MAX_KEY = 255


@dataclass(frozen=True)
class Replay:
    status: int
    body: dict


def request_hash(method: str, path: str, body: object) -> str:
    """A stable fingerprint of the request: the same JSON in another key order is the same request."""
    canonical = json.dumps(
        [method.upper(), path, body], sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY or not key.isprintable():
        raise validation(
            f"Idempotency-Key must be 1-{MAX_KEY} printable characters",
            f"Idempotency-Key 须为 1-{MAX_KEY} 个可打印字符",
            field="Idempotency-Key",
        )
    return key


@dataclass
class Claim:
    """This request's hold on its key: where the answer goes when the work is done."""

    principal: str
    key: str
    fingerprint: str
    row_id: int | None = None  # SQLite's 'started' row


def begin(
    session: Session, *, principal: str, key: str, fingerprint: str, now: datetime
) -> tuple[Claim, Replay | None]:
    """Take the key for this transaction;
    (claim, None) to do the work, (claim, Replay) to answer from the store."""
    claim = Claim(principal, key, fingerprint)
    if is_postgres(session):
        state = session.execute(idempotency_sql.READ_OR_LOCK, {"principal": principal, "key": key}).one()
        return _claimed(claim, *state[-5:])
    stmt = insert_ignoring_conflicts(session, KEYS, index_elements=["principal", "key"])
    claim.row_id = session.execute(
        stmt.values(
            principal=principal, key=key, request_hash=fingerprint, status="started", created_at=now
        ).returning(KEYS.c.id)
    ).scalar()
    if claim.row_id is not None:
        return claim, None
    row = session.execute(
        select(KEYS.c.request_hash, KEYS.c.status, KEYS.c.response_status, KEYS.c.response_body).where(
            KEYS.c.principal == principal, KEYS.c.key == key
        )
    ).one()
    replay = _stored(key, fingerprint, *row)
    if replay is None:  # a 'started' row another transaction committed: only a crash of older code leaves one
        raise DomainError("REQUEST_IN_PROGRESS", key=key)
    return claim, replay


def resume(*, principal: str, key: str, fingerprint: str, state: tuple) -> tuple[Claim, Replay | None]:
    """begin() for a key whose state this transaction read with its principal (with_key_state)."""
    return _claimed(Claim(principal, key, fingerprint), *state)


def _claimed(
    claim: Claim, locked, stored_hash, status, response_status, response_body
) -> tuple[Claim, Replay | None]:
    if locked is False:  # a request with this key is running now: it holds the lock
        raise DomainError("REQUEST_IN_PROGRESS", key=claim.key)
    return claim, _stored(claim.key, claim.fingerprint, stored_hash, status, response_status, response_body)


def _stored(key: str, fingerprint: str, stored_hash, status, response_status, response_body) -> Replay | None:
    if stored_hash is None:
        return None
    if stored_hash != fingerprint:
        raise DomainError("IDEMPOTENCY_KEY_REUSED", key=key)
    return Replay(response_status, response_body) if status == "done" else None


TRANSIENT = frozenset({"REQUEST_IN_PROGRESS", "INTERNAL_ERROR"})  # answers a retry should not get replayed


def finish(session: Session, claim: Claim, *, status: int, body: dict, now: datetime) -> Replay | None:
    """Store the response for replay. If a same-key request stored its answer first (it committed between
    this one's read and its lock), return that answer: the caller rolls back and replays it instead."""
    if claim.row_id is not None:
        done = session.execute(
            update(KEYS)
            .where(KEYS.c.id == claim.row_id, KEYS.c.status == "started")
            .values(status="done", response_status=status, response_body=body)
        ).rowcount
        if done:
            return None
    stored = session.execute(
        idempotency_sql.STORE,
        dict(
            principal=claim.principal,
            key=claim.key,
            request_hash=claim.fingerprint,
            response_status=status,
            response_body=body,
            created_at=now,
        ),
    ).scalar()
    if stored is not None:
        return None
    row = session.execute(
        select(KEYS.c.response_status, KEYS.c.response_body).where(
            KEYS.c.principal == claim.principal, KEYS.c.key == claim.key
        )
    ).one()
    return Replay(row[0], row[1])
