"""Shared plumbing of the alert rules: raising an alert once per subject, holding the money it concerns,
and the cursor each rule reads its events from.

A rule module (server/services/alerts/rules/<name>.py) has NAME and `run(session, ctx) -> list[int]` (the
alert ids it raised or added evidence to). It reads the events past its cursor, at most ctx.limit, and moves
the cursor in the same transaction as its alerts, so a crash re-reads and a rerun finds nothing new.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from server.db import insert_ignoring_conflicts
from server.models import (
    Alert,
    AlertCode,
    AlertVoucher,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Redemption,
    Scan,
    Voucher,
)
from server.services import ledger, rewards
from server.services.cursors import TIMES, read_cursor, set_cursor, settled, settled_top
from server.services.rollups import mark_times

ALL_PAYEES = ("store", "clerk", "consumer")


@dataclass
class RuleContext:
    """What a rule run needs: thresholds (Config.alerts), the time zone, the clock and the batch size."""

    thresholds: dict[str, int]
    tz: ZoneInfo
    now: datetime
    limit: int = 2000
    secret: bytes = b""
    raised: list[int] = field(default_factory=list)


@dataclass
class Finding:
    """What a rule found about one subject; `raise_alert` turns it into an alert (or adds to the open one)."""

    kind: str
    dedupe_key: str
    summary: str
    evidence: dict
    severity: str = "warning"
    code_ids: Iterable[int] = ()
    voucher_ids: Iterable[int] = ()
    hold_kinds: tuple[str, ...] = ()  # account kinds whose credits the alert holds (none: no money involved)
    batch_id: int | None = None
    code_id: int | None = None
    store_id: int | None = None
    clerk_id: int | None = None
    consumer_id: int | None = None
    distributor: str | None = None


def raise_alert(session: Session, finding: Finding, ctx: RuleContext) -> int:
    """Create the finding's alert, or add its evidence to the existing one (same dedupe_key); hold the money
    of its vouchers while it is not dismissed; owe the days of its codes' scans a rollup recomputation."""
    values = {
        k: getattr(finding, k)
        for k in (
            "kind",
            "severity",
            "batch_id",
            "code_id",
            "store_id",
            "clerk_id",
            "consumer_id",
            "distributor",
        )
    }
    details = {"summary": finding.summary, "hold": list(finding.hold_kinds), **finding.evidence}
    session.execute(
        insert_ignoring_conflicts(session, Alert, index_elements=["dedupe_key"]).values(
            dedupe_key=finding.dedupe_key, status="open", details=details, created_at=ctx.now, **values
        )
    )
    alert = session.execute(select(Alert).where(Alert.dedupe_key == finding.dedupe_key)).scalar_one()
    if alert.created_at != ctx.now:  # raised before: the newest evidence replaces the old, noted as an update
        session.execute(
            update(Alert)
            .where(Alert.id == alert.id)
            .values(details=_merge(alert.details, details), updated_at=ctx.now)
            .execution_options(synchronize_session=False)
        )
    new_codes = _link(session, AlertCode, "code_id", alert.id, finding.code_ids)
    _link(session, AlertVoucher, "voucher_id", alert.id, finding.voucher_ids)
    if alert.status != "dismissed" and finding.hold_kinds:
        hold_voucher_money(session, alert_id=alert.id, kinds=finding.hold_kinds, now=ctx.now)
    if new_codes:
        times = session.execute(select(Scan.scanned_at).where(Scan.code_id.in_(new_codes))).scalars()
        mark_times(session, times, ctx.tz, ctx.now)
    ctx.raised.append(alert.id)
    return alert.id


def _merge(old: dict, new: dict) -> dict:
    merged = {**(old or {}), **new}
    merged["times_raised"] = int((old or {}).get("times_raised", 1)) + 1
    return merged


def _link(session: Session, model, column: str, alert_id: int, ids: Iterable[int]) -> list[int]:
    """Link ids to the alert; returns those that are new."""
    new = []
    for ref in sorted(set(ids)):
        stmt = insert_ignoring_conflicts(session, model, index_elements=["alert_id", column])
        if session.execute(stmt.values(alert_id=alert_id, **{column: ref})).rowcount:
            new.append(ref)
    return new


def hold_voucher_money(session: Session, *, alert_id: int, kinds: tuple[str, ...], now: datetime) -> int:
    """Hold the credits to account kinds `kinds` of the alert's vouchers' claim and live redemption
    transactions (those not reversed); returns the new holds."""
    vouchers = select(AlertVoucher.voucher_id).where(AlertVoucher.alert_id == alert_id)
    keys = [rewards.claim_key(v) for v in session.execute(vouchers).scalars()]
    keys += [
        rewards.redemption_key(r)
        for r in session.execute(
            select(Redemption.id).where(Redemption.voucher_id.in_(vouchers), Redemption.reversed_at.is_(None))
        ).scalars()
    ]
    if not keys:
        return 0
    reversed_txn = select(LedgerTransaction.reverses_id).where(LedgerTransaction.reverses_id.is_not(None))
    entries = session.execute(
        select(LedgerEntry.id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(
            LedgerTransaction.key.in_(keys),
            LedgerTransaction.id.not_in(reversed_txn),
            LedgerAccount.kind.in_(kinds),
            LedgerEntry.amount > 0,
        )
    ).scalars()
    return ledger.hold(session, entry_ids=list(entries), alert_id=alert_id, now=now)


def hold_late_money(session: Session, ctx: RuleContext) -> int:
    """Hold money earned after an alert was raised: redemptions (past the cursor) of vouchers an open or
    confirmed alert names, with the account kinds that alert holds."""
    last = read_cursor(session, "alerts:late_money")
    top = settled_top(session, Redemption, Redemption.redeemed_at, last, ctx.now)
    rows = session.execute(
        select(Redemption.id, AlertVoucher.alert_id, Alert.details)
        .join(AlertVoucher, AlertVoucher.voucher_id == Redemption.voucher_id)
        .join(Alert, Alert.id == AlertVoucher.alert_id)
        .where(Redemption.id > last, Redemption.id <= top, Alert.status != "dismissed")
    ).all()
    held = 0
    for alert_id in sorted({alert_id for _, alert_id, details in rows if (details or {}).get("hold")}):
        kinds = tuple(next(d for _, a, d in rows if a == alert_id)["hold"])
        held += hold_voucher_money(session, alert_id=alert_id, kinds=kinds, now=ctx.now)
    set_cursor(session, "alerts:late_money", top, ctx.now)
    return held


def mark_alert_days(session: Session, *, alert_id: int, now: datetime, tz: ZoneInfo | None = None) -> int:
    """Owe the rollups of the days of the alert's codes' scans a recomputation (its status changed)."""
    from server.runtime import current

    codes = select(AlertCode.code_id).where(AlertCode.alert_id == alert_id)
    times = session.execute(select(Scan.scanned_at).where(Scan.code_id.in_(codes))).scalars()
    return mark_times(session, times, tz or current().config.tz, now)


def voucher_of_code(session: Session, code_id: int) -> int | None:
    """The pack voucher claimed from a code, if any."""
    return session.execute(select(Voucher.id).where(Voucher.code_id == code_id)).scalar()


def scans_past(session: Session, name: str, ctx: RuleContext) -> list[Scan]:
    """The 'ok' scans of real codes past cursor `name`, up to the first scan still waiting for enrichment (a
    rule sees a scan once it is placed), at most ctx.limit; the cursor moves past them."""
    last = read_cursor(session, name)
    pending = session.execute(select(func.min(Scan.id)).where(Scan.geo_status == "pending")).scalar()
    query = select(Scan).where(Scan.id > last).order_by(Scan.id).limit(ctx.limit)
    if pending is not None:
        query = query.where(Scan.id < pending)
    rows = settled(session, list(session.execute(query).scalars()), "scanned_at", ctx.now)
    if rows:
        set_cursor(session, name, rows[-1].id, ctx.now)
    return [s for s in rows if s.outcome == "ok" and s.code_id is not None]


def rows_past(session: Session, name: str, model, ctx: RuleContext) -> list:
    """Rows of `model` past cursor `name` (by id), at most ctx.limit; the cursor moves past them."""
    last = read_cursor(session, name)
    rows = list(
        session.execute(select(model).where(model.id > last).order_by(model.id).limit(ctx.limit)).scalars()
    )
    rows = settled(session, rows, TIMES[model.__tablename__], ctx.now)
    if rows:
        set_cursor(session, name, rows[-1].id, ctx.now)
    return rows


def scan_json(scan: Scan, tz: ZoneInfo) -> dict:
    """A scan as evidence: when (local time), where, how precisely, from which network and consumer."""
    return {
        "scan_id": scan.id,
        "at": scan.scanned_at.astimezone(tz).isoformat(timespec="seconds"),
        "province": scan.province,
        "city": scan.city,
        "lat": scan.lat,
        "lng": scan.lng,
        "accuracy_km": scan.accuracy_km,
        "consumer_id": scan.consumer_id,
        "network": (scan.net_hash or "")[:12],
    }
