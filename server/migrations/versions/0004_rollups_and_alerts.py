"""rollups, alert decisions and forged-scan counts

The unused `rollups` table gives way to daily facts at the full dimension grain (rollup_days), coarser
hourly facts (rollup_hours) and the days owed a recomputation (rollup_pending); job_cursors keeps how far
the rollup refresh and each alert rule have read; see server/models/rollups.py. Alerts get one status
vocabulary, open / confirmed / dismissed (a 'released' alert becomes 'dismissed', a 'voided' one
'confirmed'; the holds keep their own outcome), the distributor a diversion is charged to, the last time
evidence was added and the admin's note; alert_codes and alert_vouchers name what an alert is about;
staff_sightings keeps the devices and networks staff signed in from; forged_scans counts forged-code
attempts per minute and network without a row per attempt.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
STATUS_OLD = "status IN ('open', 'released', 'voided')"
STATUS_NEW = "status IN ('open', 'confirmed', 'dismissed')"


def upgrade() -> None:
    op.create_table(
        "forged_scans",
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scope", sa.String(length=3), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("redis_count", BIG_ID, nullable=False),
        sa.Column("memory_count", BIG_ID, nullable=False),
        sa.CheckConstraint("scope IN ('ip', 'net', 'all')", name=op.f("ck_forged_scans_scope")),
        sa.PrimaryKeyConstraint("minute", "scope", "key", name=op.f("pk_forged_scans")),
    )
    with op.batch_alter_table("forged_scans", schema=None) as batch_op:
        batch_op.create_index("ix_forged_scans_scope_minute", ["scope", "minute"], unique=False)

    op.create_table(
        "job_cursors",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("last_id", BIG_ID, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_cursors")),
    )
    op.create_table(
        "rollup_days",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("campaign_id", BIG_ID, nullable=False),
        sa.Column("batch_id", BIG_ID, nullable=False),
        sa.Column("product_id", BIG_ID, nullable=False),
        sa.Column("distributor", sa.String(length=200), nullable=False),
        sa.Column("province", sa.String(length=80), nullable=False),
        sa.Column("city", sa.String(length=80), nullable=False),
        sa.Column("store_id", BIG_ID, nullable=False),
        sa.Column("clerk_id", BIG_ID, nullable=False),
        sa.Column("scans", sa.BigInteger(), nullable=False),
        sa.Column("scans_blocked", sa.BigInteger(), nullable=False),
        sa.Column("first_scans", sa.BigInteger(), nullable=False),
        sa.Column("consumers", sa.BigInteger(), nullable=False),
        sa.Column("new_consumers", sa.BigInteger(), nullable=False),
        sa.Column("diverted_scans", sa.BigInteger(), nullable=False),
        sa.Column("alert_scans", sa.BigInteger(), nullable=False),
        sa.Column("claims", sa.BigInteger(), nullable=False),
        sa.Column("friend_vouchers", sa.BigInteger(), nullable=False),
        sa.Column("shares", sa.BigInteger(), nullable=False),
        sa.Column("claim_seconds", sa.BigInteger(), nullable=False),
        sa.Column("claims_timed", sa.BigInteger(), nullable=False),
        sa.Column("redemptions", sa.BigInteger(), nullable=False),
        sa.Column("friend_redemptions", sa.BigInteger(), nullable=False),
        sa.Column("redeemed_value_fen", sa.BigInteger(), nullable=False),
        sa.Column("redeem_seconds", sa.BigInteger(), nullable=False),
        sa.Column("redemptions_timed", sa.BigInteger(), nullable=False),
        sa.Column("payouts_fen", sa.BigInteger(), nullable=False),
        sa.Column("rewards_fen", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollup_days")),
        sa.UniqueConstraint(
            "day",
            "campaign_id",
            "batch_id",
            "product_id",
            "distributor",
            "province",
            "city",
            "store_id",
            "clerk_id",
            name="uq_rollup_days_key",
        ),
    )
    with op.batch_alter_table("rollup_days", schema=None) as batch_op:
        batch_op.create_index("ix_rollup_days_batch", ["batch_id", "day"], unique=False)
        batch_op.create_index("ix_rollup_days_campaign", ["campaign_id", "day"], unique=False)
        batch_op.create_index("ix_rollup_days_clerk", ["clerk_id", "day"], unique=False)
        batch_op.create_index("ix_rollup_days_product", ["product_id", "day"], unique=False)
        batch_op.create_index("ix_rollup_days_province", ["province", "day"], unique=False)
        batch_op.create_index("ix_rollup_days_store", ["store_id", "day"], unique=False)

    op.create_table(
        "rollup_hours",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("campaign_id", BIG_ID, nullable=False),
        sa.Column("batch_id", BIG_ID, nullable=False),
        sa.Column("product_id", BIG_ID, nullable=False),
        sa.Column("province", sa.String(length=80), nullable=False),
        sa.Column("scans", sa.BigInteger(), nullable=False),
        sa.Column("first_scans", sa.BigInteger(), nullable=False),
        sa.Column("consumers", sa.BigInteger(), nullable=False),
        sa.Column("claims", sa.BigInteger(), nullable=False),
        sa.Column("friend_vouchers", sa.BigInteger(), nullable=False),
        sa.Column("redemptions", sa.BigInteger(), nullable=False),
        sa.Column("payouts_fen", sa.BigInteger(), nullable=False),
        sa.Column("rewards_fen", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollup_hours")),
        sa.UniqueConstraint(
            "day", "hour", "campaign_id", "batch_id", "product_id", "province", name="uq_rollup_hours_key"
        ),
    )
    with op.batch_alter_table("rollup_hours", schema=None) as batch_op:
        batch_op.create_index("ix_rollup_hours_batch", ["batch_id", "day"], unique=False)
        batch_op.create_index("ix_rollup_hours_campaign", ["campaign_id", "day"], unique=False)
        batch_op.create_index("ix_rollup_hours_product", ["product_id", "day"], unique=False)
        batch_op.create_index("ix_rollup_hours_province", ["province", "day"], unique=False)

    op.create_table(
        "rollup_pending",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_rollup_pending")),
    )
    op.create_table(
        "staff_sightings",
        sa.Column("user_id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(length=6), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('net', 'device')", name=op.f("ck_staff_sightings_kind")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_staff_sightings_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", "kind", "value", name=op.f("pk_staff_sightings")),
    )
    with op.batch_alter_table("staff_sightings", schema=None) as batch_op:
        batch_op.create_index("ix_staff_sightings_value", ["kind", "value"], unique=False)

    op.create_table(
        "alert_codes",
        sa.Column("alert_id", BIG_ID, nullable=False),
        sa.Column("code_id", BIG_ID, nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name=op.f("fk_alert_codes_alert_id_alerts")),
        sa.ForeignKeyConstraint(["code_id"], ["codes.id"], name=op.f("fk_alert_codes_code_id_codes")),
        sa.PrimaryKeyConstraint("alert_id", "code_id", name=op.f("pk_alert_codes")),
    )
    with op.batch_alter_table("alert_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_codes_code_id"), ["code_id"], unique=False)

    op.create_table(
        "alert_vouchers",
        sa.Column("alert_id", BIG_ID, nullable=False),
        sa.Column("voucher_id", BIG_ID, nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name=op.f("fk_alert_vouchers_alert_id_alerts")),
        sa.ForeignKeyConstraint(
            ["voucher_id"], ["vouchers.id"], name=op.f("fk_alert_vouchers_voucher_id_vouchers")
        ),
        sa.PrimaryKeyConstraint("alert_id", "voucher_id", name=op.f("pk_alert_vouchers")),
    )
    with op.batch_alter_table("alert_vouchers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_vouchers_voucher_id"), ["voucher_id"], unique=False)

    op.drop_table("rollups")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("distributor", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("resolution_note", sa.String(length=500), nullable=True))
        batch_op.create_index("ix_alerts_kind", ["kind", "created_at"], unique=False)
        batch_op.drop_constraint(batch_op.f("ck_alerts_status"), type_="check")
    op.execute("UPDATE alerts SET status = 'dismissed' WHERE status = 'released'")
    op.execute("UPDATE alerts SET status = 'confirmed' WHERE status = 'voided'")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_check_constraint(batch_op.f("ck_alerts_status"), STATUS_NEW)


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_alerts_status"), type_="check")
    op.execute("UPDATE alerts SET status = 'released' WHERE status = 'dismissed'")
    op.execute("UPDATE alerts SET status = 'voided' WHERE status = 'confirmed'")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_check_constraint(batch_op.f("ck_alerts_status"), STATUS_OLD)
        batch_op.drop_index("ix_alerts_kind")
        batch_op.drop_column("resolution_note")
        batch_op.drop_column("updated_at")
        batch_op.drop_column("distributor")

    op.create_table(
        "rollups",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("metric", sa.String(length=30), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.Column("campaign_id", BIG_ID, nullable=False),
        sa.Column("batch_id", BIG_ID, nullable=False),
        sa.Column("store_id", BIG_ID, nullable=False),
        sa.Column("clerk_id", BIG_ID, nullable=False),
        sa.Column("province", sa.String(length=80), nullable=False),
        sa.Column("city", sa.String(length=80), nullable=False),
        sa.Column("value", BIG_ID, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollups")),
        sa.UniqueConstraint(
            "metric",
            "day",
            "hour",
            "campaign_id",
            "batch_id",
            "store_id",
            "clerk_id",
            "province",
            "city",
            name=op.f("uq_rollups_metric_day_hour_campaign_id_batch_id_store_id_clerk_id_province_city"),
        ),
    )
    with op.batch_alter_table("alert_vouchers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_vouchers_voucher_id"))

    op.drop_table("alert_vouchers")
    with op.batch_alter_table("alert_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_codes_code_id"))

    op.drop_table("alert_codes")
    with op.batch_alter_table("staff_sightings", schema=None) as batch_op:
        batch_op.drop_index("ix_staff_sightings_value")

    op.drop_table("staff_sightings")
    op.drop_table("rollup_pending")
    with op.batch_alter_table("rollup_hours", schema=None) as batch_op:
        batch_op.drop_index("ix_rollup_hours_province")
        batch_op.drop_index("ix_rollup_hours_product")
        batch_op.drop_index("ix_rollup_hours_campaign")
        batch_op.drop_index("ix_rollup_hours_batch")

    op.drop_table("rollup_hours")
    with op.batch_alter_table("rollup_days", schema=None) as batch_op:
        batch_op.drop_index("ix_rollup_days_store")
        batch_op.drop_index("ix_rollup_days_province")
        batch_op.drop_index("ix_rollup_days_product")
        batch_op.drop_index("ix_rollup_days_clerk")
        batch_op.drop_index("ix_rollup_days_campaign")
        batch_op.drop_index("ix_rollup_days_batch")

    op.drop_table("rollup_days")
    op.drop_table("job_cursors")
    with op.batch_alter_table("forged_scans", schema=None) as batch_op:
        batch_op.drop_index("ix_forged_scans_scope_minute")

    op.drop_table("forged_scans")
