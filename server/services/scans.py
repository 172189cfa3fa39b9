"""Record a scan: verify the code (MAC first, no database), then in one transaction create or count
the Code row race-free and write the Scan row, pending enrichment ("workers.geo.enrich_scans")."""

from __future__ import annotations

import threading
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, joinedload

from codegen.codes import Codec
from codegen.gs1 import GtinInvalid, normalize_gtin
from server.db import is_postgres
from server.models import Attribution, Batch, BatchRange, Campaign, Code, Consumer, Product, Scan, Voucher
from server.services.codes import CodeCheck, check_code
from server.services.consumers import ip_hash

RAW_MAX = 64
UA_MAX = 400


@dataclass
class ScanResult:
    check: CodeCheck
    scan_id: int
    consumer_id: int | None = (
        None  # None: an anonymous scan (no token, or one for a consumer we no longer have)
    )
    code_id: int | None = None
    scan_count: int = 0
    first_scan_at: datetime | None = None
    first_city: str | None = None
    voucher: Voucher | None = None  # the pack's voucher, if it has been claimed

    @property
    def outcome(self) -> str:
        return self.check.outcome

    @property
    def batch(self) -> Batch | None:
        return self.check.batch

    @property
    def product(self) -> Product | None:
        return self.check.batch.product if self.check.batch else None

    @property
    def campaign(self) -> Campaign | None:
        return self.check.batch.campaign if self.check.batch else None

    @property
    def first(self) -> bool:
        return self.scan_count == 1

    @property
    def claimable(self) -> bool:
        """Only an active code can claim, and in a paired batch only the inner code (kind 1)."""
        return self.outcome == "ok" and is_claim_code(self.check)


def is_claim_code(check: CodeCheck) -> bool:
    return (
        check.batch is not None
        and check.code is not None
        and (not check.batch.paired or check.code.kind == 1)
    )


def sanitize_raw(text: str, limit: int = RAW_MAX) -> str:
    """What was scanned, safe to store and show: control/format characters escaped, truncated."""
    out = []
    size = 0
    for ch in text[: limit * 2]:
        piece = ch
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            piece = f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"
        if size + len(piece) > limit:
            break
        out.append(piece)
        size += len(piece)
    return "".join(out)


def active_clerk(session: Session, consumer_id: int | None, now: datetime) -> int | None:
    """The clerk whose promo code this consumer scanned within the attribution window, if any."""
    if consumer_id is None:
        return None
    return session.execute(
        select(Attribution.clerk_id)
        .where(Attribution.consumer_id == consumer_id, Attribution.expires_at > now)
        .order_by(Attribution.id.desc())
        .limit(1)
    ).scalar_one_or_none()


@dataclass
class BatchCache:
    """Per-process cache of a batch's state for scan pages (the state lookup is cacheable; docs/api.md).

    Holds the Batch (with product and campaign loaded, detached, read-only) and its ranges for `ttl`
    seconds, so activating or blacklisting a range reaches scan pages within `ttl`. Claims never use it:
    they always check the database."""

    ttl: float = 5.0
    _entries: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def invalidate(self, batch_id: int | None = None) -> None:
        """Forget one batch (or all): for the admin views of this process after activating or blacklisting."""
        with self._lock:
            self._entries.pop(batch_id, None) if batch_id is not None else self._entries.clear()

    def get(self, session: Session, batch_id: int) -> tuple[Batch | None, list[BatchRange]]:
        now = time.monotonic()
        entry = self._entries.get(batch_id)
        if entry is not None and entry[0] > now:
            return entry[1], entry[2]
        batch = (
            session.execute(
                select(Batch)
                .options(joinedload(Batch.product), joinedload(Batch.campaign))
                .where(Batch.id == batch_id)
            )
            .unique()
            .scalar_one_or_none()
        )
        ranges = (
            list(
                session.execute(
                    select(BatchRange).where(BatchRange.batch_id == batch_id).order_by(BatchRange.id)
                ).scalars()
            )
            if batch is not None
            else []
        )
        for obj in ([batch, batch.product, batch.campaign] if batch is not None else []) + ranges:
            session.expunge(obj)
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[batch_id] = (now + self.ttl, batch, ranges)
        return batch, ranges


def verify(
    session: Session, codec: Codec, text: str, gtin: str | None = None, cache: BatchCache | None = None
) -> CodeCheck:
    """check_code (or its cached form), plus the GS1 form's GTIN,
    which must be valid and match the product."""
    check_gtin = None
    if gtin is not None:
        try:
            check_gtin = normalize_gtin(gtin)
        except GtinInvalid:
            return CodeCheck("invalid", reason="bad_gtin")
    check = check_code(session, codec, text, partial(cache.get, session) if cache is not None else None)
    if (
        check_gtin is not None
        and check.batch is not None
        and (check.batch.product.gtin or "").zfill(14) != check_gtin
    ):
        return CodeCheck("invalid", code=check.code, reason="gtin_mismatch")
    return check


_attributions, _consumers, _codes, _scans = (
    Attribution.__table__,
    Consumer.__table__,
    Code.__table__,
    Scan.__table__,
)
# Core statements built once: the scan path is hot, and building (or ORM-compiling) a statement costs more
# Python than running it
_CLERK = (
    select(_attributions.c.clerk_id)
    .where(
        _attributions.c.consumer_id == _consumers.c.id,
        _attributions.c.expires_at > bindparam("now", type_=Attribution.expires_at.type),
    )
    .order_by(_attributions.c.id.desc())
    .limit(1)
    .scalar_subquery()
)
_CONSUMER_AND_CLERK = select(_consumers.c.id, _CLERK).where(_consumers.c.public_id == bindparam("public_id"))


def consumer_and_clerk(
    session: Session, public_id: str | None, now: datetime
) -> tuple[int, int | None] | None:
    """(consumer id, attributed clerk id) for a consumer's public id in one query; None if unknown."""
    if not public_id:
        return None
    row = session.execute(_CONSUMER_AND_CLERK, {"public_id": public_id, "now": now}).first()
    return (row[0], row[1]) if row else None


def _build_upsert(dialect_insert):
    now = bindparam("now", type_=Code.first_scan_at.type)
    stmt = dialect_insert(_codes).values(
        batch_id=bindparam("batch_id"),
        serial=bindparam("serial"),
        kind=bindparam("kind"),
        scan_count=1,
        first_scan_at=now,
        last_scan_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["batch_id", "serial", "kind"],
        set_={"scan_count": _codes.c.scan_count + 1, "last_scan_at": stmt.excluded.last_scan_at},
    )
    return stmt.returning(_codes.c.id, _codes.c.scan_count, _codes.c.first_scan_at, _codes.c.first_city)


_SQLITE_UPSERT = _build_upsert(sqlite_insert)  # PostgreSQL counts inside _PG_SCAN


def _count_scan(
    session: Session, batch_id: int, serial: int, kind: int, now: datetime
) -> tuple[int, int, datetime, str | None]:
    """SQLite: create the Code row on its first scan or count another, in ONE race-free statement:
    INSERT … ON CONFLICT (batch_id, serial, kind)
    DO UPDATE SET scan_count = codes.scan_count + 1 … RETURNING."""
    row = session.execute(
        _SQLITE_UPSERT, {"batch_id": batch_id, "serial": serial, "kind": kind, "now": now}
    ).one()
    return row[0], row[1], row[2], row[3]


_SCAN_COLUMNS = (
    "code_id",
    "batch_id",
    "serial",
    "raw_code",
    "outcome",
    "scanned_at",
    "ip",
    "ip_hash",
    "user_agent",
    "consumer_id",
    "clerk_id",
    "geo_status",
)
_INSERT_SCAN = (
    insert(_scans)
    .values({name: bindparam(name, type_=_scans.c[name].type) for name in _SCAN_COLUMNS})
    .returning(_scans.c.id)
)

# PostgreSQL: the whole scan in ONE statement — who is scanning and their attributed clerk, the race-free
# count of the code (only for a genuine, active code), the scan row, and the pack's voucher if any.
_PG_SCAN = text("""
WITH who AS (
    SELECT c.id AS consumer_id,
           (SELECT a.clerk_id FROM attributions a WHERE a.consumer_id = c.id AND a.expires_at > :now
             ORDER BY a.id DESC LIMIT 1) AS clerk_id
      FROM consumers c WHERE c.public_id = :public_id
), code AS (
    INSERT INTO codes (batch_id, serial, kind, scan_count, first_scan_at, last_scan_at)
    SELECT :code_batch, :code_serial, :code_kind, 1, :now, :now WHERE :count_code
    ON CONFLICT (batch_id, serial, kind)
    DO UPDATE SET scan_count = codes.scan_count + 1, last_scan_at = excluded.last_scan_at
    RETURNING id, scan_count, first_scan_at, first_city
), scan AS (
    INSERT INTO scans (code_id, batch_id, serial, raw_code, outcome, scanned_at, ip, ip_hash, user_agent,
                       consumer_id, clerk_id, geo_status)
    VALUES ((SELECT id FROM code), :batch_id, :serial, :raw_code, :outcome, :now, :ip, :ip_hash, :user_agent,
            (SELECT consumer_id FROM who), (SELECT clerk_id FROM who), 'pending')
    RETURNING id, consumer_id
)
SELECT scan.id, scan.consumer_id, code.id, code.scan_count, code.first_scan_at, code.first_city, v.id
  FROM scan LEFT JOIN code ON true LEFT JOIN vouchers v ON v.code_id = code.id
""").bindparams(bindparam("now", type_=Scan.scanned_at.type))


def record_scan(
    session: Session,
    codec: Codec,
    text_: str,
    *,
    secret: bytes | str,
    public_id: str | None,
    ip: str | None,
    user_agent: str,
    now: datetime,
    gtin: str | None = None,
    cache: BatchCache | None = None,
) -> ScanResult:
    """Verify `text_` and record the scan by the consumer with `public_id` (None or unknown: anonymous);
    invalid, inactive and blacklisted codes get a Scan row, no Code row. One statement on PostgreSQL."""
    check = verify(session, codec, text_, gtin, cache)
    decoded = check.code
    values = dict(
        batch_id=check.batch.id if check.batch else None,
        serial=decoded.serial if (decoded and check.batch) else None,
        raw_code=sanitize_raw(text_),
        outcome=check.outcome,
        scanned_at=now,
        ip=ip,
        ip_hash=ip_hash(secret, ip),
        user_agent=sanitize_raw(user_agent or "", UA_MAX),
        geo_status="pending",
    )  # the scan row is its own outbox entry (workers/geo.py)
    if is_postgres(session):
        session.flush()  # the statement runs on the session's connection, past the ORM's autoflush
        # one statement is its own transaction: no BEGIN and COMMIT round trips on the hot path
        options = {} if session.in_transaction() else {"execution_options": {"isolation_level": "AUTOCOMMIT"}}
        code = decoded if check.outcome == "ok" else None
        params = {
            **values,
            "public_id": public_id,
            "now": now,
            "count_code": code is not None,
            "code_batch": code.batch if code else 0,
            "code_serial": code.serial if code else 0,
            "code_kind": code.kind if code else 0,
        }
        row = session.connection(**options).execute(_PG_SCAN, params).one()
        scan_id, consumer_id, code_id, scan_count, first_at, first_city, voucher_id = row
    else:
        consumer_id, clerk_id = consumer_and_clerk(session, public_id, now) or (None, None)
        code_id = scan_count = first_at = first_city = voucher_id = None
        if check.outcome == "ok":
            code_id, scan_count, first_at, first_city = _count_scan(
                session, decoded.batch, decoded.serial, decoded.kind, now
            )
        scan_id = session.execute(
            _INSERT_SCAN, {**values, "code_id": code_id, "consumer_id": consumer_id, "clerk_id": clerk_id}
        ).scalar_one()
        if scan_count and scan_count > 1:
            voucher_id = session.execute(select(Voucher.id).where(Voucher.code_id == code_id)).scalar()
    result = ScanResult(check, scan_id, consumer_id, code_id, scan_count or 0, first_at, first_city)
    if voucher_id is not None and is_claim_code(check):
        result.voucher = session.get(Voucher, voucher_id)
    return result
