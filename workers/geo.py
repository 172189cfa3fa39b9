"""Scan enrichment: GeoIP place and local timing. A scan row with geo_status 'pending' is its own outbox
entry: `enrich_scans` works through whatever is pending (the web process pokes it at most once a second,
the scheduler every few seconds), `enrich_scan` does one (the inline queue of the embedded default).
Both are idempotent: a scan that is no longer pending is left as it is."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from server.db import is_postgres, transaction
from server.models import Code, Scan
from server.runtime import Runtime, current

BATCH = 500


def enrich_scan(scan_id: int) -> str:
    """Fill country/province/city/accuracy_km/local_hour/weekday of one scan (geo_status done, or unknown
    when the address has no place). Running it twice changes nothing the second time."""
    runtime = current()
    with transaction(runtime.sessions) as session:
        scan = session.get(Scan, scan_id, with_for_update=is_postgres(session))
        if scan is None:
            return "missing"
        if scan.geo_status == "pending":
            _enrich(session, runtime, scan)
        return scan.geo_status


def enrich_scans(limit: int = BATCH, rounds: int = 40) -> int:
    """Enrich pending scans, oldest first, `limit` per transaction, until none is left (or `rounds` ran).

    Concurrent runs share the work: on PostgreSQL each takes its rows with FOR UPDATE SKIP LOCKED."""
    runtime, total = current(), 0
    for _ in range(rounds):
        with transaction(runtime.sessions) as session:
            query = select(Scan).where(Scan.geo_status == "pending").order_by(Scan.id).limit(limit)
            if is_postgres(session):
                query = query.with_for_update(skip_locked=True)
            scans = session.execute(query).scalars().all()
            for scan in scans:
                _enrich(session, runtime, scan)
        total += len(scans)
        if len(scans) < limit:
            break
    return total


def _enrich(session: Session, runtime: Runtime, scan: Scan) -> None:
    place = runtime.geo.lookup(scan.ip)
    local = scan.scanned_at.astimezone(runtime.config.tz)
    scan.local_hour, scan.weekday = local.hour, local.isoweekday()
    if place is None:
        scan.geo_status = "unknown"
        return
    scan.country, scan.province, scan.city = place.country, place.province, place.city
    scan.accuracy_km = place.accuracy_km
    scan.geo_status = "done"
    if scan.code_id is not None and place.city:
        # the code's first city is the city of its earliest scan
        first = session.execute(
            select(Scan.id).where(Scan.code_id == scan.code_id).order_by(Scan.scanned_at, Scan.id).limit(1)
        ).scalar()
        if first == scan.id:
            session.execute(
                update(Code)
                .where(Code.id == scan.code_id, Code.first_city.is_(None))
                .values(first_city=place.city)
            )
