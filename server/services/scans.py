"""Record a scan: verify the code (MAC first, no database), then in one transaction create or count
the Code row race-free, write the Scan row and its Outbox job ("workers.geo.enrich_scan")."""
from __future__ import annotations

import threading
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, func, insert, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, joinedload

from codegen.codes import Codec, CodeInvalid
from codegen.gs1 import GtinInvalid, normalize_gtin
from server.db import is_postgres
from server.models import Attribution, Batch, BatchRange, Campaign, Code, Consumer, Outbox, Product, Scan, Voucher
from server.services.codes import CodeCheck, check_code
from server.services.consumers import ip_hash

ENRICH_JOB = "workers.geo.enrich_scan"
RAW_MAX = 64
UA_MAX = 400


@dataclass
class ScanResult:
    check: CodeCheck
    scan_id: int
    outbox_id: int
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
    return check.batch is not None and check.code is not None and (not check.batch.paired or check.code.kind == 1)


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
        select(Attribution.clerk_id).where(Attribution.consumer_id == consumer_id, Attribution.expires_at > now)
        .order_by(Attribution.id.desc()).limit(1)
    ).scalar_one_or_none()


@dataclass
class BatchCache:
    """Per-process cache of a batch's state for scan pages (DESIGN.md §3: the state lookup is cacheable).

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
        batch = session.execute(select(Batch).options(joinedload(Batch.product), joinedload(Batch.campaign))
                                .where(Batch.id == batch_id)).unique().scalar_one_or_none()
        ranges = list(session.execute(select(BatchRange).where(BatchRange.batch_id == batch_id)
                                      .order_by(BatchRange.id)).scalars()) if batch is not None else []
        for obj in ([batch, batch.product, batch.campaign] if batch is not None else []) + ranges:
            session.expunge(obj)
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[batch_id] = (now + self.ttl, batch, ranges)
        return batch, ranges


def cached_check(session: Session, codec: Codec, text: str, cache: BatchCache) -> CodeCheck:
    """check_code's verdict (MAC first, no database for a forged code) with the batch state from `cache`."""
    try:
        code = codec.decode(text)
    except CodeInvalid as exc:
        return CodeCheck("invalid", reason=exc.reason)
    batch, ranges = cache.get(session, code.batch)
    if batch is None or code.serial >= batch.quantity or (code.kind == 1 and not batch.paired):
        return CodeCheck("invalid", code=code, reason="unknown_batch")
    mine = [r for r in ranges if r.first_serial <= code.serial <= r.last_serial]
    activation = next((r for r in mine if r.kind == "activate"), None)
    blacklist = next((r for r in mine if r.kind == "blacklist"), None)
    outcome = "blacklisted" if blacklist else "ok" if activation else "inactive"
    return CodeCheck(outcome, code=code, batch=batch, activation=activation, blacklist=blacklist)


def verify(session: Session, codec: Codec, text: str, gtin: str | None = None, cache: BatchCache | None = None) -> CodeCheck:
    """check_code (or its cached form), plus the GS1 form's GTIN, which must be valid and match the product."""
    check_gtin = None
    if gtin is not None:
        try:
            check_gtin = normalize_gtin(gtin)
        except GtinInvalid:
            return CodeCheck("invalid", reason="bad_gtin")
    check = cached_check(session, codec, text, cache) if cache is not None else check_code(session, codec, text)
    if check_gtin is not None and check.batch is not None and (check.batch.product.gtin or "").zfill(14) != check_gtin:
        return CodeCheck("invalid", code=check.code, reason="gtin_mismatch")
    return check


_CLERK = (select(Attribution.clerk_id).where(Attribution.consumer_id == Consumer.id,
                                             Attribution.expires_at > bindparam("now", type_=Attribution.expires_at.type))
          .order_by(Attribution.id.desc()).limit(1).scalar_subquery())
# built once: the scan path is hot, and building a statement costs more Python than running it
_CONSUMER_AND_CLERK = select(Consumer.id, _CLERK).where(Consumer.public_id == bindparam("public_id"))


def consumer_and_clerk(session: Session, public_id: str | None, now: datetime) -> tuple[int, int | None] | None:
    """(consumer id, attributed clerk id) for a consumer's public id in one query; None if unknown."""
    if not public_id:
        return None
    row = session.execute(_CONSUMER_AND_CLERK, {"public_id": public_id, "now": now}).first()
    return (row[0], row[1]) if row else None


def _build_upsert(dialect_insert):
    stmt = dialect_insert(Code).values(batch_id=bindparam("batch_id"), serial=bindparam("serial"), kind=bindparam("kind"),
                                       scan_count=1, first_scan_at=bindparam("now", type_=Code.first_scan_at.type),
                                       last_scan_at=bindparam("now", type_=Code.last_scan_at.type))
    stmt = stmt.on_conflict_do_update(index_elements=["batch_id", "serial", "kind"],
                                      set_={"scan_count": Code.scan_count + 1, "last_scan_at": stmt.excluded.last_scan_at})
    return stmt.returning(Code.id, Code.scan_count, Code.first_scan_at, Code.first_city)


_UPSERT = {"postgresql": _build_upsert(pg_insert), "sqlite": _build_upsert(sqlite_insert)}


def count_scan(session: Session, batch_id: int, serial: int, kind: int, now: datetime) -> tuple[int, int, datetime, str | None]:
    """Create the Code row on its first scan or count another, in ONE race-free statement:
    INSERT … ON CONFLICT (batch_id, serial, kind) DO UPDATE SET scan_count = codes.scan_count + 1 … RETURNING."""
    stmt = _UPSERT["postgresql" if is_postgres(session) else "sqlite"]
    row = session.execute(stmt, {"batch_id": batch_id, "serial": serial, "kind": kind, "now": now}).one()
    return row[0], row[1], row[2], row[3]


_SCAN_COLUMNS = ("code_id", "batch_id", "serial", "raw_code", "outcome", "scanned_at", "ip", "ip_hash", "user_agent",
                 "consumer_id", "clerk_id", "geo_status")


def _build_scan_and_outbox():
    scan = insert(Scan.__table__).values({name: bindparam(name, type_=Scan.__table__.c[name].type) for name in _SCAN_COLUMNS})
    cte = scan.returning(Scan.__table__.c.id).cte("new_scan")
    outbox = Outbox.__table__
    return insert(outbox).from_select(
        ["job", "args", "created_at", "attempts"],
        select(literal(ENRICH_JOB), func.json_build_array(cte.c.id), bindparam("scanned_at_o", type_=Outbox.created_at.type),
               literal(0)),
    ).returning(outbox.c.id, outbox.c.args)


_SCAN_AND_OUTBOX = _build_scan_and_outbox()  # PostgreSQL: one data-modifying CTE, built once


def _insert_scan_and_outbox(session: Session, values: dict, now: datetime) -> tuple[int, int]:
    """The Scan row and its enrichment job in the outbox: one statement on PostgreSQL."""
    if is_postgres(session):
        outbox_id, args = session.execute(_SCAN_AND_OUTBOX, {**values, "scanned_at_o": now}).one()
        return args[0], outbox_id
    scan_id = session.execute(insert(Scan).values(**values).returning(Scan.id)).scalar_one()
    outbox_id = session.execute(insert(Outbox).values(job=ENRICH_JOB, args=[scan_id], created_at=now)
                                .returning(Outbox.id)).scalar_one()
    return scan_id, outbox_id


def record_scan(session: Session, codec: Codec, text: str, *, secret: bytes | str, consumer_id: int | None,
                ip: str | None, user_agent: str, now: datetime, gtin: str | None = None,
                clerk_id: int | None | bool = False, cache: BatchCache | None = None) -> ScanResult:
    """Verify `text` and record the scan; invalid, inactive and blacklisted codes get a Scan row, no Code row.
    `clerk_id` False means "look the attribution up"; pass it when the caller already knows it."""
    check = verify(session, codec, text, gtin, cache)
    if clerk_id is False:
        clerk_id = active_clerk(session, consumer_id, now)
    code_id = scan_count = first_at = first_city = None
    if check.outcome == "ok":
        code = check.code
        code_id, scan_count, first_at, first_city = count_scan(session, code.batch, code.serial, code.kind, now)
    decoded = check.code
    scan_id, outbox_id = _insert_scan_and_outbox(session, dict(
        code_id=code_id, batch_id=check.batch.id if check.batch else None,
        serial=decoded.serial if (decoded and check.batch) else None,
        raw_code=sanitize_raw(text), outcome=check.outcome, scanned_at=now, ip=ip, ip_hash=ip_hash(secret, ip),
        user_agent=sanitize_raw(user_agent or "", UA_MAX), consumer_id=consumer_id, clerk_id=clerk_id,
        geo_status="pending",
    ), now)
    result = ScanResult(check, scan_id, outbox_id, code_id, scan_count or 0, first_at, first_city)
    if code_id is not None and scan_count and scan_count > 1 and is_claim_code(check):
        result.voucher = session.execute(select(Voucher).where(Voucher.code_id == code_id)).scalar_one_or_none()
    return result
