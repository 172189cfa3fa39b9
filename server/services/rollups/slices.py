"""rollup_slices (server/models/slices.py): one local day's rollup_days rows summed per report grain, in the
caller's transaction, right after the day's rollup_days rows are rewritten (recompute_day)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import String, cast, delete, func, insert, literal, select
from sqlalchemy.orm import Session

from server.models import RollupDay
from server.models.rollups import DAY_MEASURES
from server.models.slices import SLICE_DIMENSIONS, RollupSlice

KEYS = {  # slice -> (its key on rollup_days, the rows it covers)
    "": (literal("", String(200)), None),
    "city": (RollupDay.city, RollupDay.city != ""),
    "store": (cast(RollupDay.store_id, String(200)), RollupDay.store_id != 0),
    "clerk": (cast(RollupDay.clerk_id, String(200)), RollupDay.clerk_id != 0),
    "distributor": (RollupDay.distributor, RollupDay.distributor != ""),
}


def derive_day(session: Session, day: date) -> None:
    """Replace local `day`'s slices with sums of its rollup_days rows (INSERT … SELECT, one per slice)."""
    session.execute(delete(RollupSlice).where(RollupSlice.day == day))
    dims = [getattr(RollupDay, d) for d in SLICE_DIMENSIONS]
    columns = ["day", "slice", *SLICE_DIMENSIONS, "slice_key", *DAY_MEASURES]
    for name, (key, covers) in KEYS.items():
        query = (
            select(
                RollupDay.day,
                literal(name),
                *dims,
                key,
                *[func.sum(getattr(RollupDay, m)) for m in DAY_MEASURES],
            )
            .where(RollupDay.day == day, *([covers] if covers is not None else []))
            .group_by(RollupDay.day, *dims, *([key] if name else []))
        )
        session.execute(insert(RollupSlice).from_select(columns, query))
