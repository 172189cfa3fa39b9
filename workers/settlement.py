"""Settlement job: close a period into one statement per store and clerk account (idempotent)."""

from __future__ import annotations

from datetime import datetime

from server.db import transaction
from server.models import utcnow
from server.runtime import current
from server.services import settlements


def run_settlement(period_end_iso: str) -> list[int]:
    """Close the period ending at `period_end_iso` (ISO 8601 with a zone); returns new statement ids.

    Running it twice, or after a crash, creates nothing new: statements are unique per
    (account, period_end) and an entry can be settled once.
    """
    period_end = datetime.fromisoformat(period_end_iso)
    with transaction(current().sessions) as session:
        return settlements.run(session, period_end=period_end, now=utcnow())


def run_daily() -> list[int]:
    """Close the period ending at the most recent midnight in the deployment's time zone."""
    tz = current().config.tz
    midnight = datetime.combine(utcnow().astimezone(tz).date(), datetime.min.time(), tzinfo=tz)
    return run_settlement(midnight.isoformat())
