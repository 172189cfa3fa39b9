"""Place and time pending scans in bulk: the GeoIP place in canonical names, coordinates and accuracy,
the local hour and weekday, the activated range and days since its activation, the network's hash.

A pending scan row is its own job (server/jobs.py): `take_pending` claims a chunk (FOR UPDATE SKIP
LOCKED on PostgreSQL, so concurrent workers share the work), `enrich` fills it with ONE bulk UPDATE and
one statement for the codes' first city. A scan that can never be placed (a malformed address) is
marked `failed` with its error, once, and the rest of the chunk proceeds.
"""

from __future__ import annotations

import bisect
import ipaddress
import logging
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from server.db import is_postgres
from server.geo import GeoProvider
from server.models import BatchRange, Scan
from server.services.consumers import keyed_hash

log = logging.getLogger(__name__)
_scans = Scan.__table__
COLUMNS = (
    "geo_status",
    "enrich_error",
    "country_code",
    "country",
    "province",
    "city",
    "lat",
    "lng",
    "accuracy_km",
    "local_hour",
    "weekday",
    "range_id",
    "days_since_activation",
    "net_hash",
)
_PENDING = select(
    _scans.c.id, _scans.c.ip, _scans.c.scanned_at, _scans.c.batch_id, _scans.c.serial, _scans.c.code_id
).where(_scans.c.geo_status == "pending")
_UPDATE = (
    update(_scans)
    .where(_scans.c.id == bindparam("_id"), _scans.c.geo_status == "pending")
    .values({name: bindparam(name, type_=_scans.c[name].type) for name in COLUMNS})
)
# a code's first city is the city of its earliest scan (once that scan is placed)
_FIRST_CITY = text("""
UPDATE codes SET first_city = (
    SELECT s.city FROM scans s WHERE s.code_id = codes.id ORDER BY s.scanned_at, s.id LIMIT 1)
 WHERE codes.id IN :ids AND codes.first_city IS NULL
""").bindparams(bindparam("ids", expanding=True))


@dataclass(frozen=True)
class Span:
    first: int
    last: int
    range_id: int
    activated_at: datetime


@dataclass
class Enricher:
    """What enriching needs, built once per process: the GeoIP provider, the zone, the hashing secret."""

    geo: GeoProvider
    tz: ZoneInfo
    secret: bytes
    _net_hashes: dict = field(default_factory=dict)

    def net_hash(self, addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
        """Salted hash of the /24 (IPv4) or /48 (IPv6); the text hashed is consumers.network_of's."""
        if addr.version == 6 and addr.ipv4_mapped:
            addr = addr.ipv4_mapped
        net = str(ipaddress.ip_network(f"{addr}/{24 if addr.version == 4 else 48}", strict=False))
        found = self._net_hashes.get(net)
        if found is None:
            if len(self._net_hashes) > 100_000:
                self._net_hashes.clear()
            found = self._net_hashes[net] = keyed_hash(self.secret, "net", net)
        return found

    def values(self, row, span: Span | None) -> dict:
        """The enrichment columns for one pending scan row."""
        local = row.scanned_at.astimezone(self.tz)
        out = dict.fromkeys(COLUMNS)
        out.update(_id=row.id, local_hour=local.hour, weekday=local.isoweekday(), geo_status="unknown")
        if span is not None:
            out["range_id"] = span.range_id
            out["days_since_activation"] = max(0, (row.scanned_at - span.activated_at).days)
        if row.ip is None:
            return out
        try:
            addr = ipaddress.ip_address(row.ip)
        except ValueError:
            out.update(geo_status="failed", enrich_error=f"malformed IP address {row.ip[:60]!r}")
            return out
        out["net_hash"] = self.net_hash(addr)
        place = self.geo.lookup(row.ip)
        if place is not None:
            out.update(
                geo_status="done",
                country_code=place.country_code,
                country=place.country,
                province=place.province,
                city=place.city,
                lat=place.lat,
                lng=place.lng,
                accuracy_km=place.accuracy_km,
            )
        return out


def take_pending(session: Session, limit: int, ids: list[int] | None = None) -> list:
    """Pending scans, oldest first (or those of `ids`), locked for this transaction on PostgreSQL."""
    query = _PENDING.order_by(_scans.c.id).limit(limit)
    if ids is not None:
        query = query.where(_scans.c.id.in_(ids))
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    return session.execute(query).all()


def spans(session: Session, batch_ids: set[int]) -> dict[int, tuple[list[int], list[Span]]]:
    """The activated ranges of these batches, sorted by first serial, for a bisect per scan."""
    out: dict[int, tuple[list[int], list[Span]]] = {}
    rows = session.execute(
        select(BatchRange.batch_id, BatchRange.first_serial, BatchRange.last_serial, BatchRange.id)
        .add_columns(BatchRange.created_at)
        .where(BatchRange.batch_id.in_(batch_ids), BatchRange.kind == "activate")
        .order_by(BatchRange.batch_id, BatchRange.first_serial)
    ).all()
    for batch_id, first, last, range_id, created in rows:
        starts, found = out.setdefault(batch_id, ([], []))
        starts.append(first)
        found.append(Span(first, last, range_id, created))
    return out


def _span(ranges: dict, batch_id: int | None, serial: int | None) -> Span | None:
    if batch_id is None or serial is None or batch_id not in ranges:
        return None
    starts, found = ranges[batch_id]
    i = bisect.bisect_right(starts, serial) - 1
    return found[i] if i >= 0 and found[i].last >= serial else None


def enrich(session: Session, enricher: Enricher, rows: list) -> int:
    """Fill the taken rows in one bulk UPDATE; a row the database refuses is marked failed alone."""
    if not rows:
        return 0
    ranges = spans(session, {r.batch_id for r in rows if r.batch_id is not None})
    values = []
    for row in rows:
        try:
            values.append(enricher.values(row, _span(ranges, row.batch_id, row.serial)))
        except Exception as exc:  # noqa: BLE001 — one poison scan must not hold up the chunk
            log.exception("could not enrich scan %s", row.id)
            values.append(_failed(row.id, exc))
    try:
        with session.begin_nested():
            session.connection().execute(_UPDATE, values)
    except DBAPIError:
        log.exception("bulk enrichment failed; writing the chunk row by row")
        for one in values:
            _write_one(session, one)
    code_ids = sorted({r.code_id for r in rows if r.code_id is not None})
    if code_ids:
        session.connection().execute(_FIRST_CITY, {"ids": code_ids})
    return len(values)


def _failed(scan_id: int, exc: Exception) -> dict:
    out = dict.fromkeys(COLUMNS)
    out.update(_id=scan_id, geo_status="failed", enrich_error=f"{type(exc).__name__}: {exc}"[:200])
    return out


def _write_one(session: Session, one: dict) -> None:
    try:
        with session.begin_nested():
            session.connection().execute(_UPDATE, [one])
    except DBAPIError as exc:
        with session.begin_nested():
            session.connection().execute(_UPDATE, [_failed(one["_id"], exc.orig or exc)])
