"""Diversion (窜货): a scan outside the intended regions of its activated range, charged to the range's
distributor. One alert per range, province and local day, naming every diverted code; a scan inside one of
the intended provinces (whatever the spelling: 上海 is 上海市), an unplaced scan, or a range activated without
regions never fires. No money is held: the distributor is not paid through the ledger.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import BatchRange, Scan
from server.services.alerts.base import Finding, RuleContext, raise_alert, scan_json, scans_past
from server.services.regions import outside_regions, province_key

NAME = "diversion"
SAMPLE = 20


def range_of(session: Session, scan: Scan) -> BatchRange | None:
    """The activated range a scan's serial falls in."""
    return session.execute(
        select(BatchRange)
        .where(
            BatchRange.batch_id == scan.batch_id,
            BatchRange.kind == "activate",
            BatchRange.first_serial <= scan.serial,
            BatchRange.last_serial >= scan.serial,
        )
        .limit(1)
    ).scalar()


def run(session: Session, ctx: RuleContext) -> list[int]:
    groups: dict[tuple, list[Scan]] = defaultdict(list)
    ranges: dict[int, BatchRange] = {}
    for scan in scans_past(session, f"alerts:{NAME}", ctx):
        rng = range_of(session, scan)
        if rng is None or not outside_regions(scan.province, scan.city, rng.regions or []):
            continue
        ranges[rng.id] = rng
        day = scan.scanned_at.astimezone(ctx.tz).date()
        groups[(rng.id, province_key(scan.province), day)].append(scan)
    raised = []
    for (range_id, _, day), scans in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        rng = ranges[range_id]
        finding = Finding(
            kind=NAME,
            dedupe_key=f"{NAME}:{range_id}:{scans[0].province}:{day.isoformat()}",
            summary=f"{rng.distributor or '—'}: scanned in {scans[0].province}, "
            f"intended {', '.join(rng.regions)}",
            evidence={
                "range": {
                    "id": rng.id,
                    "batch_id": rng.batch_id,
                    "first_serial": rng.first_serial,
                    "last_serial": rng.last_serial,
                },
                "intended_regions": list(rng.regions),
                "province": scans[0].province,
                "day": day.isoformat(),
                "scans_found": len(scans),
                "sample": [scan_json(s, ctx.tz) for s in scans[:SAMPLE]],
            },
            code_ids=[s.code_id for s in scans],
            batch_id=rng.batch_id,
            distributor=rng.distributor,
        )
        raised.append(raise_alert(session, finding, ctx))
    return raised
