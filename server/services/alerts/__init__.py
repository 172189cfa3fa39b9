"""Fraud and diversion alerts: the rules (rules/<name>.py), their plumbing (base.py) and what an admin does
with an alert (decisions.py: list, read, confirm, dismiss).

Rules run in batched background jobs after enrichment (workers/alerts.py), never on a consumer's request:
an alert holds money, it never blocks a page. Thresholds are Config.alerts (CODELOOP_ALERT_* settings).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from server.db import is_postgres
from server.models import ForgedScans, JobCursor, Redemption, Scan, Voucher
from server.services.alerts.base import RuleContext, hold_late_money
from server.services.alerts.decisions import (
    alert_detail,
    alert_summary,
    confirm,
    dismiss,
    get_alert,
    list_alerts,
)

log = logging.getLogger(__name__)
LOCK_BASE = 0x0C0DE200
VOUCHER_CURSORS = ("clerk_self_dealing:vouchers", "clerk_burst:claims", "referral_loop")
REDEMPTION_CURSORS = ("clerk_self_dealing:redemptions", "clerk_burst:redemptions", "store_spike")

__all__ = [
    "alert_detail",
    "alert_summary",
    "confirm",
    "dismiss",
    "get_alert",
    "list_alerts",
    "overdue",
    "run_rules",
]


def overdue(session: Session, before: datetime) -> list[tuple]:
    """[()] (run the rules) when a scan, voucher, redemption or forged-scan minute made before `before` is
    past the cursor of a rule that reads it (for the sweeper, server/jobs.py)."""
    from server.services.alerts.rules import RULES

    names = [f"alerts:{rule.NAME}" for rule in RULES]
    query = select(JobCursor.name, JobCursor.last_id).where(JobCursor.name.like("alerts:%"))
    cursors = {name: last for name, last in session.execute(query).all()}
    scans = min(cursors.get(n, 0) for n in names[:3])  # geo_velocity, diversion, sessions_per_code
    vouchers = min(cursors.get(f"alerts:{n}", 0) for n in VOUCHER_CURSORS)
    redemptions = min(cursors.get(f"alerts:{n}", 0) for n in REDEMPTION_CURSORS)
    minute = datetime.fromtimestamp(cursors.get("alerts:enumeration", 0) * 60, UTC)
    checks = (
        select(Scan.id).where(Scan.id > scans, Scan.scanned_at < before, Scan.geo_status != "pending"),
        select(Voucher.id).where(Voucher.id > vouchers, Voucher.issued_at < before),
        select(Redemption.id).where(Redemption.id > redemptions, Redemption.redeemed_at < before),
        select(ForgedScans.minute).where(ForgedScans.minute > minute, ForgedScans.minute < before),
    )
    return [()] if any(session.execute(q.limit(1)).first() for q in checks) else []


def run_rules(
    sessions, *, thresholds: dict[str, int], tz: ZoneInfo, now: datetime, secret: bytes = b""
) -> dict:
    """Run every rule over its new events, each in its own transaction (a rule already running elsewhere is
    skipped on PostgreSQL), then hold money earned since by vouchers alerts name; {rule: alert ids}."""
    from server.services.alerts.rules import RULES

    results: dict[str, list[int]] = {}
    for index, rule in enumerate(RULES):
        ctx = RuleContext(thresholds=thresholds, tz=tz, now=now, secret=secret)
        with sessions() as session, session.begin():
            if (
                is_postgres(session)
                and not session.execute(
                    text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": LOCK_BASE + index}
                ).scalar()
            ):
                continue
            results[rule.NAME] = sorted(set(rule.run(session, ctx)))
    with sessions() as session, session.begin():
        hold_late_money(session, RuleContext(thresholds=thresholds, tz=tz, now=now))
    for name, ids in results.items():
        if ids:
            log.info("alert rule %s raised or updated alerts %s", name, ids)
    return results
