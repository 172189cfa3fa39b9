"""Verify a scanned pack code: the MAC first (no database), then the batch's state for that serial."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from codegen.codes import Codec, CodeInvalid, PackCode
from server.models import Batch, BatchRange

BatchState = Callable[[int], "tuple[Batch | None, list[BatchRange]]"]

ERROR_FOR = {"invalid": "CODE_INVALID", "inactive": "CODE_INACTIVE", "blacklisted": "CODE_BLACKLISTED"}


@dataclass(frozen=True)
class CodeCheck:
    """What a scan learned: outcome, the decoded code (if its tag verified), its batch and ranges."""

    outcome: str
    code: PackCode | None = None
    batch: Batch | None = None
    activation: BatchRange | None = None  # distributor and intended regions of the shipped range
    blacklist: BatchRange | None = None
    reason: str | None = None  # why a code is invalid (CodeInvalid.reason, or "unknown_batch")

    @property
    def error_code(self) -> str | None:
        return ERROR_FOR.get(self.outcome)


def check_code(session: Session, codec: Codec, text: str, batch_state: BatchState | None = None) -> CodeCheck:
    """Decode and verify `text`; only a code whose tag verifies causes any database read.
    `batch_state(batch_id)` gives the batch and its ranges from a cache instead of the database (the scan
    pages' BatchCache)."""
    try:
        code = codec.decode(text)
    except CodeInvalid as exc:
        return CodeCheck("invalid", reason=exc.reason)
    batch, ranges = (
        batch_state(code.batch) if batch_state is not None else (session.get(Batch, code.batch), None)
    )
    if batch is None or code.serial >= batch.quantity or (code.kind == 1 and not batch.paired):
        return CodeCheck("invalid", code=code, reason="unknown_batch")
    if ranges is None:  # from the database: only the ranges that hold this serial
        ranges = (
            session.execute(
                select(BatchRange)
                .where(
                    BatchRange.batch_id == batch.id,
                    BatchRange.first_serial <= code.serial,
                    BatchRange.last_serial >= code.serial,
                )
                .order_by(BatchRange.id)
            )
            .scalars()
            .all()
        )
    mine = [r for r in ranges if r.first_serial <= code.serial <= r.last_serial]
    activation = next((r for r in mine if r.kind == "activate"), None)
    blacklist = next((r for r in mine if r.kind == "blacklist"), None)
    outcome = "blacklisted" if blacklist else "ok" if activation else "inactive"
    return CodeCheck(outcome, code=code, batch=batch, activation=activation, blacklist=blacklist)


def code_history(session: Session, codec: Codec, text: str, *, tz, limit: int = 100) -> dict:
    """An admin's view of one code: verification outcome, batch, ranges, scans and voucher."""
    from server.models import Code, Scan, Voucher

    check = check_code(session, codec, text)
    body: dict = {"outcome": check.outcome, "reason": check.reason}
    if check.code is None:
        return body
    body.update(
        code=check.code.text,
        batch_id=check.code.batch,
        serial=check.code.serial,
        kind="inner" if check.code.kind else "outer",
    )
    for name, row in (("activation", check.activation), ("blacklist", check.blacklist)):
        body[name] = row and {
            "first_serial": row.first_serial,
            "last_serial": row.last_serial,
            "distributor": row.distributor,
            "regions": row.regions,
            "reason": row.reason,
        }
    code_row = session.execute(
        select(Code).where(
            Code.batch_id == check.code.batch, Code.serial == check.code.serial, Code.kind == check.code.kind
        )
    ).scalar()
    scans = (
        []
        if code_row is None
        else session.execute(
            select(Scan).where(Scan.code_id == code_row.id).order_by(Scan.scanned_at.desc()).limit(limit)
        ).scalars()
    )
    body["scan_count"] = code_row.scan_count if code_row else 0
    body["scans"] = [
        {
            "at": s.scanned_at.astimezone(tz).isoformat(),
            "city": s.city,
            "province": s.province,
            "outcome": s.outcome,
            "consumer_id": s.consumer_id,
            "clerk_id": s.clerk_id,
        }
        for s in scans
    ]
    voucher = code_row and session.execute(select(Voucher).where(Voucher.code_id == code_row.id)).scalar()
    body["voucher"] = voucher and {
        "code": voucher.code,
        "status": voucher.status,
        "issued_at": voucher.issued_at.isoformat(),
    }
    return body
