"""Verify a scanned pack code: the MAC first (no database), then the batch's state for that serial."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from codegen.codes import Codec, CodeInvalid, PackCode
from server.models import Batch, BatchRange, Code, Scan, Voucher
from server.services.voucher_codes import canonical_code

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

    @property
    def forged(self) -> bool:
        """Nothing genuine was scanned: the text does not decode, or its tag (MAC) does not verify."""
        return self.outcome == "invalid" and self.code is None


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
    """An admin's view of one code: verification outcome, batch, ranges, every scan (time and place), its
    voucher, redemptions and alerts. `text` may also be a pack voucher's code: its pack is shown."""
    check = check_code(session, codec, text)
    if check.code is None:
        pack = _pack_of_voucher(session, codec, text)
        if pack is not None:
            check = check_code(session, codec, pack)
    body: dict = {"outcome": check.outcome, "reason": check.reason}
    if check.code is None:
        return body
    body.update(
        code=check.code.text,
        batch_id=check.code.batch,
        serial=check.code.serial,
        kind="inner" if check.code.kind else "outer",
    )
    if check.batch is not None:
        body.update(product=check.batch.product.name, campaign_id=check.batch.campaign_id)
        body["campaign"] = check.batch.campaign.name
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
    body["scan_count"] = code_row.scan_count if code_row else 0
    body["scans"] = [] if code_row is None else _scans(session, code_row.id, tz, limit)
    voucher = code_row and session.execute(select(Voucher).where(Voucher.code_id == code_row.id)).scalar()
    body["voucher"] = voucher and _voucher(voucher, tz)
    body["redemptions"] = [] if voucher is None else _redemptions(session, voucher.id, tz)
    body["alerts"] = [] if code_row is None else _alerts(session, code_row.id, voucher, tz)
    return body


def _pack_of_voucher(session: Session, codec: Codec, text: str) -> str | None:
    canon = canonical_code(text)
    if canon is None:
        return None
    row = session.execute(
        select(Code.batch_id, Code.serial, Code.kind)
        .join(Voucher, Voucher.code_id == Code.id)
        .where(Voucher.code == canon)
    ).first()
    return codec.encode(row.batch_id, row.serial, row.kind) if row else None


def _scans(session: Session, code_id: int, tz, limit: int) -> list[dict]:
    scans = session.execute(
        select(Scan)
        .where(Scan.code_id == code_id)
        .order_by(Scan.scanned_at.desc(), Scan.id.desc())
        .limit(limit)
    ).scalars()
    return [
        {
            "id": s.id,
            "at": s.scanned_at.astimezone(tz).isoformat(),
            "country": s.country,
            "province": s.province,
            "city": s.city,
            "accuracy_km": s.accuracy_km,
            "lat": s.lat,
            "lng": s.lng,
            "days_since_activation": s.days_since_activation,
            "geo_status": s.geo_status,
            "outcome": s.outcome,
            "consumer_id": s.consumer_id,
            "clerk_id": s.clerk_id,
        }
        for s in scans
    ]


def _voucher(voucher, tz) -> dict:
    return {
        "code": voucher.code,
        "kind": voucher.kind,
        "status": voucher.status,
        "value_fen": voucher.value_fen,
        "min_spend_fen": voucher.min_spend_fen,
        "consumer_id": voucher.consumer_id,
        "clerk_id": voucher.clerk_id,
        "issued_at": voucher.issued_at.astimezone(tz).isoformat(),
        "expires_at": voucher.expires_at.astimezone(tz).isoformat(),
    }


def _redemptions(session: Session, voucher_id: int, tz) -> list[dict]:
    from server.models import Redemption, Store

    rows = session.execute(
        select(Redemption, Store.name)
        .join(Store, Store.id == Redemption.store_id)
        .where(Redemption.voucher_id == voucher_id)
        .order_by(Redemption.id)
    ).all()
    return [
        {
            "id": r.id,
            "store_id": r.store_id,
            "store": store,
            "clerk_id": r.clerk_id,
            "purchase_fen": r.purchase_fen,
            "redeemed_at": r.redeemed_at.astimezone(tz).isoformat(),
            "reversed_at": r.reversed_at and r.reversed_at.astimezone(tz).isoformat(),
        }
        for r, store in rows
    ]


def _alerts(session: Session, code_id: int, voucher, tz) -> list[dict]:
    from sqlalchemy import or_

    from server.models import Alert

    about = [Alert.code_id == code_id]
    if voucher is not None:
        about.append(Alert.consumer_id == voucher.consumer_id)
    rows = session.execute(select(Alert).where(or_(*about)).order_by(Alert.id.desc()).limit(50)).scalars()
    return [
        {
            "id": a.id,
            "kind": a.kind,
            "severity": a.severity,
            "status": a.status,
            "about_code": a.code_id == code_id,
            "created_at": a.created_at.astimezone(tz).isoformat(),
        }
        for a in rows
    ]
