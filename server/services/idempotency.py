"""Idempotency keys with Stripe's semantics, for till and POS retries.

    claim()   in its own short transaction (the caller commits at once): the first request with a key
              inserts a 'started' row (INSERT … ON CONFLICT DO NOTHING); a later one gets the stored
              response replayed, IDEMPOTENCY_KEY_REUSED (other body) or REQUEST_IN_PROGRESS.
    finish()  stores the response: in the same transaction as the work on success (so a crash leaves
              either 'started' and no work, or 'done' and the work), in its own after a refusal.

A 'started' row older than LEASE (its request died before committing anything) may be taken over.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from server.db import insert_ignoring_conflicts
from server.errors import DomainError, validation
from server.models import IdempotencyKey

LEASE = timedelta(seconds=60)
KEYS = IdempotencyKey.__table__
MAX_KEY = 255


@dataclass(frozen=True)
class Replay:
    status: int
    body: dict


def request_hash(method: str, path: str, body: object) -> str:
    """A stable fingerprint of the request: the same JSON in another key order is the same request."""
    canonical = json.dumps([method.upper(), path, body], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY or not key.isprintable():
        raise validation(f"Idempotency-Key must be 1-{MAX_KEY} printable characters",
                         f"Idempotency-Key 须为 1-{MAX_KEY} 个可打印字符", field="Idempotency-Key")
    return key


def claim(session: Session, *, principal: str, key: str, fingerprint: str, now: datetime) -> tuple[int, Replay | None]:
    """(row id, None) when this request should do the work; (row id, Replay) to answer from the store."""
    stmt = insert_ignoring_conflicts(session, KEYS, index_elements=["principal", "key"])  # Core: no ORM bulk path
    row_id = session.execute(stmt.values(principal=principal, key=key, request_hash=fingerprint, status="started",
                                         created_at=now).returning(KEYS.c.id)).scalar()
    if row_id is not None:
        return row_id, None
    row = session.execute(select(IdempotencyKey).where(IdempotencyKey.principal == principal,
                                                       IdempotencyKey.key == key)).scalar_one()
    if row.request_hash != fingerprint:
        raise DomainError("IDEMPOTENCY_KEY_REUSED", key=key)
    if row.status == "done":
        return row.id, Replay(row.response_status, row.response_body)
    taken = session.execute(  # the first request died before finishing: take the key over
        update(IdempotencyKey).where(IdempotencyKey.id == row.id, IdempotencyKey.status == "started",
                                     IdempotencyKey.created_at < now - LEASE).values(created_at=now)
    ).rowcount
    if taken:
        return row.id, None
    raise DomainError("REQUEST_IN_PROGRESS", key=key)


TRANSIENT = frozenset({"REQUEST_IN_PROGRESS", "INTERNAL_ERROR"})  # answers a retry should not get replayed


def release(session: Session, *, row_id: int) -> None:
    """Forget a key whose request failed for a passing reason, so that a retry does the work afresh."""
    session.execute(delete(KEYS).where(KEYS.c.id == row_id, KEYS.c.status == "started"))


def finish(session: Session, *, row_id: int, status: int, body: dict) -> None:
    """Store the response for replay (only while the row is still 'started')."""
    session.execute(update(KEYS).where(KEYS.c.id == row_id, KEYS.c.status == "started")
                    .values(status="done", response_status=status, response_body=body))
