"""Report slices: rollup_days summed to the grain each report reads, so that a dashboard query reads thousands
of rows, not millions (rollup_days' full grain — day × campaign × batch × product × distributor × province ×
city × store × clerk — has nearly a row per few scans at ten million scans).

One row per local day × campaign × batch × product × province × slice: slice '' (the total: KPI cards,
funnel, daily series, provinces, referrals, payouts), 'city', 'store', 'clerk' or 'distributor', with
`slice_key` the city name, the store or clerk id in decimal, or the distributor ('' for the total). The
rankings also have an all-batches slice ('city:all', 'store:all', 'clerk:all': campaign, batch and product
0), which the dashboard reads when no campaign, batch or product is chosen — a tenth of the rows. The
measures are rollup_days' (server/models/rollups.py says what each means), summed.

rollup_hour_slices: rollup_hours summed over campaigns, batches and products (day × hour × province), for
the hourly series and the heatmap when no campaign, batch or product is chosen.

Both are rewritten with the day's rollup_days and rollup_hours rows (server/services/rollups/slices.py), so
they never disagree with them.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, Index, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base
from server.models.rollups import DAY_MEASURES, HOUR_MEASURES

SLICES = ("", "city", "store", "clerk", "distributor", "city:all", "store:all", "clerk:all")
ALL_BATCHES = ("city", "store", "clerk")  # the slices that also have an all-batches form, "<slice>:all"
SLICE_DIMENSIONS = ("campaign_id", "batch_id", "product_id", "province")


class RollupSlice(Base):
    __tablename__ = "rollup_slices"
    __table_args__ = (
        UniqueConstraint("day", "slice", *SLICE_DIMENSIONS, "slice_key", name="uq_rollup_slices_key"),
        Index("ix_rollup_slices_slice_day", "slice", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    slice: Mapped[str] = mapped_column(String(12), default="")
    campaign_id: Mapped[int] = mapped_column(default=0)
    batch_id: Mapped[int] = mapped_column(default=0)
    product_id: Mapped[int] = mapped_column(default=0)
    province: Mapped[str] = mapped_column(String(80), default="")
    slice_key: Mapped[str] = mapped_column(String(200), default="")


for _measure in DAY_MEASURES:
    setattr(RollupSlice, _measure, mapped_column(_measure, BigInteger, default=0, nullable=False))


class RollupHourSlice(Base):
    __tablename__ = "rollup_hour_slices"
    __table_args__ = (
        UniqueConstraint("day", "hour", "province", name="uq_rollup_hour_slices_key"),
        Index("ix_rollup_hour_slices_day", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    hour: Mapped[int] = mapped_column(SmallInteger)
    weekday: Mapped[int] = mapped_column(SmallInteger)
    province: Mapped[str] = mapped_column(String(80), default="")


for _measure in HOUR_MEASURES:
    setattr(RollupHourSlice, _measure, mapped_column(_measure, BigInteger, default=0, nullable=False))
