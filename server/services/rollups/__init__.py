"""Keeping the rollups (server/models/rollups.py) equal to a recomputation from the raw rows.

- `mark_new_events` turns rows the refresh has not seen (by id, per source table) into pending local days:
  new scans (only up to the first scan still waiting for enrichment, so a day is recomputed once its scans
  are placed), vouchers, share links, redemptions, and ledger reversals (a till reversal or a fraud void
  changes the day of the claim or redemption it reverses). Alert rules and decisions mark days directly.
- `recompute_day` replaces one local day's rows in both tables with `facts.compute_day` (delete, then insert,
  in the caller's transaction): running it twice leaves the same rows, and rows whose facts vanished go.
- `refresh` (the job) and `rebuild` (the CLI) drive them; one refresh runs at a time (an advisory lock on
  PostgreSQL; SQLite has one writer anyway).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session, aliased

from server.db import insert_ignoring_conflicts, is_postgres
from server.models import (
    LedgerTransaction,
    Redemption,
    Referral,
    RollupDay,
    RollupHour,
    RollupPending,
    Scan,
    Voucher,
)
from server.models.rollups import DAY_DIMENSIONS, HOUR_DIMENSIONS
from server.services.cursors import read_cursor, set_cursor, settled_top
from server.services.rollups.facts import compute_day, day_bounds, local_day
from server.services.rollups.slices import derive_day

CHUNK = 20_000  # source ids turned into pending days per table and refresh
DAYS_PER_REFRESH = 31
LOCK_ID = 0x0C0DE100  # pg_advisory_xact_lock key of the refresh

SOURCES = {
    "rollups:vouchers": (Voucher, Voucher.issued_at),
    "rollups:referrals": (Referral, Referral.created_at),
    "rollups:redemptions": (Redemption, Redemption.redeemed_at),
}

__all__ = [
    "day_bounds",
    "local_day",
    "mark_days",
    "mark_times",
    "read_cursor",
    "recompute_day",
    "refresh",
    "rebuild",
    "set_cursor",
]


def mark_days(session: Session, days: Iterable[date], now: datetime) -> int:
    """Owe these local days a recomputation (marking a day again moves its marked_at)."""
    days = sorted(set(days))
    for day in days:
        moved = session.execute(
            update(RollupPending).where(RollupPending.day == day).values(marked_at=now)
        ).rowcount
        if not moved:
            session.execute(
                insert_ignoring_conflicts(session, RollupPending, index_elements=["day"]).values(
                    day=day, marked_at=now
                )
            )
    return len(days)


def mark_times(session: Session, times: Iterable[datetime], tz: ZoneInfo, now: datetime) -> int:
    """Owe the local days of these instants a recomputation."""
    return mark_days(session, {local_day(t, tz) for t in times if t is not None}, now)


def mark_span(session: Session, first: datetime | None, last: datetime | None, tz, now) -> int:
    """Owe every local day from `first` to `last` a recomputation."""
    if first is None or last is None:
        return 0
    day, end = local_day(first, tz), local_day(last, tz)
    return mark_days(session, [day + timedelta(days=i) for i in range((end - day).days + 1)], now)


def mark_new_events(session: Session, tz: ZoneInfo, now: datetime) -> int:
    """Turn source rows past each cursor into pending days; returns the days marked."""
    marked = 0
    last = read_cursor(session, "rollups:scans")
    pending = session.execute(select(func.min(Scan.id)).where(Scan.geo_status == "pending")).scalar()
    top = min(
        last + CHUNK,
        (pending - 1) if pending else 2**62,
        settled_top(session, Scan, Scan.scanned_at, last, now),
    )
    span = session.execute(
        select(func.min(Scan.scanned_at), func.max(Scan.scanned_at), func.max(Scan.id)).where(
            Scan.id > last, Scan.id <= top
        )
    ).one()
    if span[2] is not None:
        marked += mark_span(session, span[0], span[1], tz, now)
        marked += _mark_placed_by(session, last, span[2], tz, now)
        marked += _mark_displaced_firsts(session, last, span[2], tz, now)
        set_cursor(session, "rollups:scans", span[2], now)
    for name, (model, at) in SOURCES.items():
        last = read_cursor(session, name)
        first, latest, top_id = session.execute(
            select(func.min(at), func.max(at), func.max(model.id)).where(
                model.id > last, model.id <= min(last + CHUNK, settled_top(session, model, at, last, now))
            )
        ).one()
        if top_id is not None:
            marked += mark_span(session, first, latest, tz, now)
            set_cursor(session, name, top_id, now)
    return marked + _mark_reversals(session, tz, now)


def _mark_placed_by(session: Session, first_id: int, last_id: int, tz: ZoneInfo, now: datetime) -> int:
    """Claims, friend vouchers and shares take the place of their pack's first scan: owe their days a
    recomputation when scans of their codes (ids in (first_id, last_id]) are newly placed."""
    codes = select(Scan.code_id).where(Scan.id > first_id, Scan.id <= last_id, Scan.code_id.is_not(None))
    packs = select(Voucher.id).where(Voucher.code_id.in_(codes))
    shares = select(Referral.id).where(Referral.voucher_id.in_(packs))
    times = list(session.execute(select(Voucher.issued_at).where(Voucher.code_id.in_(codes))).scalars())
    times += session.execute(select(Referral.created_at).where(Referral.id.in_(shares))).scalars()
    times += session.execute(select(Voucher.issued_at).where(Voucher.referral_id.in_(shares))).scalars()
    return mark_times(session, times, tz, now)


def _mark_displaced_firsts(session: Session, first_id: int, last_id: int, tz: ZoneInfo, now: datetime) -> int:
    """A new scan (id in (first_id, last_id]) dated before its code's or its consumer's earlier first scan
    takes over as the first: owe the old first scan's day a recomputation (it loses a first scan or a new
    consumer)."""
    times = []
    for column in (Scan.code_id, Scan.consumer_id):
        new = aliased(Scan)
        earliest_new = (
            select(func.min(new.scanned_at))
            .where(new.id > first_id, new.id <= last_id, getattr(new, column.key) == column)
            .scalar_subquery()
        )
        touched = select(getattr(new, column.key)).where(new.id > first_id, new.id <= last_id)
        times += session.execute(
            select(func.min(Scan.scanned_at))
            .where(Scan.id <= first_id, column.in_(touched))
            .group_by(column)
            .having(func.min(Scan.scanned_at) > earliest_new)
        ).scalars()
    return mark_times(session, times, tz, now)


def _mark_reversals(session: Session, tz: ZoneInfo, now: datetime) -> int:
    """Days of the claims and redemptions whose ledger transactions were reversed since the last refresh."""
    last = read_cursor(session, "rollups:ledger")
    top = session.execute(select(func.max(LedgerTransaction.id))).scalar() or 0
    rev = aliased(LedgerTransaction)
    rows = session.execute(
        select(LedgerTransaction.id, LedgerTransaction.key)
        .join(rev, rev.reverses_id == LedgerTransaction.id)
        .where(rev.id > last, rev.id <= top)
    ).all()
    times = []
    for _, key in rows:
        kind, _, ref = key.partition(":")
        if kind == "redemption" and ref.isdigit():
            times.append(
                session.execute(select(Redemption.redeemed_at).where(Redemption.id == int(ref))).scalar()
            )
        elif kind == "claim" and ref.isdigit():
            times.append(session.execute(select(Voucher.issued_at).where(Voucher.id == int(ref))).scalar())
    if top > last:
        set_cursor(session, "rollups:ledger", top, now)
    return mark_times(session, times, tz, now)


def overdue(session: Session, before: datetime) -> list[tuple]:
    """[()] (run the refresh) when a day was marked, or a source row past its cursor was made, before `before`
    (for the sweeper, server/jobs.py)."""
    if session.execute(select(RollupPending.day).where(RollupPending.marked_at < before).limit(1)).first():
        return [()]
    sources = {"rollups:scans": (Scan, Scan.scanned_at), **SOURCES}
    for name, (model, at) in sources.items():
        query = select(model.id).where(model.id > read_cursor(session, name), at < before)
        if model is Scan:
            query = query.where(Scan.geo_status != "pending")
        if session.execute(query.limit(1)).first():
            return [()]
    return []


def recompute_day(session: Session, day: date, tz: ZoneInfo) -> int:
    """Replace local `day`'s rows in rollup_days and rollup_hours; returns the rows written."""
    if is_postgres(session):  # JIT compiles these wide aggregates for seconds and saves milliseconds
        session.execute(text("SET LOCAL jit = off"))
    days, hours = compute_day(session, day, tz)
    session.execute(delete(RollupDay).where(RollupDay.day == day))
    session.execute(delete(RollupHour).where(RollupHour.day == day))
    if days:
        session.execute(
            insert(RollupDay),
            [{"day": day, **dict(zip(DAY_DIMENSIONS, k, strict=True)), **m} for k, m in days.items()],
        )
    if hours:
        weekday = day.isoweekday()
        session.execute(
            insert(RollupHour),
            [
                {
                    "day": day,
                    "hour": k[0],
                    "weekday": weekday,
                    **dict(zip(HOUR_DIMENSIONS, k[1:], strict=True)),
                    **m,
                }
                for k, m in hours.items()
            ],
        )
    derive_day(session, day)  # the report slices of the day (server/models/slices.py)
    return len(days) + len(hours)


def _locked(session: Session) -> bool:
    """Take the refresh lock for this transaction (PostgreSQL); False when another refresh holds it."""
    if not is_postgres(session):
        return True
    return bool(session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": LOCK_ID}).scalar())


def refresh(session: Session, *, tz: ZoneInfo, now: datetime, max_days: int = DAYS_PER_REFRESH) -> list[date]:
    """Mark what is new, then recompute up to `max_days` pending days; returns the days recomputed."""
    if not _locked(session):
        return []
    mark_new_events(session, tz, now)
    pending = session.execute(
        select(RollupPending.day, RollupPending.marked_at).order_by(RollupPending.day).limit(max_days)
    ).all()
    for day, marked_at in pending:
        recompute_day(session, day, tz)
        # a mark made after we read it (a new event during the recompute) stays for the next refresh
        session.execute(
            delete(RollupPending).where(RollupPending.day == day, RollupPending.marked_at <= marked_at)
        )
    return [day for day, _ in pending]


def rebuild(session_factory, *, start: date, end: date, tz: ZoneInfo) -> int:
    """Recompute every local day from `start` to `end` inclusive, one transaction per day; returns rows."""
    rows, day = 0, start
    while day <= end:
        with session_factory() as session, session.begin():
            rows += recompute_day(session, day, tz)
        day += timedelta(days=1)
    return rows
