"""Closing a period into statements, and marking them paid.

run(): for each store and clerk fen account, one Settlement per period_end holding every entry that is
payable by then — available_at ≤ period_end, no open fraud hold, not settled before. Safe to run twice
or concurrently: UNIQUE(account_id, period_end) makes the statement once, UNIQUE(entry_id) on the items
lets an entry land in one statement only (INSERT … SELECT … ON CONFLICT DO NOTHING), and the total is
the sum of the items this statement actually got. A reversal that lands after its original was settled
is simply a new unsettled (negative) entry: the clawback is carried into the next statement.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, func, literal, select, update
from sqlalchemy.orm import Session

from server.db import insert_ignoring_conflicts, is_postgres
from server.errors import DomainError, validation
from server.formats import is_id
from server.models import (
    AuditLog,
    LedgerAccount,
    LedgerEntry,
    LedgerHold,
    Settlement,
    SettlementItem,
    Store,
    User,
)
from server.services.spreadsheets import safe_cell

PAYABLE_KINDS = ("store", "clerk")


@dataclass(frozen=True)
class Statement:
    settlement: Settlement
    account: LedgerAccount
    name: str
    items: int


def payable_entries(account_id: int, period_end: datetime):
    """Entries of `account_id` payable by `period_end`: not held by an open hold, not yet settled."""
    return select(LedgerEntry.id).where(
        LedgerEntry.account_id == account_id,
        LedgerEntry.available_at <= period_end,
        ~exists().where(and_(LedgerHold.entry_id == LedgerEntry.id, LedgerHold.released_at.is_(None))),
        ~exists().where(SettlementItem.entry_id == LedgerEntry.id),
    )


def run(session: Session, *, period_end: datetime, now: datetime, actor_id: int | None = None) -> list[int]:
    """Close the period ending `period_end`; returns the ids of the statements this run created."""
    if period_end.tzinfo is None:
        raise validation("period_end needs a time zone", "结算截止时间须带时区", field="period_end")
    if period_end > now:
        raise validation("period_end cannot be in the future", "结算截止时间不能晚于现在", field="period_end")
    accounts = session.execute(
        select(LedgerAccount.id, LedgerAccount.unit)
        .where(LedgerAccount.kind.in_(PAYABLE_KINDS), LedgerAccount.unit == "fen")
        .order_by(LedgerAccount.id)
    ).all()
    created = []
    for account_id, unit in accounts:
        if not session.execute(
            select(literal(1)).where(exists(payable_entries(account_id, period_end)))
        ).scalar():
            continue
        stmt = insert_ignoring_conflicts(session, Settlement, index_elements=["account_id", "period_end"])
        settlement_id = session.execute(
            stmt.values(
                account_id=account_id,
                period_end=period_end,
                total=0,
                unit=unit,
                status="open",
                created_at=now,
            ).returning(Settlement.id)
        ).scalar()
        if settlement_id is None:  # this period was closed for this account already
            continue
        items = insert_ignoring_conflicts(session, SettlementItem, index_elements=["entry_id"])
        chosen = payable_entries(account_id, period_end).add_columns(literal(settlement_id))
        if is_postgres(session):
            chosen = chosen.order_by(LedgerEntry.id)
        session.execute(items.from_select(["entry_id", "settlement_id"], chosen))
        total, count = session.execute(
            select(func.coalesce(func.sum(LedgerEntry.amount), 0), func.count())
            .join(SettlementItem, SettlementItem.entry_id == LedgerEntry.id)
            .where(SettlementItem.settlement_id == settlement_id)
        ).one()
        if count == 0:  # a concurrent run took every entry first
            session.execute(delete(Settlement).where(Settlement.id == settlement_id))
            continue
        session.execute(update(Settlement).where(Settlement.id == settlement_id).values(total=int(total)))
        created.append(settlement_id)
    if created:
        session.add(
            AuditLog(
                at=now,
                actor_id=actor_id,
                action="settlement.run",
                object_type="settlement",
                object_id=None,
                details={"period_end": period_end.isoformat(), "created": created},
            )
        )
        session.flush()
    return created


@dataclass(frozen=True)
class Waiting:
    """Money not payable yet because it is still inside the holding period."""

    entries: int
    total: int
    first_payable_at: datetime | None


def waiting(session: Session, *, now: datetime) -> Waiting:
    """Unsettled store and clerk entries still inside the holding period at `now`."""
    count, total, first = session.execute(
        select(
            func.count(), func.coalesce(func.sum(LedgerEntry.amount), 0), func.min(LedgerEntry.available_at)
        )
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(
            LedgerAccount.kind.in_(PAYABLE_KINDS),
            LedgerAccount.unit == "fen",
            LedgerEntry.available_at > now,
            ~exists().where(SettlementItem.entry_id == LedgerEntry.id),
        )
    ).one()
    return Waiting(count, int(total), first)


def mark_paid(
    session: Session, *, settlement_id: int, reference: str, actor_id: int, now: datetime
) -> Settlement:
    """Record payment once: the conditional update means no statement is ever paid twice."""
    reference = (reference or "").strip()
    if not reference or len(reference) > 120 or not reference.isprintable():
        raise validation(
            "a payment reference of 1-120 characters is required",
            "请填写 1-120 字的付款凭证号",
            field="reference",
        )
    if not is_id(settlement_id):
        raise DomainError("NOT_FOUND", what="settlement", id=settlement_id)
    paid = session.execute(
        update(Settlement)
        .where(Settlement.id == settlement_id, Settlement.status == "open")
        .values(status="paid", paid_at=now, paid_reference=reference)
        .returning(Settlement.id)
    ).scalar()
    settlement = session.get(Settlement, settlement_id)
    if settlement is None:
        raise DomainError("NOT_FOUND", what="settlement", id=settlement_id)
    session.refresh(settlement)
    if paid is None:
        raise DomainError(
            "SETTLEMENT_ALREADY_PAID",
            paid_at=settlement.paid_at.isoformat(timespec="minutes"),
            reference=settlement.paid_reference,
        )
    session.add(
        AuditLog(
            at=now,
            actor_id=actor_id,
            action="settlement.paid",
            object_type="settlement",
            object_id=settlement_id,
            details={"reference": reference, "total": settlement.total},
        )
    )
    session.flush()
    return settlement


def visible_accounts(session: Session, *, role: str, user_id: int):
    """The ledger accounts a principal may read statements of (invariant 7): None means all."""
    if role == "admin":
        return None
    if role == "owner":
        stores = select(Store.id).where(Store.owner_id == user_id)
        return select(LedgerAccount.id).where(LedgerAccount.kind == "store", LedgerAccount.ref_id.in_(stores))
    return select(LedgerAccount.id).where(LedgerAccount.kind == "clerk", LedgerAccount.ref_id == user_id)


def statements(session: Session, *, role: str, user_id: int, limit: int = 500) -> list[Statement]:
    """Statements the principal may see, newest first, with the payee's name."""
    q = (
        select(Settlement, LedgerAccount, Store.name, User.display_name, func.count(SettlementItem.id))
        .join(LedgerAccount, LedgerAccount.id == Settlement.account_id)
        .outerjoin(Store, and_(LedgerAccount.kind == "store", Store.id == LedgerAccount.ref_id))
        .outerjoin(User, and_(LedgerAccount.kind == "clerk", User.id == LedgerAccount.ref_id))
        .outerjoin(SettlementItem, SettlementItem.settlement_id == Settlement.id)
        .group_by(Settlement.id, LedgerAccount.id, Store.name, User.display_name)
        .order_by(Settlement.period_end.desc(), Settlement.id)
        .limit(limit)
    )
    accounts = visible_accounts(session, role=role, user_id=user_id)
    if accounts is not None:
        q = q.where(Settlement.account_id.in_(accounts))
    return [
        Statement(s, a, store_name or clerk_name or f"{a.kind} {a.ref_id}", n)
        for s, a, store_name, clerk_name, n in session.execute(q).all()
    ]


# ---- exports for finance -------------------------------------------------------------------------

HEADER = [
    "statement",
    "payee_kind",
    "payee_id",
    "payee",
    "period_end",
    "total_yuan",
    "total_fen",
    "entries",
    "status",
    "paid_reference",
]


def export_rows(items: list[Statement], tz) -> list[list]:
    return [
        [
            st.settlement.id,
            st.account.kind,
            st.account.ref_id,
            st.name,
            st.settlement.period_end.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
            f"{st.settlement.total / 100:.2f}",
            st.settlement.total,
            st.items,
            st.settlement.status,
            st.settlement.paid_reference or "",
        ]
        for st in items
    ]


def to_csv(rows: list[list], header: list[str] = HEADER) -> bytes:
    """UTF-8 with a BOM (so Excel opens Chinese correctly), formula-injection-safe cells."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([[safe_cell(v) for v in row] for row in rows])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def to_xlsx(rows: list[list], header: list[str] = HEADER) -> bytes:
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(
        out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    sheet = book.add_worksheet("statements")
    bold = book.add_format({"bold": True})
    sheet.write_row(0, 0, header, bold)
    for i, row in enumerate(rows, start=1):
        for j, value in enumerate(row):
            if isinstance(value, str):
                sheet.write_string(i, j, value)
            else:
                sheet.write(i, j, value)
    book.close()
    return out.getvalue()


def overdue(session: Session, before: datetime) -> list[tuple]:
    """[()] when an entry payable more than a day before `before` (so before the last period end the daily
    job closes) is still unsettled and not held: the daily settlement did not run."""
    late = session.execute(
        select(LedgerEntry.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(
            LedgerAccount.kind.in_(PAYABLE_KINDS),
            LedgerAccount.unit == "fen",
            LedgerEntry.available_at < before - timedelta(days=1),
            ~exists().where(and_(LedgerHold.entry_id == LedgerEntry.id, LedgerHold.released_at.is_(None))),
            ~exists().where(SettlementItem.entry_id == LedgerEntry.id),
        )
        .limit(1)
    ).first()
    return [()] if late else []
