"""Alert jobs: drain the forged-scan counters, then run every rule over what is new (idempotent: each rule
reads past its own cursor, moved in the transaction that writes its alerts)."""

from __future__ import annotations

from server.forgeries import drain
from server.models import utcnow
from server.runtime import current
from server.services.alerts import run_rules


def drain_forgeries() -> int:
    """Move closed minutes of forged-code counters into forged_scans."""
    runtime = current()
    return drain(runtime.forgeries, runtime.sessions, utcnow())


def run_alert_rules() -> dict:
    """Drain the forged-scan counters, then run the alert rules over new events."""
    runtime = current()
    drain(runtime.forgeries, runtime.sessions, utcnow())
    return run_rules(
        runtime.sessions,
        thresholds=runtime.config.alerts,
        tz=runtime.config.tz,
        now=utcnow(),
        secret=runtime.secret,
    )
