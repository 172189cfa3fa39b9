"""Scan enrichment jobs. A scan row with geo_status 'pending' is its own job (server/jobs.py):
`enrich_scans` works through whatever is pending in chunks (poked by the web at most once a second per
process, swept by `codeloop cron`), `enrich_scan` does one (the inline queue of the embedded default).
Both are idempotent: a scan that is no longer pending is left as it is."""

from __future__ import annotations

from functools import cache

from sqlalchemy import select

from server.db import transaction
from server.models import Scan
from server.runtime import current
from server.services.enrichment import Enricher, enrich, take_pending

BATCH = 1000


@cache
def _enricher(runtime_id: int) -> Enricher:
    runtime = current()
    return Enricher(runtime.geo, runtime.config.tz, runtime.secret)


def enricher() -> Enricher:
    """This process's Enricher (one per runtime: tests build several)."""
    return _enricher(id(current()))


def enrich_scan(scan_id: int) -> str:
    """Enrich one scan if it is still pending; its geo_status afterwards ('missing' if there is no such scan)."""
    runtime = current()
    with transaction(runtime.sessions) as session:
        enrich(session, enricher(), take_pending(session, 1, ids=[scan_id]))
        status = session.execute(select(Scan.geo_status).where(Scan.id == scan_id)).scalar()
    return status or "missing"


def enrich_scans(limit: int = BATCH, rounds: int = 40) -> int:
    """Enrich pending scans, oldest first, `limit` per transaction, until none is left (or `rounds` ran).

    Concurrent runs share the work: on PostgreSQL each takes its rows with FOR UPDATE SKIP LOCKED."""
    runtime, total = current(), 0
    for _ in range(rounds):
        with transaction(runtime.sessions) as session:
            done = enrich(session, enricher(), take_pending(session, limit))
        total += done
        if done < limit:
            break
    return total
