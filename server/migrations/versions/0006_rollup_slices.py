"""rollup_slices and rollup_hour_slices: rollup_days and rollup_hours summed per report grain (total, city,
store, clerk, distributor; the rankings also over all batches; hours over all batches) so that the dashboard
reads thousands of rows instead of millions; see server/models/slices.py

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
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
MEASURES = (
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


def upgrade() -> None:
    op.create_table(
        "rollup_slices",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("slice", sa.String(length=12), nullable=False),
        sa.Column("campaign_id", BIG_ID, nullable=False),
        sa.Column("batch_id", BIG_ID, nullable=False),
        sa.Column("product_id", BIG_ID, nullable=False),
        sa.Column("province", sa.String(length=80), nullable=False),
        sa.Column("slice_key", sa.String(length=200), nullable=False),
        *[sa.Column(m, sa.BigInteger(), nullable=False) for m in MEASURES],
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollup_slices")),
        sa.UniqueConstraint(
            "day",
            "slice",
            "campaign_id",
            "batch_id",
            "product_id",
            "province",
            "slice_key",
            name="uq_rollup_slices_key",
        ),
    )
    with op.batch_alter_table("rollup_slices", schema=None) as batch_op:
        batch_op.create_index("ix_rollup_slices_slice_day", ["slice", "day"], unique=False)
    op.create_table(
        "rollup_hour_slices",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("province", sa.String(length=80), nullable=False),
        *[sa.Column(m, sa.BigInteger(), nullable=False) for m in HOUR_MEASURES],
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollup_hour_slices")),
        sa.UniqueConstraint("day", "hour", "province", name="uq_rollup_hour_slices_key"),
    )
    with op.batch_alter_table("rollup_hour_slices", schema=None) as batch_op:
        batch_op.create_index("ix_rollup_hour_slices_day", ["day"], unique=False)
    _backfill()


def _backfill() -> None:
    """The slices of the days already rolled up (as server/services/rollups/slices.py derives them)."""
    sums = ", ".join(f"SUM({m})" for m in MEASURES)
    keys = {
        "": ("''", ""),
        "city": ("city", "WHERE city <> ''"),
        "store": ("CAST(store_id AS VARCHAR(200))", "WHERE store_id <> 0"),
        "clerk": ("CAST(clerk_id AS VARCHAR(200))", "WHERE clerk_id <> 0"),
        "distributor": ("distributor", "WHERE distributor <> ''"),
    }
    into = (
        "INSERT INTO rollup_slices (day, slice, campaign_id, batch_id, product_id, province, slice_key, "
        f"{', '.join(MEASURES)}) "
    )
    for name, (key, covers) in keys.items():
        by_key = f", {key}" if name else ""
        op.execute(
            into + f"SELECT day, '{name}', campaign_id, batch_id, product_id, province, {key}, {sums} "
            f"FROM rollup_days {covers} GROUP BY day, campaign_id, batch_id, product_id, province{by_key}"
        )
        if name in ("city", "store", "clerk"):
            op.execute(
                into + f"SELECT day, '{name}:all', 0, 0, 0, province, {key}, {sums} "
                f"FROM rollup_days {covers} GROUP BY day, province{by_key}"
            )
    hour_sums = ", ".join(f"SUM({m})" for m in HOUR_MEASURES)
    op.execute(
        f"INSERT INTO rollup_hour_slices (day, hour, weekday, province, {', '.join(HOUR_MEASURES)}) "
        f"SELECT day, hour, weekday, province, {hour_sums} FROM rollup_hours "
        "GROUP BY day, hour, weekday, province"
    )


def downgrade() -> None:
    with op.batch_alter_table("rollup_hour_slices", schema=None) as batch_op:
        batch_op.drop_index("ix_rollup_hour_slices_day")
    op.drop_table("rollup_hour_slices")
    with op.batch_alter_table("rollup_slices", schema=None) as batch_op:
        batch_op.drop_index("ix_rollup_slices_slice_day")
    op.drop_table("rollup_slices")
