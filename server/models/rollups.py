"""Report rollups: facts re-derivable at any time from scans, vouchers, referrals, redemptions and the ledger.

Days and hours are in the deployment's time zone (CODELOOP_TIMEZONE). A dimension that does not apply is 0
(ids) or '' (names), never NULL, so the unique keys hold. Every row is rewritten, never incremented: the
job `workers.rollups.refresh` replaces all rows of each local day touched by new events (and `codeloop rollups
rebuild --from --to` any range), in one transaction per day, so running it twice leaves the same rows.

``rollup_days`` — one row per local day × campaign × batch × product × distributor × province × city × store ×
clerk, with every measure the reports sum:

- dimensions: ``campaign_id``, ``batch_id`` and ``product_id`` of the pack (a friend voucher's pack is the
  one its share link was made from); ``distributor`` of the activated range the pack's serial falls in;
  ``province``/``city``: for scans the scan's own place (GB/T 2260 names; '' while or when unplaced), for
  claims and shares the place of the pack's first scan, for redemptions the store's place;
  ``store_id``/``clerk_id``: for scans, claims and shares the attributed clerk (promo code) and that
  clerk's store; for redemptions the redeeming store and the clerk at the till (0 for a POS token), except
  a redemption's clerk reward, which is under the clerk it is paid to (the voucher's attributed clerk, and
  that clerk's store).
- ``scans``: scan rows with outcome 'ok' (a genuine, activated, not blacklisted code);
  ``scans_blocked``: scans of genuine codes that were inactive or blacklisted.
- ``first_scans``: 'ok' scans that were their code's first scan ever (so the sum over any range is the
  number of packs first scanned in it: the funnel's "scanned").
- ``consumers``: distinct consumers among the row's 'ok' scans — exact for that row only. Summed over days
  or dimensions it counts consumer-days (a consumer active on three days counts three times); reports
  must label such a sum as such. ``new_consumers``: consumers whose first scan ever is in this row; it is
  additive, so its sum over a range is the exact number of consumers first seen in that range.
- ``diverted_scans``: 'ok' scans placed in a province outside the intended regions of their range (a
  range without regions, or an unplaced scan, diverts nothing), charged to the row's ``distributor``.
- ``alert_scans``: 'ok' scans of a code named by an alert that is not dismissed (alert_codes). The real
  consumer scan rate is (scans − alert_scans) / printed packs.
- ``claims``: pack vouchers issued; ``friend_vouchers``: friend vouchers issued; ``shares``: share links
  made; ``claim_seconds``/``claims_timed``: the sum and count of scan→claim seconds known.
- ``redemptions``: redemptions not reversed; ``friend_redemptions``: those of friend vouchers;
  ``redeemed_value_fen``: the face value they redeemed; ``redeem_seconds``/``redemptions_timed``: the sum
  and count of claim→redeem seconds known.
- ``payouts_fen``: ledger credits to stores (face value reimbursed plus fee), ``rewards_fen``: credits to
  clerks (claim and redemption rewards), ``points``: referral bonus points to sharers — all net of any
  reversal or fraud void, attributed to the day and dimensions of the claim or redemption that earned them.
  What of it is held, payable or paid changes with holds and settlements: read that from the ledger.

``rollup_hours`` — the coarser hourly facts for hourly series and the hour × weekday heatmap: local day,
``hour`` (0–23) and ISO ``weekday`` (1 = Monday) × campaign × batch × product × province, with ``scans``,
``first_scans``, ``consumers`` (distinct within that hour's row only), ``claims``, ``friend_vouchers``,
``redemptions``, ``payouts_fen`` and ``rewards_fen`` defined as above.

``rollup_pending`` — local days owed a recomputation (by new events the refresh job found, an alert
created or decided, or a rebuild request); ``job_cursors`` — how far the refresh job (and each alert rule)
has read each source table (the highest id it has turned into pending days).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Index, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, utcnow

DAY_DIMENSIONS = (
    "campaign_id",
    "batch_id",
    "product_id",
    "distributor",
    "province",
    "city",
    "store_id",
    "clerk_id",
)
DAY_MEASURES = (
    "scans",
    "scans_blocked",
    "first_scans",
    "consumers",
    "new_consumers",
    "diverted_scans",
    "alert_scans",
    "claims",
    "friend_vouchers",
    "shares",
    "claim_seconds",
    "claims_timed",
    "redemptions",
    "friend_redemptions",
    "redeemed_value_fen",
    "redeem_seconds",
    "redemptions_timed",
    "payouts_fen",
    "rewards_fen",
    "points",
)
HOUR_DIMENSIONS = ("campaign_id", "batch_id", "product_id", "province")
HOUR_MEASURES = (
    "scans",
    "first_scans",
    "consumers",
    "claims",
    "friend_vouchers",
    "redemptions",
    "payouts_fen",
    "rewards_fen",
)


def _count() -> Mapped[int]:
    return mapped_column(BigInteger, default=0)


class RollupDay(Base):
    """Daily facts at the full dimension grain (see the module docstring for every column)."""

    __tablename__ = "rollup_days"
    __table_args__ = (
        UniqueConstraint("day", *DAY_DIMENSIONS, name="uq_rollup_days_key"),
        Index("ix_rollup_days_campaign", "campaign_id", "day"),
        Index("ix_rollup_days_batch", "batch_id", "day"),
        Index("ix_rollup_days_product", "product_id", "day"),
        Index("ix_rollup_days_province", "province", "day"),
        Index("ix_rollup_days_store", "store_id", "day"),
        Index("ix_rollup_days_clerk", "clerk_id", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    campaign_id: Mapped[int] = mapped_column(default=0)
    batch_id: Mapped[int] = mapped_column(default=0)
    product_id: Mapped[int] = mapped_column(default=0)
    distributor: Mapped[str] = mapped_column(String(200), default="")
    province: Mapped[str] = mapped_column(String(80), default="")
    city: Mapped[str] = mapped_column(String(80), default="")
    store_id: Mapped[int] = mapped_column(default=0)
    clerk_id: Mapped[int] = mapped_column(default=0)
    scans: Mapped[int] = _count()
    scans_blocked: Mapped[int] = _count()
    first_scans: Mapped[int] = _count()
    consumers: Mapped[int] = _count()
    new_consumers: Mapped[int] = _count()
    diverted_scans: Mapped[int] = _count()
    alert_scans: Mapped[int] = _count()
    claims: Mapped[int] = _count()
    friend_vouchers: Mapped[int] = _count()
    shares: Mapped[int] = _count()
    claim_seconds: Mapped[int] = _count()
    claims_timed: Mapped[int] = _count()
    redemptions: Mapped[int] = _count()
    friend_redemptions: Mapped[int] = _count()
    redeemed_value_fen: Mapped[int] = _count()
    redeem_seconds: Mapped[int] = _count()
    redemptions_timed: Mapped[int] = _count()
    payouts_fen: Mapped[int] = _count()
    rewards_fen: Mapped[int] = _count()
    points: Mapped[int] = _count()


class RollupHour(Base):
    """Hourly facts at the coarse grain, for hourly series and the hour × weekday heatmap."""

    __tablename__ = "rollup_hours"
    __table_args__ = (
        UniqueConstraint("day", "hour", *HOUR_DIMENSIONS, name="uq_rollup_hours_key"),
        Index("ix_rollup_hours_campaign", "campaign_id", "day"),
        Index("ix_rollup_hours_batch", "batch_id", "day"),
        Index("ix_rollup_hours_product", "product_id", "day"),
        Index("ix_rollup_hours_province", "province", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    hour: Mapped[int] = mapped_column(SmallInteger)  # 0-23, local
    weekday: Mapped[int] = mapped_column(SmallInteger)  # ISO: 1 = Monday … 7 = Sunday
    campaign_id: Mapped[int] = mapped_column(default=0)
    batch_id: Mapped[int] = mapped_column(default=0)
    product_id: Mapped[int] = mapped_column(default=0)
    province: Mapped[str] = mapped_column(String(80), default="")
    scans: Mapped[int] = _count()
    first_scans: Mapped[int] = _count()
    consumers: Mapped[int] = _count()
    claims: Mapped[int] = _count()
    friend_vouchers: Mapped[int] = _count()
    redemptions: Mapped[int] = _count()
    payouts_fen: Mapped[int] = _count()
    rewards_fen: Mapped[int] = _count()


class RollupPending(Base):
    """A local day owed a recomputation; marking it again moves marked_at (the job keeps newer marks)."""

    __tablename__ = "rollup_pending"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    marked_at: Mapped[datetime] = mapped_column(default=utcnow)


class JobCursor(Base):
    """How far a batch job has read a source table: the rollup refresh ("rollups:scans", …) and each alert
    rule ("alerts:geo_velocity", …) go on from last_id (an id, or for forged_scans a Unix minute)."""

    __tablename__ = "job_cursors"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_id: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
