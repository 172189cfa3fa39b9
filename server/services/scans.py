"""Record a scan: verify the code (MAC first, no database), then in one transaction create or count
the Code row race-free, write the Scan row and its Outbox job ("workers.geo.enrich_scan")."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from codegen.codes import Codec
from codegen.gs1 import GtinInvalid, normalize_gtin
from server.db import insert_ignoring_conflicts
from server.models import Attribution, Batch, Campaign, Code, Outbox, Product, Scan, Voucher
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


def verify(session: Session, codec: Codec, text: str, gtin: str | None = None) -> CodeCheck:
    """check_code, plus the GS1 form's GTIN, which must be valid and match the batch's product."""
    if gtin is not None:
        try:
            gtin14 = normalize_gtin(gtin)
        except GtinInvalid:
            return CodeCheck("invalid", reason="bad_gtin")
        check = check_code(session, codec, text)
        if check.batch is not None and (check.batch.product.gtin or "").zfill(14) != gtin14:
            return CodeCheck("invalid", code=check.code, reason="gtin_mismatch")
        return check
    return check_code(session, codec, text)


def record_scan(session: Session, codec: Codec, text: str, *, secret: bytes | str, consumer_id: int | None,
                ip: str | None, user_agent: str, now: datetime, gtin: str | None = None) -> ScanResult:
    """Verify `text` and record the scan; invalid, inactive and blacklisted codes get a Scan row, no Code row."""
    check = verify(session, codec, text, gtin)
    clerk_id = active_clerk(session, consumer_id, now)
    code_id = scan_count = first_at = first_city = None
    if check.outcome == "ok":
        code = check.code
        key = dict(batch_id=code.batch, serial=code.serial, kind=code.kind)
        code_id = session.execute(
            insert_ignoring_conflicts(session, Code, index_elements=["batch_id", "serial", "kind"])
            .values(**key, scan_count=1, first_scan_at=now, last_scan_at=now).returning(Code.id)
        ).scalar()
        if code_id is not None:
            scan_count, first_at = 1, now
        else:
            code_id, scan_count, first_at, first_city = session.execute(
                update(Code).where(Code.batch_id == code.batch, Code.serial == code.serial, Code.kind == code.kind)
                .values(scan_count=Code.scan_count + 1, last_scan_at=now)
                .returning(Code.id, Code.scan_count, Code.first_scan_at, Code.first_city)
            ).one()
    decoded = check.code
    scan_id = session.execute(insert(Scan).values(
        code_id=code_id, batch_id=check.batch.id if check.batch else None,
        serial=decoded.serial if (decoded and check.batch) else None,
        raw_code=sanitize_raw(text), outcome=check.outcome, scanned_at=now, ip=ip, ip_hash=ip_hash(secret, ip),
        user_agent=sanitize_raw(user_agent or "", UA_MAX), consumer_id=consumer_id, clerk_id=clerk_id,
        geo_status="pending",
    ).returning(Scan.id)).scalar_one()
    outbox_id = session.execute(insert(Outbox).values(job=ENRICH_JOB, args=[scan_id], created_at=now)
                                .returning(Outbox.id)).scalar_one()
    result = ScanResult(check, scan_id, outbox_id, code_id, scan_count or 0, first_at, first_city)
    if code_id is not None and scan_count and scan_count > 1 and is_claim_code(check):
        result.voucher = session.execute(select(Voucher).where(Voucher.code_id == code_id)).scalar_one_or_none()
    return result
