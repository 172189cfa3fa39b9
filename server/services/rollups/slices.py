"""rollup_slices and rollup_hour_slices (server/models/slices.py): one local day's rollup_days and
rollup_hours rows summed per report grain, in the caller's transaction, right after the day's rows are
rewritten (recompute_day)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import String, cast, delete, func, insert, literal, select
from sqlalchemy.orm import Session

from server.models import RollupDay, RollupHour
from server.models.rollups import DAY_MEASURES, HOUR_MEASURES
from server.models.slices import ALL_BATCHES, SLICE_DIMENSIONS, RollupHourSlice, RollupSlice

KEYS = {  # slice -> (its key on rollup_days, the rows it covers)
    "": (literal("", String(200)), None),
    "city": (RollupDay.city, RollupDay.city != ""),
    "store": (cast(RollupDay.store_id, String(200)), RollupDay.store_id != 0),
    "clerk": (cast(RollupDay.clerk_id, String(200)), RollupDay.clerk_id != 0),
    "distributor": (RollupDay.distributor, RollupDay.distributor != ""),
}


def derive_day(session: Session, day: date) -> None:
    """Replace local `day`'s slices with sums of its rollup_days and rollup_hours rows (INSERT … SELECT)."""
    session.execute(delete(RollupSlice).where(RollupSlice.day == day))
    session.execute(delete(RollupHourSlice).where(RollupHourSlice.day == day))
    columns = ["day", "slice", *SLICE_DIMENSIONS, "slice_key", *DAY_MEASURES]
    sums = [func.sum(getattr(RollupDay, m)) for m in DAY_MEASURES]
    for name, (key, covers) in KEYS.items():
        for all_batches in (False, True) if name in ALL_BATCHES else (False,):
            zero = literal(0)
            dims = (
                [zero, zero, zero, RollupDay.province]
                if all_batches
                else [getattr(RollupDay, d) for d in SLICE_DIMENSIONS]
            )
            grouped = [RollupDay.province] if all_batches else dims
            query = (
                select(RollupDay.day, literal(f"{name}:all" if all_batches else name), *dims, key, *sums)
                .where(RollupDay.day == day, *([covers] if covers is not None else []))
                .group_by(RollupDay.day, *grouped, *([key] if name else []))
            )
            session.execute(insert(RollupSlice).from_select(columns, query))
    hours = select(
        RollupHour.day,
        RollupHour.hour,
        RollupHour.weekday,
        RollupHour.province,
        *[func.sum(getattr(RollupHour, m)) for m in HOUR_MEASURES],
    ).where(RollupHour.day == day)
    hours = hours.group_by(RollupHour.day, RollupHour.hour, RollupHour.weekday, RollupHour.province)
    session.execute(
        insert(RollupHourSlice).from_select(["day", "hour", "weekday", "province", *HOUR_MEASURES], hours)
    )
