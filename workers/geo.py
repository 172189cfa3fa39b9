"""Scan enrichment: GeoIP place and local timing for one scan; idempotent, marks its outbox row done."""
from __future__ import annotations

import json

from sqlalchemy import String, cast, select, update

from server.db import transaction
from server.models import Code, Outbox, Scan, utcnow
from server.runtime import current

JOB = "workers.geo.enrich_scan"


def enrich_scan(scan_id: int, outbox_id: int | None = None) -> str:
    """Fill country/province/city/accuracy_km/local_hour/weekday (geo_status done, or unknown when the
    address has no place). Running it twice changes nothing the second time."""
    runtime = current()
    with transaction(runtime.sessions) as session:
        scan = session.get(Scan, scan_id, with_for_update=session.get_bind().dialect.name == "postgresql")
        if scan is None:
            return "missing"
        if scan.geo_status == "pending":
            place = runtime.geo.lookup(scan.ip)
            local = scan.scanned_at.astimezone(runtime.config.tz)
            scan.local_hour, scan.weekday = local.hour, local.isoweekday()
            if place is None:
                scan.geo_status = "unknown"
            else:
                scan.country, scan.province, scan.city = place.country, place.province, place.city
                scan.accuracy_km = place.accuracy_km
                scan.geo_status = "done"
                if scan.code_id is not None and place.city:
                    # the code's first city is the city of its earliest scan
                    first = session.execute(select(Scan.id).where(Scan.code_id == scan.code_id)
                                            .order_by(Scan.scanned_at, Scan.id).limit(1)).scalar()
                    if first == scan.id:
                        session.execute(update(Code).where(Code.id == scan.code_id, Code.first_city.is_(None))
                                        .values(first_city=place.city))
        _mark_done(session, scan_id, outbox_id)
        return scan.geo_status


def _mark_done(session, scan_id: int, outbox_id: int | None) -> None:
    where = (Outbox.id == outbox_id) if outbox_id is not None else (
        (Outbox.job == JOB) & (cast(Outbox.args, String) == json.dumps([scan_id])))
    session.execute(update(Outbox).where(where, Outbox.done_at.is_(None)).values(done_at=utcnow())
                    .execution_options(synchronize_session=False))


def enrich_pending(limit: int = 500) -> int:
    """The sweeper's half of the outbox: enrich scans whose job was lost (pending for over a minute)."""
    from datetime import timedelta

    runtime = current()
    with runtime.sessions() as session:
        ids = session.execute(select(Scan.id).where(Scan.geo_status == "pending",
                                                    Scan.scanned_at < utcnow() - timedelta(minutes=1))
                              .order_by(Scan.id).limit(limit)).scalars().all()
    for scan_id in ids:
        enrich_scan(scan_id)
    return len(ids)
