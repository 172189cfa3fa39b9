"""Many sessions on one code: more than `sessions_per_code` distinct consumers scanned the same pack code — a
code copied or posted online. Holds the pack voucher's money."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.models import Scan
from server.services.alerts.base import (
    ALL_PAYEES,
    Finding,
    RuleContext,
    raise_alert,
    scans_past,
    voucher_of_code,
)

NAME = "sessions_per_code"


def run(session: Session, ctx: RuleContext) -> list[int]:
    limit = ctx.thresholds["sessions_per_code"]
    codes = {(s.code_id, s.batch_id) for s in scans_past(session, f"alerts:{NAME}", ctx)}
    raised = []
    for code_id, batch_id in sorted(codes):
        n, first, last, cities = session.execute(
            select(
                func.count(func.distinct(Scan.consumer_id)),
                func.min(Scan.scanned_at),
                func.max(Scan.scanned_at),
                func.count(func.distinct(Scan.city)),
            ).where(Scan.code_id == code_id, Scan.outcome == "ok")
        ).one()
        if n <= limit:
            continue
        voucher = voucher_of_code(session, code_id)
        finding = Finding(
            kind=NAME,
            dedupe_key=f"{NAME}:{code_id}",
            summary=f"{n} consumers scanned one code",
            evidence={
                "consumers": n,
                "threshold": limit,
                "cities": cities,
                "first_scan": first.astimezone(ctx.tz).isoformat(timespec="seconds"),
                "last_scan": last.astimezone(ctx.tz).isoformat(timespec="seconds"),
            },
            code_ids=[code_id],
            voucher_ids=[voucher] if voucher else [],
            hold_kinds=ALL_PAYEES,
            batch_id=batch_id,
            code_id=code_id,
        )
        raised.append(raise_alert(session, finding, ctx))
    return raised
