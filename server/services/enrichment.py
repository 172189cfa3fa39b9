"""Place and time pending scans in bulk: the GeoIP place in canonical names, coordinates and accuracy,
the local hour and weekday, the activated range and days since its activation, the network's hash.

A pending scan row is its own job (server/jobs.py): `take_pending` claims a chunk (FOR UPDATE SKIP
LOCKED on PostgreSQL, so concurrent workers share the work), `enrich` fills it with ONE bulk UPDATE and
one statement for the codes' first city. A scan that can never be placed (a malformed address) is
marked `failed` with its error, once, and the rest of the chunk proceeds.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from server.db import is_postgres
from server.geo import GeoProvider
from server.models import BatchRange, Scan

log = logging.getLogger(__name__)
_scans = Scan.__table__
# the enrichment columns and their PostgreSQL types (for the unnest of the bulk UPDATE)
PG_TYPES = {
    "geo_status": "text",
    "enrich_error": "text",
    "country_code": "text",
    "country": "text",
    "province": "text",
    "city": "text",
    "lat": "float8",
    "lng": "float8",
    "accuracy_km": "int",
    "local_hour": "int",
    "weekday": "int",
    "range_id": "bigint",
    "days_since_activation": "int",
    "net_hash": "text",
}
COLUMNS = tuple(PG_TYPES)
_PENDING = select(
    _scans.c.id, _scans.c.ip, _scans.c.scanned_at, _scans.c.batch_id, _scans.c.serial, _scans.c.code_id
).where(_scans.c.geo_status == "pending")
_UPDATE = (
    update(_scans)
    .where(_scans.c.id == bindparam("_id"), _scans.c.geo_status == "pending")
    .values({name: bindparam(name, type_=_scans.c[name].type) for name in COLUMNS})
)
# PostgreSQL: the chunk travels as ONE json document the server turns into typed rows (json_to_recordset),
# which costs far less than a parameter per value or an array per column (adapted one by one in Python)
_PG_UPDATE = text(
    f"UPDATE scans SET {', '.join(f'{c} = v.{c}' for c in COLUMNS)} "
    "FROM json_to_recordset(CAST(:rows AS json)) AS v(id bigint, "
    + ", ".join(f"{c} {t}" for c, t in PG_TYPES.items())
    + ") WHERE scans.id = v.id AND scans.geo_status = 'pending'"
)
_KEYS = ("id", *COLUMNS)
_ASYNC_COMMIT = text("SET LOCAL synchronous_commit = off")
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
    _mac: hmac.HMAC | None = None

    def net_hash(self, packed: bytes) -> str:
        """Salted hash of the /24 (IPv4) or /48 (IPv6) of a packed address; the text hashed is
        consumers.network_of's, so both agree."""
        if len(packed) == 16 and packed[:12] == b"\0" * 10 + b"\xff\xff":  # IPv4-mapped IPv6
            packed = packed[12:]
        net = packed[:3] if len(packed) == 4 else packed[:6]
        found = self._net_hashes.get(net)
        if found is None:
            if len(self._net_hashes) > 100_000:
                self._net_hashes.clear()
            prefix = f"{ipaddress.ip_address(net + bytes(len(packed) - len(net)))}/{len(net) * 8}"
            if self._mac is None:  # keyed_hash's HMAC with the key set up once
                self._mac = hmac.new(self.secret, digestmod=hashlib.sha256)
            mac = self._mac.copy()
            mac.update(f"codeloop/v1/net|{prefix}".encode())
            found = self._net_hashes[net] = mac.hexdigest()
        return found

    def values(self, row, span: Span | None) -> tuple:
        """The enrichment columns (COLUMNS' order) for one pending scan row."""
        local = row.scanned_at.astimezone(self.tz)
        range_id = days = net_hash = place = None
        if span is not None:
            range_id, days = span.range_id, max(0, (row.scanned_at - span.activated_at).days)
        if row.ip is not None:
            try:
                packed = _pack(row.ip)
            except (OSError, ValueError):
                error = f"malformed IP address {row.ip[:60]!r}"
                return ("failed", error, *(None,) * 7, local.hour, local.isoweekday(), range_id, days, None)
            net_hash, place = self.net_hash(packed), self.geo.lookup(row.ip)
        if place is None:
            return ("unknown", *(None,) * 8, local.hour, local.isoweekday(), range_id, days, net_hash)
        return (
            "done", None, place.country_code, place.country, place.province, place.city, place.lat,
            place.lng, place.accuracy_km, local.hour, local.isoweekday(), range_id, days, net_hash,
        )  # fmt: skip


def _pack(ip: str) -> bytes:
    """The address as bytes; strict (inet_pton refuses '1.2.3', leading zeros and the like)."""
    return socket.inet_pton(socket.AF_INET6 if ":" in ip else socket.AF_INET, ip)


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


@dataclass(frozen=True)
class Chunk:
    """A chunk's computed columns, ready to write."""

    values: list[tuple]
    code_ids: list[int]


def compute(session: Session, enricher: Enricher, rows: list) -> Chunk:
    """The enrichment of the taken rows (reads the batches' ranges; writes nothing)."""
    ranges = spans(session, {r.batch_id for r in rows if r.batch_id is not None})
    values = []
    for row in rows:
        try:
            values.append((row.id, *enricher.values(row, _span(ranges, row.batch_id, row.serial))))
        except Exception as exc:  # noqa: BLE001 — one poison scan must not hold up the chunk
            log.exception("could not enrich scan %s", row.id)
            values.append(_failed(row.id, exc))
    return Chunk(values, sorted({r.code_id for r in rows if r.code_id is not None}))


def write(session: Session, chunk: Chunk) -> int:
    """One bulk UPDATE and the codes' first city; a row the database refuses is marked failed alone."""
    if not chunk.values:
        return 0
    if is_postgres(session):
        # re-derivable work: a commit lost in a crash leaves the scans pending, to be enriched again, so the
        # commit need not wait for the WAL to reach the disk
        session.execute(_ASYNC_COMMIT)
    try:
        with session.begin_nested():
            _write(session, chunk.values)
    except DBAPIError:
        log.exception("bulk enrichment failed; writing the chunk row by row")
        for one in chunk.values:
            _write_one(session, one)
    if chunk.code_ids:
        session.connection().execute(_FIRST_CITY, {"ids": chunk.code_ids})
    return len(chunk.values)


def enrich(session: Session, enricher: Enricher, rows: list) -> int:
    """compute, then write: the taken rows enriched in this transaction."""
    return write(session, compute(session, enricher, rows)) if rows else 0


def _write(session: Session, values: list[tuple]) -> None:
    """PostgreSQL: one UPDATE … FROM the rows as json; SQLite: an executemany, which runs in C."""
    if is_postgres(session):
        rows = json.dumps([dict(zip(_KEYS, v, strict=True)) for v in values], ensure_ascii=False)
        session.connection().execute(_PG_UPDATE, {"rows": rows})
    else:
        session.connection().execute(_UPDATE, [dict(zip(("_id", *COLUMNS), v, strict=True)) for v in values])


def _failed(scan_id: int, exc: Exception) -> tuple:
    error = f"{type(exc).__name__}: {exc}"[:200]
    return (scan_id, "failed", error, *(None,) * (len(COLUMNS) - 2))


def _write_one(session: Session, one: tuple) -> None:
    try:
        with session.begin_nested():
            _write(session, [one])
    except DBAPIError as exc:
        with session.begin_nested():
            _write(session, [_failed(one[0], exc.orig or exc)])


def overdue(session: Session, before: datetime) -> list[tuple]:
    """[()] (run the batch job) when a scan made before `before` is still pending."""
    late = session.execute(
        select(_scans.c.id).where(_scans.c.geo_status == "pending", _scans.c.scanned_at < before).limit(1)
    ).first()
    return [()] if late else []


def backlog(session: Session, before: datetime) -> dict:
    """Pending scans, how many of them are older than `before`, and the oldest one's time."""
    owed, late, oldest = session.execute(
        select(
            func.count(),
            func.count().filter(_scans.c.scanned_at < before),
            func.min(_scans.c.scanned_at),
        ).where(_scans.c.geo_status == "pending")
    ).one()
    return {"owed": owed, "overdue": late, "oldest": oldest}


def failed(session: Session, limit: int) -> list[dict]:
    """Scans that can never be placed, newest first, with their error."""
    rows = session.execute(
        select(_scans.c.id, _scans.c.enrich_error, _scans.c.scanned_at)
        .where(_scans.c.geo_status == "failed")
        .order_by(_scans.c.id.desc())
        .limit(limit)
    ).all()
    return [{"id": r.id, "error": r.enrich_error, "at": r.scanned_at} for r in rows]
