"""Clerk attribution: a consumer who opens a clerk's promo link `/c/<promo>` credits that clerk for
claims within the window (the campaign's attribution_minutes where a campaign is known; otherwise
DEFAULT_MINUTES = 30, because a promo code is scanned before any pack and so before any campaign)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from codegen.ids import IdInvalid, PublicIds
from server.errors import DomainError
from server.models import Attribution, Store, User

DEFAULT_MINUTES = 30


def promo_code_for(ids: PublicIds, user_id: int) -> str:
    """A clerk's promo code (导购码): hashids of the user id in namespace "promo"."""
    return ids.encode("promo", user_id)


def find_clerk(session: Session, ids: PublicIds, text: str) -> User:
    """The active clerk whose promo code `text` is (case-insensitive); assigns a missing code on the way."""
    try:
        user_id = ids.decode("promo", text)
    except IdInvalid:
        user_id = None
    clerk = session.get(User, user_id) if user_id is not None else None
    canon = text.strip().upper() if isinstance(text, str) else ""
    if (
        clerk is None and 0 < len(canon) <= 32 and canon.isascii() and canon.isalnum()
    ):  # a code assigned some other way
        clerk = session.execute(select(User).where(User.promo_code == canon)).scalar_one_or_none()
    if clerk is None or clerk.role != "clerk" or not clerk.active:
        raise DomainError("NOT_FOUND")
    if clerk.promo_code is None:
        clerk.promo_code = promo_code_for(ids, clerk.id)
    return clerk


def attach(
    session: Session,
    ids: PublicIds,
    text: str,
    *,
    consumer_id: int,
    now: datetime,
    minutes: int = DEFAULT_MINUTES,
) -> tuple[User, Store | None, Attribution]:
    clerk = find_clerk(session, ids, text)
    attribution = Attribution(
        consumer_id=consumer_id,
        clerk_id=clerk.id,
        started_at=now,
        expires_at=now + timedelta(minutes=minutes),
    )
    session.add(attribution)
    session.flush()
    return clerk, session.get(Store, clerk.store_id) if clerk.store_id else None, attribution
