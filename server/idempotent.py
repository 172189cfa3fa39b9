"""One idempotent request, for the JSON API and the till form alike: begin → replay → work → finish → commit.

Stripe's semantics (services/idempotency.py keeps the keys): the key is taken first thing in the work's
transaction; the answer is stored with the work on success, or after the rollback on a refusal; a retry with
the same key and request gets the stored answer; a transient refusal (REQUEST_IN_PROGRESS, INTERNAL_ERROR) is
not stored, so a retry runs the work again. Without a key the work simply runs and commits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from server.errors import DomainError
from server.services import idempotency


@dataclass(frozen=True)
class Answer:
    """The response to give: the work's (or its refusal's) body and status, or a stored one replayed."""

    body: dict
    status: int
    replayed: bool = False


def answer(
    session: Session,
    *,
    principal: str,
    key: str | None,
    request: tuple[str, str, object],
    work: Callable[[], tuple[dict, int]],
    refused: Callable[[DomainError], tuple[dict, int]],
    now: datetime,
    key_state: tuple | None = None,
) -> Answer:
    """Run `work() -> (body, status)` at most once per (principal, key) and commit it; `refused(error)` turns
    a refusal into (body, status). `request` is (method, path, body), the fingerprint a reused key must match;
    `key_state` is the key's state if this transaction read it already (idempotency.with_key_state)."""
    claim = None
    try:
        if key is not None:
            fingerprint = idempotency.request_hash(*request)
            claim, replay = (
                idempotency.resume(principal=principal, key=key, fingerprint=fingerprint, state=key_state)
                if key_state is not None
                else idempotency.begin(
                    session, principal=principal, key=key, fingerprint=fingerprint, now=now
                )
            )
            if replay is not None:
                session.rollback()
                return Answer(replay.body, replay.status, replayed=True)
        body, status = work()
    except DomainError as exc:
        session.rollback()
        body, status = refused(exc)
        if claim is None or exc.code in idempotency.TRANSIENT:
            return Answer(body, status)
    if claim is not None:
        earlier = idempotency.finish(session, claim, status=status, body=body, now=now)
        if earlier is not None:  # a same-key request answered first: its answer stands, this work is undone
            session.rollback()
            return Answer(earlier.body, earlier.status, replayed=True)
    session.commit()
    return Answer(body, status)
