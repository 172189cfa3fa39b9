"""The funnel: printed → activated → scanned → claimed → redeemed.

Printed and activated are the selected batches' packs to date (batches and ranges: they have no day or
province); scanned (packs first scanned), claimed (pack vouchers issued) and redeemed (pack vouchers
redeemed) are the period's, from the rollups.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import RollupSlice
from server.services.reports import Context, Filters, packs, ratio, rows, sums, where

STEPS = ("printed", "activated", "scanned", "claimed", "redeemed")


def report(session: Session, f: Filters, ctx: Context) -> dict:
    """{filters, steps: [{step, count, of_previous, of_printed}]}."""
    stock = packs(session, f)
    totals = rows(
        session,
        select(*sums(RollupSlice, ("first_scans", "claims", "redemptions", "friend_redemptions"))).where(
            *where(RollupSlice, f, part="")
        ),
    )[0]
    counts = {
        **stock,
        "scanned": totals["first_scans"],
        "claimed": totals["claims"],
        "redeemed": totals["redemptions"] - totals["friend_redemptions"],
    }
    steps, before = [], None
    for step in STEPS:
        steps.append(
            {
                "step": step,
                "count": counts[step],
                "of_previous": ratio(counts[step], before) if before is not None else None,
                "of_printed": ratio(counts[step], counts["printed"]),
            }
        )
        before = counts[step]
    return {"filters": f.json(), "steps": steps}
