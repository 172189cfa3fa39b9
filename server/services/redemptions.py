"""Redeeming vouchers at the till, and reversing a redemption within the grace window.

One business event, one transaction: the voucher's conditional state change
(UPDATE … WHERE status='issued' AND expires_at > now RETURNING), the Redemption row and the ledger
postings (rewards.redemption_postings: the clerk reward goes to the voucher's attributed clerk, not to
whoever operates the till) commit together or not at all. The database decides the race:
whatever the concurrency, exactly one UPDATE matches and everyone else is told who won and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.orm import Session

from server.actors import Actor, StoreRef
from server.errors import DomainError, Localised, validation
from server.formats import is_id, local_time, yuan
from server.models import (
    AuditLog,
    Campaign,
    LedgerTransaction,
    Redemption,
    Store,
    Voucher,
)
from server.services import ledger, redemptions_sql, rewards, voucher_tokens
from server.services.voucher_codes import presented

ANOTHER_STORE = Localised(zh_CN="其他门店", en="another store")  # where a redemption is, to other stores
MAX_PURCHASE_FEN = 10**10


class RedemptionRow(NamedTuple):
    """The redemption row as written (the answer to the till is built from it)."""

    id: int
    voucher_id: int
    store_id: int
    clerk_id: int | None
    api_token_id: int | None
    purchase_fen: int | None
    receipt_ref: str | None
    redeemed_at: datetime


@dataclass(frozen=True)
class Redeemed:
    redemption: RedemptionRow
    voucher: rewards.RedemptionTerms
    store: Store | StoreRef


def _token_to_code(secret: bytes, token: str, now: datetime) -> str:
    return presented(voucher_tokens.verify_token(secret, token, now))[0]


def resolve_store(session: Session, actor: Actor, store_id: int | None) -> Store | StoreRef:
    """The store this redemption is for: a clerk's or POS token's own; one an owner owns; any for an admin."""
    if actor.store_id is not None:
        if store_id is not None and store_id != actor.store_id:
            raise DomainError("STORE_NOT_ALLOWED", store_id=store_id)
        store_id = actor.store_id
    elif actor.role in ("owner", "admin"):
        if store_id is None:
            raise validation("name the store to redeem for", "请指定核销门店", field="store_id")
    else:
        raise DomainError("FORBIDDEN")
    if actor.store is not None and actor.store.id == store_id:
        store = actor.store
    else:
        store = session.get(Store, store_id) if is_id(store_id) else None
    if store is None or not store.active:
        raise DomainError("STORE_NOT_ALLOWED", store_id=store_id)
    if actor.role == "owner" and actor.store_id is None and store.owner_id != actor.user_id:
        raise DomainError("STORE_NOT_ALLOWED", store_id=store_id)
    return store


def redeem(
    session: Session,
    *,
    voucher_input: str,
    actor: Actor,
    now: datetime,
    hold_days: int,
    secret: bytes,
    tz: str,
    store_id: int | None = None,
    purchase_fen: int | None = None,
    receipt_ref: str | None = None,
) -> Redeemed:
    """Redeem one voucher for one store, or raise the typed reason it cannot be (nothing changes then)."""
    if purchase_fen is not None and (
        type(purchase_fen) is not int or not 0 <= purchase_fen <= MAX_PURCHASE_FEN
    ):
        raise validation(
            "purchase_fen must be a whole number of fen", "消费金额须为整数（分）", field="purchase_fen"
        )
    if receipt_ref is not None and (
        not isinstance(receipt_ref, str) or len(receipt_ref) > 100 or not receipt_ref.isprintable()
    ):
        raise validation(
            "receipt_ref must be text of at most 100 characters",
            "小票号须为不超过 100 字的文字",
            field="receipt_ref",
        )
    store = resolve_store(session, actor, store_id)
    code, is_token = presented(voucher_input)
    if is_token:
        code = _token_to_code(secret, code, now)
    row = dict(
        store_id=store.id,
        clerk_id=actor.user_id if actor.role == "clerk" else None,  # who operated the till, for the record
        api_token_id=actor.token_id,
        purchase_fen=purchase_fen,
        receipt_ref=receipt_ref or None,
        redeemed_at=now,
    )
    taken = redemptions_sql.take(session, code=code, is_token=is_token, **row)
    if taken is None:
        _refuse(session, code, is_token, purchase_fen, store, now, tz)
    voucher, redemption_id, transaction_id = taken
    ledger.write_entries(
        session,
        transaction_id,
        rewards.redemption_postings(session, voucher=voucher, store_id=store.id),
        available_at=now + timedelta(days=hold_days),
        now=now,
    )
    return Redeemed(RedemptionRow(redemption_id, voucher.id, **row), voucher, store)


# Why a voucher was not redeemed, in one query: the voucher, its campaign's QR rule, and its live redemption
# with the store, if any (as the database holds them now: a statement of its own sees the latest commits).
_DIAGNOSIS = (
    select(
        Voucher.status,
        Voucher.expires_at,
        Voucher.min_spend_fen,
        Campaign.rotating_token,
        Redemption.id,
        Redemption.redeemed_at,
        Store.id.label("store_id"),
        Store.name,
    )
    .join(Campaign, Campaign.id == Voucher.campaign_id)
    .outerjoin(Redemption, and_(Redemption.voucher_id == Voucher.id, Redemption.reversed_at.is_(None)))
    .outerjoin(Store, Store.id == Redemption.store_id)
    .where(Voucher.code == bindparam("code"))
)


def _refuse(
    session: Session,
    code: str,
    is_token: bool,
    purchase_fen: int | None,
    store: Store | StoreRef,
    now: datetime,
    tz: str,
):
    """The redeeming UPDATE matched nothing: raise the reason, checked in the order a clerk needs to
    hear it — the voucher's state (already redeemed, expired) before its presentation and the amount."""
    found = session.execute(_DIAGNOSIS, {"code": code}).first()
    if found is None:
        raise DomainError("VOUCHER_NOT_FOUND", voucher=code)
    status, expires_at, min_spend, rotating, redemption_id, redeemed_at, where_id, where_name = found
    if status == "redeemed" and redemption_id is not None:
        same = where_id == store.id
        details = dict(
            redeemed_at=local_time(redeemed_at, tz),
            redeemed_at_utc=redeemed_at.isoformat(timespec="seconds"),
            same_store=same,
        )
        if same:
            details.update(store=where_name, store_id=where_id, redemption_id=redemption_id)
        else:
            details["store"] = ANOTHER_STORE
        raise DomainError("VOUCHER_ALREADY_REDEEMED", **details)
    if status != "redeemed" and expires_at <= now:
        raise DomainError(
            "VOUCHER_EXPIRED",
            expires_at=local_time(expires_at, tz),
            expires_at_utc=expires_at.isoformat(timespec="seconds"),
        )
    if rotating and not is_token:  # a typed or forwarded code of a rotating-token voucher
        raise DomainError(
            "VOUCHER_TOKEN_EXPIRED", voucher=code, reason="scan the live QR on the voucher page"
        )
    if min_spend and (purchase_fen is None or purchase_fen < min_spend):
        raise DomainError(
            "MIN_SPEND_NOT_MET", min_spend=yuan(min_spend), min_spend_fen=min_spend, purchase_fen=purchase_fen
        )
    # redeemed by a transaction not yet visible, or reversed meanwhile: the till may simply retry
    raise DomainError("REQUEST_IN_PROGRESS")


def reverse(
    session: Session, *, redemption_id: int, actor: Actor, now: datetime, grace_minutes: int, tz: str
) -> Redemption:
    """Undo a redemption within the grace window:
    voucher back to issued, ledger reversed (clawback if settled)."""
    redemption = session.get(Redemption, redemption_id) if is_id(redemption_id) else None
    if redemption is None:
        raise DomainError("NOT_FOUND", what="redemption", id=redemption_id)
    if actor.role != "admin" and not (
        actor.store_id is not None
        and actor.store_id == redemption.store_id
        and actor.role in ("clerk", "owner")
    ):
        raise DomainError("FORBIDDEN")
    if now > redemption.redeemed_at + timedelta(minutes=grace_minutes):
        raise DomainError("REVERSAL_WINDOW_CLOSED", minutes=grace_minutes)
    done = session.execute(
        update(Redemption)
        .where(Redemption.id == redemption.id, Redemption.reversed_at.is_(None))
        .values(reversed_at=now, reversed_by=actor.user_id)
        .returning(Redemption.id)
    ).scalar()
    if done is None:
        session.refresh(redemption)
        raise DomainError("REDEMPTION_ALREADY_REVERSED", reversed_at=local_time(redemption.reversed_at, tz))
    session.execute(
        update(Voucher)
        .where(Voucher.id == redemption.voucher_id, Voucher.status == "redeemed")
        .values(status="issued")
    )
    txn = session.execute(
        select(LedgerTransaction.id).where(LedgerTransaction.key == rewards.redemption_key(redemption.id))
    ).scalar_one()
    already = session.execute(
        select(LedgerTransaction.id).where(LedgerTransaction.reverses_id == txn)
    ).scalar()
    if already is None:  # a fraud void may have reversed the money already
        ledger.reverse(
            session,
            transaction_id=txn,
            key=reversal_key(redemption.id),
            now=now,
            event="redemption_reversal",
            details={"redemption_id": redemption.id},
        )
    session.add(
        AuditLog(
            at=now,
            actor_id=actor.user_id,
            action="redemption.reverse",
            object_type="redemption",
            object_id=redemption.id,
            details={"voucher_id": redemption.voucher_id},
        )
    )
    session.flush()
    session.refresh(redemption)
    return redemption


def reversal_key(redemption_id: int) -> str:
    return f"reversal:redemption:{redemption_id}"
