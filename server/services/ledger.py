"""The money ledger: balanced, idempotent, append-only postings in integer fen or points.

Sign convention: a positive entry increases what the brand owes the account holder (a store,
a clerk, a consumer's points); the campaign's account carries the matching negative side.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    and_,
    case,
    exists,
    func,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import Session

from server.db import insert_ignoring_conflicts
from server.errors import DomainError
from server.models import LedgerAccount, LedgerEntry, LedgerHold, LedgerTransaction, SettlementItem
from server.models.ledger import ACCOUNT_KINDS, UNITS
from server.services import ledger_sql


@dataclass(frozen=True)
class Account:
    """Names a balance: (kind, ref_id, unit)."""

    kind: str
    ref_id: int
    unit: str = "fen"


@dataclass(frozen=True)
class Posting:
    account: Account
    amount: int


@dataclass(frozen=True)
class Posted:
    transaction_id: int
    created: bool  # False when the key had been posted before: nothing new was written


@dataclass(frozen=True)
class Balance:
    held: int = 0
    available: int = 0
    settled: int = 0

    @property
    def total(self) -> int:
        return self.held + self.available + self.settled


class UnbalancedTransaction(ValueError):
    """Postings that do not sum to zero per unit, or are otherwise malformed: a programming error."""


def account_id(session: Session, account: Account) -> int:
    """The id of `account`, creating it if absent (safe under concurrency)."""
    if account.kind not in ACCOUNT_KINDS or account.unit not in UNITS:
        raise UnbalancedTransaction(f"unknown account {account}")
    key = dict(kind=account.kind, ref_id=account.ref_id, unit=account.unit)
    stmt = insert_ignoring_conflicts(session, LedgerAccount, index_elements=["kind", "ref_id", "unit"])
    session.execute(stmt.values(**key))
    return session.execute(select(LedgerAccount.id).filter_by(**key)).scalar_one()


def post(
    session: Session,
    *,
    key: str,
    event: str,
    postings: Sequence[Posting],
    now: datetime,
    available_at: datetime | None = None,
    details: dict | None = None,
    reverses_id: int | None = None,
) -> Posted:
    """Record one business event; a repeated key returns the first posting and writes nothing."""
    _validate(postings)
    txn_id = open_transaction(
        session, key=key, event=event, details=details, now=now, reverses_id=reverses_id
    )
    if txn_id is None:  # posted before (perhaps by a concurrent request that committed first)
        return Posted(_same_or_raise(session, key, postings), created=False)
    write_entries(session, txn_id, postings, available_at=available_at or now, now=now)
    return Posted(txn_id, created=True)


def open_transaction(
    session: Session,
    *,
    key: str,
    event: str,
    now: datetime,
    details: dict | None = None,
    reverses_id: int | None = None,
) -> int | None:
    """A new transaction's id, or None when its key was posted before.
    Its entries must follow (write_entries)."""
    return session.execute(
        ledger_sql.INSERT_TRANSACTION,
        dict(key=key, event=event, details=details or {}, created_at=now, reverses_id=reverses_id),
    ).scalar()


def write_entries(
    session: Session,
    transaction_id: int,
    postings: Sequence[Posting],
    *,
    available_at: datetime,
    now: datetime,
) -> None:
    """The balanced entries of a just-opened transaction: one INSERT … SELECT when the accounts exist."""
    _validate(postings)
    when = dict(txn=transaction_id, available_at=available_at, created_at=now)
    written = session.execute(
        ledger_sql.insert_entries(len(postings)), {**when, **_entry_params(postings)}
    ).rowcount
    if written < len(postings):  # an account's first posting: the join found no row for it
        ids = account_ids(session, [p.account for p in postings])
        have = set(
            session.execute(
                select(LedgerEntry.account_id).where(LedgerEntry.transaction_id == transaction_id)
            ).scalars()
        )
        session.execute(
            insert(LedgerEntry.__table__),
            [
                dict(
                    transaction_id=transaction_id,
                    account_id=ids[p.account],
                    amount=p.amount,
                    unit=p.account.unit,
                    available_at=available_at,
                    created_at=now,
                )
                for p in postings
                if ids[p.account] not in have
            ],
        )


def _entry_params(postings: Sequence[Posting]) -> dict:
    params = {}
    for i, p in enumerate(postings):
        params.update(
            {f"k{i}": p.account.kind, f"r{i}": p.account.ref_id, f"u{i}": p.account.unit, f"a{i}": p.amount}
        )
    return params


def account_ids(session: Session, accounts: Sequence[Account]) -> dict[Account, int]:
    """Ids of `accounts`: one SELECT when they all exist (the usual case), creating any that do not."""
    wanted = set(accounts)
    table = LedgerAccount.__table__
    key = tuple_(table.c.kind, table.c.ref_id, table.c.unit)
    rows = session.execute(
        select(table.c.id, table.c.kind, table.c.ref_id, table.c.unit).where(
            key.in_([(a.kind, a.ref_id, a.unit) for a in wanted])
        )
    ).all()
    found = {Account(kind, ref_id, unit): id_ for id_, kind, ref_id, unit in rows}
    for missing in wanted - found.keys():
        found[missing] = account_id(session, missing)
    return found


def reverse(
    session: Session,
    *,
    transaction_id: int,
    key: str,
    now: datetime,
    event: str = "reversal",
    details: dict | None = None,
) -> Posted:
    """Cancel a transaction with opposite entries (never by editing it); idempotent by key."""
    original = session.get(LedgerTransaction, transaction_id)
    if original is None or original.reverses_id is not None:
        raise UnbalancedTransaction(f"transaction {transaction_id} cannot be reversed")
    rows = session.execute(
        select(LedgerEntry, LedgerAccount)
        .join(LedgerAccount)
        .where(LedgerEntry.transaction_id == transaction_id)
        .order_by(LedgerEntry.id)
    ).all()
    # a still-held credit is cancelled on the same schedule; a payable one is clawed back from now on
    available_at = max([now] + [entry.available_at for entry, _ in rows])
    postings = [Posting(Account(acct.kind, acct.ref_id, acct.unit), -entry.amount) for entry, acct in rows]
    existing = session.execute(
        select(LedgerTransaction.id).where(LedgerTransaction.reverses_id == transaction_id)
    ).scalar()
    if existing is not None and existing != _id_for_key(session, key):
        raise DomainError("LEDGER_KEY_REUSED", key=key, transaction_id=transaction_id)
    return post(
        session,
        key=key,
        event=event,
        postings=postings,
        now=now,
        available_at=available_at,
        details={**(details or {}), "reverses": original.key},
        reverses_id=transaction_id,
    )


def entries(session: Session, transaction_id: int) -> list[tuple[Account, int]]:
    """The (account, amount) pairs of one transaction, in posting order."""
    rows = session.execute(
        select(LedgerAccount, LedgerEntry.amount)
        .join(LedgerEntry)
        .where(LedgerEntry.transaction_id == transaction_id)
        .order_by(LedgerEntry.id)
    ).all()
    return [(Account(a.kind, a.ref_id, a.unit), amount) for a, amount in rows]


def balance(session: Session, account: Account, now: datetime) -> Balance:
    """Held, available (payable now) and settled sums of one account's entries."""
    acct = session.execute(
        select(LedgerAccount.id).filter_by(kind=account.kind, ref_id=account.ref_id, unit=account.unit)
    ).scalar()
    if acct is None:
        return Balance()
    rows = (
        select(_status_column(now).label("status"), LedgerEntry.amount)
        .where(LedgerEntry.account_id == acct)
        .subquery()
    )
    sums = dict(session.execute(select(rows.c.status, func.sum(rows.c.amount)).group_by(rows.c.status)).all())
    return Balance(
        held=sums.get("held", 0), available=sums.get("available", 0), settled=sums.get("settled", 0)
    )


def _status_column(now: datetime):
    settled = exists().where(SettlementItem.entry_id == LedgerEntry.id)
    held = exists().where(and_(LedgerHold.entry_id == LedgerEntry.id, LedgerHold.released_at.is_(None)))
    return case(
        (settled, "settled"), (LedgerEntry.available_at > now, "held"), (held, "held"), else_="available"
    )


def hold(session: Session, *, entry_ids: Iterable[int], alert_id: int, now: datetime) -> int:
    """Keep entries held while `alert_id` is open; returns how many holds are new."""
    stmt = insert_ignoring_conflicts(session, LedgerHold, index_elements=["entry_id", "alert_id"])
    new = 0
    for entry_id in entry_ids:
        inserted = session.execute(
            stmt.values(entry_id=entry_id, alert_id=alert_id, created_at=now).returning(LedgerHold.id)
        )
        new += inserted.scalar() is not None
    return new


def release(session: Session, *, alert_id: int, now: datetime, outcome: str = "released") -> int:
    """Close an alert's open holds; the entries become payable again (or are reversed elsewhere)."""
    result = session.execute(
        update(LedgerHold)
        .where(LedgerHold.alert_id == alert_id, LedgerHold.released_at.is_(None))
        .values(released_at=now, outcome=outcome)
    )
    return result.rowcount


def _validate(postings: Sequence[Posting]) -> None:
    if len(postings) < 2:
        raise UnbalancedTransaction("a transaction needs at least two postings")
    totals: dict[str, int] = defaultdict(int)
    seen = set()
    for p in postings:
        if type(p.amount) is not int or p.amount == 0:
            raise UnbalancedTransaction(f"amount must be a non-zero integer, got {p.amount!r}")
        if p.account in seen:
            raise UnbalancedTransaction(f"account {p.account} appears twice")
        seen.add(p.account)
        totals[p.account.unit] += p.amount
    unbalanced = {unit: total for unit, total in totals.items() if total}
    if unbalanced:
        raise UnbalancedTransaction(f"postings do not sum to zero: {unbalanced}")


def _id_for_key(session: Session, key: str) -> int | None:
    return session.execute(select(LedgerTransaction.id).where(LedgerTransaction.key == key)).scalar()


def _same_or_raise(session: Session, key: str, postings: Sequence[Posting]) -> int:
    txn_id = _id_for_key(session, key)
    stored = sorted((a.kind, a.ref_id, a.unit, amount) for a, amount in entries(session, txn_id))
    asked = sorted((p.account.kind, p.account.ref_id, p.account.unit, p.amount) for p in postings)
    if stored != asked:
        raise DomainError("LEDGER_KEY_REUSED", key=key, transaction_id=txn_id)
    return txn_id
