"""Fraud and diversion alerts: the rules (rules/<name>.py), their plumbing (base.py) and what an admin does
with an alert (decisions.py: list, read, confirm, dismiss).

Rules run in batched background jobs after enrichment (workers/alerts.py), never on a consumer's request:
an alert holds money, it never blocks a page. Thresholds are Config.alerts (CODELOOP_ALERT_* settings).
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import text

from server.db import is_postgres
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

__all__ = ["alert_detail", "alert_summary", "confirm", "dismiss", "get_alert", "list_alerts", "run_rules"]


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
