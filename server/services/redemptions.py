"""Redeeming vouchers at the till, and reversing a redemption within the grace window.

One business event, one transaction: the voucher's conditional state change
(UPDATE … WHERE status='issued' AND expires_at > now RETURNING), the Redemption row and the ledger
postings (rewards.redemption_postings: the clerk reward goes to the voucher's attributed clerk, not to
whoever operates the till) commit together or not at all. The database decides the race:
whatever the concurrency, exactly one UPDATE matches and everyone else is told who won and when.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Boolean, and_, bindparam, column, select, text, update
from sqlalchemy.orm import Session

from server.db import is_postgres
from server.errors import DomainError, Localised, validation
from server.models import (
    AuditLog,
    Campaign,
    LedgerTransaction,
    Redemption,
    Store,
    Voucher,
)
from server.models.base import UTCDateTime
from server.services import ledger, rewards, voucher_tokens

MAX_INPUT = 400
MAX_PURCHASE_FEN = 10**10
_STRIP = re.compile(r"[\s\-\u2010-\u2015\u2212\u30fc\u200b\ufeff_]+")
_LOOKALIKES = str.maketrans(
    "OIL", "011"
)  # voucher codes are Crockford base32: a typed O is a 0, I and L are 1


class StoreRef(NamedTuple):
    """What redeeming needs of a store; a caller that has read its bound store's row already passes it in."""

    id: int
    name: str
    active: bool
    owner_id: int | None


@dataclass(frozen=True)
class Actor:
    """Who redeems: the principal's user and role, its bound store (clerk or POS token), its token."""

    user_id: int
    role: str
    store_id: int | None = None
    token_id: int | None = None
    store: StoreRef | None = (
        None  # the bound store's row, when the caller has it (a POS token's lookup reads it)
    )


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


def normalise(raw: str) -> tuple[str, bool]:
    """(voucher code or token, is_token): NFKC (full-width → ASCII), a scanned URL's last segment,
    spaces and dashes stripped, codes uppercased with O→0 and I/L→1. Tokens keep their case (signed)."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_INPUT:
        raise validation("enter or scan a voucher code", "请输入或扫描券码", field="voucher")
    text = unicodedata.normalize("NFKC", raw).strip()
    if "/" in text:  # a scanned voucher URL: …/v/<code>
        text = text.rstrip("/").rsplit("/", 1)[-1]
    text = _STRIP.sub("", text)
    if "." in text:
        return text, True
    text = text.upper().translate(_LOOKALIKES)
    if not text or not text.isascii() or not text.isalnum() or len(text) > 24:
        raise DomainError("VOUCHER_NOT_FOUND", voucher=text[:40])
    return text, False


def _token_to_code(secret: bytes, token: str, now: datetime) -> str:
    return normalise(voucher_tokens.verify_token(secret, token, now))[0]


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


def is_id(value) -> bool:
    """A plausible row id: a positive integer that fits a BIGINT (larger ones would make PostgreSQL raise)."""
    return type(value) is int and 0 < value < 2**63


def local_time(moment: datetime, tz: str) -> str:
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def yuan(fen: int) -> str:
    """Integer fen as yuan text, exactly: -650 → '-6.50'."""
    fen = int(fen)  # PostgreSQL's sum() of BIGINT arrives as a Decimal
    sign, fen = ("-" if fen < 0 else ""), abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


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
    code, is_token = normalise(voucher_input)
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
    taken = _take(session, code=code, is_token=is_token, **row)
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


def _take(
    session: Session, *, code: str, is_token: bool, **row
) -> tuple[rewards.RedemptionTerms, int, int] | None:
    """The voucher's conditional state change, its redemption row and its ledger transaction (opened, still
    without entries): (voucher terms, redemption id, transaction id), or None when nothing changed.
    PostgreSQL does the three in one statement; SQLite, which has no data-modifying CTEs, in three."""
    params = dict(code=code, now=row["redeemed_at"], is_token=is_token, **row)
    if is_postgres(session):
        found = session.execute(_TAKE, params).first()
        return (rewards.RedemptionTerms(*found[:-2]), found[-2], found[-1]) if found is not None else None
    voucher = session.execute(_REDEEM, params).first()
    if voucher is None:
        return None
    redemption_id = session.execute(_INSERT_REDEMPTION, {**params, "voucher_id": voucher.id}).scalar_one()
    transaction_id = ledger.open_transaction(
        session,
        key=rewards.redemption_key(redemption_id),
        event="redemption",
        now=params["now"],
        details={"redemption_id": redemption_id, "voucher_id": voucher.id, "store_id": row["store_id"]},
    )
    return rewards.RedemptionTerms(*voucher), redemption_id, transaction_id


# The whole decision in one statement: the voucher changes state only if it is issued, unexpired, presented
# as its campaign requires (a rotating-token campaign takes no typed code) and the purchase meets its minimum.
# It returns the campaign terms the ledger postings need too (as subqueries: SQLite's RETURNING cannot name
# an UPDATE … FROM table). Prebuilt text statements: this is the hot path.
_CAMPAIGN = "(SELECT {} FROM campaigns WHERE campaigns.id = vouchers.campaign_id)"
_REDEEM_SQL = (
    "UPDATE vouchers SET status = 'redeemed' "
    "WHERE code = :code AND status = 'issued' AND expires_at > :now "
    "AND (min_spend_fen = 0 OR min_spend_fen <= :purchase_fen) "
    f"AND (:is_token OR NOT {_CAMPAIGN.format('rotating_token')}) "
    "RETURNING id, code, kind, value_fen, referral_id, campaign_id, clerk_id AS attributed_clerk_id, "
    + ", ".join(
        f"{_CAMPAIGN.format(term)} AS {term}"
        for term in ("store_fee_fen", "clerk_redeem_reward_fen", "referral_bonus_points")
    )
)
_TYPES = (bindparam("now", type_=UTCDateTime()), bindparam("is_token", type_=Boolean()))
# Naming the result columns lets SQLAlchemy keep the result's metadata with the cached statement instead of
# building it from the cursor on every call.
_TERMS = [column(name) for name in rewards.RedemptionTerms._fields]
_REDEEM = text(_REDEEM_SQL).bindparams(*_TYPES).columns(*_TERMS)
# The journey's last step is written with the row, inside the same statement: seconds since the claim, and
# the store's place (its canonical province and city, copied so a store that moves later keeps history).
_PLACE = "(SELECT {} FROM stores WHERE stores.id = :store_id)"
_INSERT_REDEMPTION = text(
    "INSERT INTO redemptions (voucher_id, store_id, clerk_id, api_token_id, purchase_fen, receipt_ref, "
    "redeemed_at, claim_to_redeem_s, province, city) "
    "VALUES (:voucher_id, :store_id, :clerk_id, :api_token_id, :purchase_fen, :receipt_ref, :now, "
    "(SELECT CAST(ROUND((julianday(:now) - julianday(issued_at)) * 86400) AS INTEGER) FROM vouchers "
    f"WHERE id = :voucher_id), {_PLACE.format('province')}, {_PLACE.format('city')}) RETURNING id"
).bindparams(*_TYPES[:1])
# PostgreSQL: the same three writes as one statement; the ledger key and details are rewards.redemption_key's
# and the SQLite branch's, spelled in SQL.
_TAKE = (
    text(
        f"WITH v AS ({_REDEEM_SQL}), "
        "r AS (INSERT INTO redemptions (voucher_id, store_id, clerk_id, api_token_id, purchase_fen, "
        "receipt_ref, redeemed_at, claim_to_redeem_s, province, city) "
        "SELECT v.id, CAST(:store_id AS BIGINT), CAST(:clerk_id AS BIGINT), CAST(:api_token_id AS BIGINT), "
        "CAST(:purchase_fen AS BIGINT), CAST(:receipt_ref AS VARCHAR), :now, "
        "CAST(ROUND(EXTRACT(EPOCH FROM :now - o.issued_at)) AS INTEGER), s.province, s.city FROM v "
        "JOIN vouchers o ON o.id = v.id LEFT JOIN stores s ON s.id = CAST(:store_id AS BIGINT) "
        "RETURNING id), "
        "t AS (INSERT INTO ledger_transactions (key, event, details, created_at) "
        "SELECT 'redemption:' || r.id, 'redemption', "
        "json_build_object('redemption_id', r.id, 'voucher_id', v.id, "
        "'store_id', CAST(:store_id AS BIGINT)), :now FROM r, v RETURNING id) "
        "SELECT v.*, r.id AS redemption_id, t.id AS transaction_id FROM v, r, t"
    )
    .bindparams(*_TYPES)
    .columns(*_TERMS, column("redemption_id"), column("transaction_id"))
)


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
            details["store"] = Localised(zh_CN="其他门店", en="another store")
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
