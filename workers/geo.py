"""Scan enrichment jobs. A scan row with geo_status 'pending' is its own job (server/jobs.py):
`enrich_scans` works through whatever is pending in chunks (poked by the web at most once a second per
process, swept by `codeloop cron`), `enrich_scan` does one (the inline queue of the embedded default).
Both are idempotent: a scan that is no longer pending is left as it is."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import cache

from sqlalchemy import select

from server.db import is_postgres, transaction
from server.jobs import Debounce, submit
from server.models import Scan
from server.runtime import current
from server.services.enrichment import Enricher, compute, enrich, take_pending, write

BATCH = 1000
_ANALYSIS_INLINE = Debounce(
    60.0
)  # the embedded default runs the analysis in a request: once a minute at most


@cache
def _enricher(runtime_id: int) -> Enricher:
    runtime = current()
    return Enricher(runtime.geo, runtime.config.tz, runtime.secret)


def enricher() -> Enricher:
    """This process's Enricher (one per runtime: tests build several)."""
    return _enricher(id(current()))


def enrich_scan(scan_id: int) -> str:
    """Enrich one scan if it is still pending; returns its geo_status ('missing': no such scan)."""
    runtime = current()
    with transaction(runtime.sessions) as session:
        done = enrich(session, enricher(), take_pending(session, 1, ids=[scan_id]))
        status = session.execute(select(Scan.geo_status).where(Scan.id == scan_id)).scalar()
    poke_analysis(done, per_scan=True)
    return status or "missing"


def poke_analysis(placed: int, *, per_scan: bool = False) -> None:
    """Scans were placed: owe the alert rules and the rollups a run (batched: each kind's job waits on the
    queue once, whatever the number of pokes; inline after one scan, at most once a minute per process)."""
    runtime = current()
    if placed and (runtime.queues.is_async or not per_scan or _ANALYSIS_INLINE.due()):
        for kind in ("alerts", "rollups"):
            submit(runtime.queues, kind, dedupe=True)


def enrich_scans(limit: int = BATCH, rounds: int = 40) -> int:
    """Enrich pending scans, oldest first, `limit` per transaction, until none is left (or `rounds` ran).

    Concurrent runs share the work: on PostgreSQL each takes its rows with FOR UPDATE SKIP LOCKED. There,
    one chunk's UPDATE and commit run on a second thread while the next chunk is taken and computed (the
    database's work and this process's overlap; SKIP LOCKED keeps the two chunks apart)."""
    runtime, total = current(), 0
    if not is_postgres(runtime.engine):
        for _ in range(rounds):
            with transaction(runtime.sessions) as session:
                done = enrich(session, enricher(), take_pending(session, limit))
            total += done
            if done < limit:
                break
        poke_analysis(total)
        return total
    with ThreadPoolExecutor(1, thread_name_prefix="enrich-write") as writer:
        in_flight = None
        for _ in range(rounds):
            session = runtime.sessions()
            try:
                session.begin()
                rows = take_pending(session, limit)
                chunk = compute(session, enricher(), rows)
            except BaseException:
                session.close()
                raise
            total += in_flight.result() if in_flight is not None else 0
            in_flight = writer.submit(_write_and_commit, session, chunk)
            if len(rows) < limit:
                break
        total += in_flight.result() if in_flight is not None else 0
    poke_analysis(total)
    return total


def _write_and_commit(session, chunk) -> int:
    with session:
        done = write(session, chunk)
        session.commit()
    return done
