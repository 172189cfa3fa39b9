"""Record a scan: verify the code (MAC first, no database), then in one transaction create or count
the Code row race-free and write the Scan row, pending enrichment ("workers.geo.enrich_scans").

A forged code (one that does not decode, or whose MAC fails) costs no database work: no Scan row, and the
consumer is never looked up or created; it is only counted per address, network and minute
(server/forgeries.py), which is what the enumeration alert reads."""

from __future__ import annotations

import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from codegen.codes import Codec
from codegen.gs1 import GtinInvalid, normalize_gtin
from server.db import is_postgres
from server.models import Attribution, Batch, BatchRange, Campaign, Product, Voucher
from server.services import scans_sql
from server.services.codes import CodeCheck, check_code
from server.services.consumers import ip_hash

RAW_MAX = 64
UA_MAX = 400


class ForgeryCounter(Protocol):
    """Counts a forged attempt without a database row (server.forgeries.Forgeries)."""

    def count(self, ip: str | None, now: datetime) -> None: ...


@dataclass
class ScanResult:
    check: CodeCheck
    scan_id: int | None  # None: a forged code, nothing recorded
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
    def forged(self) -> bool:
        return self.check.forged

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
    check_gtin, bad_gtin = None, False
    if gtin is not None:
        try:
            check_gtin = normalize_gtin(gtin)
        except GtinInvalid:
            bad_gtin = True
    check = check_code(session, codec, text, partial(cache.get, session) if cache is not None else None)
    if check.forged:
        return check
    if bad_gtin:
        return CodeCheck("invalid", code=check.code, reason="bad_gtin")
    if (
        check_gtin is not None
        and check.batch is not None
        and (check.batch.product.gtin or "").zfill(14) != check_gtin
    ):
        return CodeCheck("invalid", code=check.code, reason="gtin_mismatch")
    return check


def record_scan(
    session: Session,
    codec: Codec,
    text_: str,
    *,
    secret: bytes | str,
    public_id: str | None | Callable[[], str | None],
    ip: str | None,
    user_agent: str,
    now: datetime,
    gtin: str | None = None,
    cache: BatchCache | None = None,
    forgeries: ForgeryCounter | None = None,
) -> ScanResult:
    """Verify `text_` and record the scan by the consumer with `public_id` (None or unknown: anonymous; a
    callable is asked only for a code worth recording). A forged code is counted in `forgeries` and
    recorded nowhere; inactive, blacklisted and other invalid codes get a Scan row, no Code row. One
    statement on PostgreSQL."""
    check = verify(session, codec, text_, gtin, cache)
    if check.forged:
        if forgeries is not None:
            forgeries.count(ip, now)
        return ScanResult(check, None)
    if callable(public_id):
        public_id = public_id()
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
    counted = decoded if check.outcome == "ok" else None  # only a genuine, active code is counted
    write = scans_sql.write_postgres if is_postgres(session) else scans_sql.write_sqlite
    scan_id, consumer_id, code_id, scan_count, first_at, first_city, voucher_id = write(
        session, values, code=counted, public_id=public_id, now=now
    )
    result = ScanResult(check, scan_id, consumer_id, code_id, scan_count or 0, first_at, first_city)
    if voucher_id is not None and is_claim_code(check):
        result.voucher = session.get(Voucher, voucher_id)
    return result
