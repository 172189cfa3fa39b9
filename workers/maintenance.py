"""Housekeeping jobs."""

from __future__ import annotations

import logging

from server.runtime import current
from server.services.invariants import run_checks

log = logging.getLogger(__name__)


def check_invariants() -> list[dict]:
    """Run the invariant checks of docs/api.md (scheduled nightly); log and return any violation."""
    with current().sessions() as session:
        violations = run_checks(session)
    for v in violations:
        log.error("invariant %s violated: %s: %s", v.invariant, v.description, v.rows)
    return [
        {"invariant": v.invariant, "description": v.description, "rows": [list(map(str, r)) for r in v.rows]}
        for v in violations
    ]


def drop_old_addresses() -> int:
    """Clear raw IP addresses of scans older than CODELOOP_IP_RETENTION_DAYS (hourly; idempotent)."""
    from datetime import timedelta

    from server.db import transaction
    from server.models import utcnow
    from server.services import retention

    runtime, now = current(), utcnow()
    before = now - timedelta(days=runtime.config.ip_retention_days)
    with runtime.sessions() as session:
        since = retention.window_start(session)
    total = 0
    while True:
        with transaction(runtime.sessions) as session:
            done = retention.drop_addresses(session, before=before, since=since)
        total += done
        if done < retention.CHUNK:
            break
    with transaction(runtime.sessions) as session:
        retention.record(session, before=before, dropped=total, now=now)
    if total:
        log.info("retention: dropped the IP address of %d scans made before %s", total, before.isoformat())
    return total
