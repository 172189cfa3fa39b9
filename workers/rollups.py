"""Rollup jobs: recompute the local days touched by new events (batched: one run handles whatever arrived
since the last), or rebuild a range of days."""

from __future__ import annotations

from datetime import date

from server.db import transaction
from server.models import utcnow
from server.runtime import current
from server.services import rollups


def refresh_rollups(rounds: int = 20) -> list[str]:
    """Recompute pending days until none is left (or `rounds` ran); returns the days recomputed."""
    runtime, done = current(), []
    for _ in range(rounds):
        with transaction(runtime.sessions) as session:
            days = rollups.refresh(session, tz=runtime.config.tz, now=utcnow())
        done += [d.isoformat() for d in days]
        if not days:
            break
    return done


def rebuild_rollups(start_iso: str, end_iso: str) -> int:
    """Recompute every local day from `start_iso` to `end_iso` (inclusive); returns the rows written."""
    runtime = current()
    return rollups.rebuild(
        runtime.sessions,
        start=date.fromisoformat(start_iso),
        end=date.fromisoformat(end_iso),
        tz=runtime.config.tz,
    )
