"""the journey placed and timed, durable jobs and IP retention

Scans: coordinates, country code, the activated range and days since its activation, a salted hash
of the /24 or /48 network (kept when the raw address is dropped), and a 'failed' enrichment state
with its error. Vouchers: seconds from scan to claim. Redemptions: seconds from claim to redemption
and the store's province and city. Exports: the lease and attempts of the row-is-its-own-job
mechanism (server/jobs.py), which replaces the never-used outbox table.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

GEO_STATUS_OLD = "geo_status IN ('pending', 'done', 'unknown')"
GEO_STATUS_NEW = "geo_status IN ('pending', 'done', 'unknown', 'failed')"
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("net_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("enrich_error", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("country_code", sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column("lat", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("lng", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("range_id", BIG_ID, nullable=True))
        batch_op.add_column(sa.Column("days_since_activation", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_scans_range_id_batch_ranges"), "batch_ranges", ["range_id"], ["id"]
        )
        batch_op.drop_constraint(batch_op.f("ck_scans_geo_status"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_scans_geo_status"), GEO_STATUS_NEW)
        batch_op.create_index(
            "ix_scans_net_hash_time",
            ["net_hash", "scanned_at"],
            unique=False,
            sqlite_where=sa.text("net_hash IS NOT NULL"),
            postgresql_where=sa.text("net_hash IS NOT NULL"),
        )
    with op.batch_alter_table("vouchers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scan_to_claim_s", sa.Integer(), nullable=True))
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_to_redeem_s", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("province", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("city", sa.String(length=80), nullable=True))
    with op.batch_alter_table("batch_exports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_pending")
    op.drop_table("outbox")
    canonical_places(op.get_bind())


def canonical_places(conn) -> None:
    """Existing places in the canonical names of server/regions.py: stores, Chinese scans (GeoLite wrote 上海,
    南京), codes' first cities and intended regions, so old and new rows compare equal."""
    import json

    from server.regions import regions

    found = regions()

    def place(province, city):
        region = found.province(province) if province else None
        town = found.city(city, region) if city else None
        return (region.name if region else province), (town.name if town else city)

    for row in conn.execute(sa.text("SELECT id, province, city FROM stores")).all():
        new = place(row.province, row.city)
        if new != (row.province, row.city):
            conn.execute(sa.text("UPDATE stores SET province = :p, city = :c WHERE id = :id"),
                         {"p": new[0], "c": new[1], "id": row.id})  # fmt: skip
    same = "IS NOT DISTINCT FROM" if conn.dialect.name == "postgresql" else "IS"
    pairs = conn.execute(sa.text("SELECT DISTINCT province, city FROM scans WHERE country = '中国'")).all()
    for province, city in pairs:
        new = place(province, city)
        if new != (province, city):
            conn.execute(
                sa.text(f"UPDATE scans SET province = :p, city = :c WHERE country = '中国' "
                        f"AND province {same} :op AND city {same} :oc"),
                {"p": new[0], "c": new[1], "op": province, "oc": city},
            )  # fmt: skip
    for (city,) in conn.execute(
        sa.text("SELECT DISTINCT first_city FROM codes WHERE first_city IS NOT NULL")
    ):
        town = found.city(city)
        if town is not None and town.name != city:
            conn.execute(sa.text("UPDATE codes SET first_city = :new WHERE first_city = :old"),
                         {"new": town.name, "old": city})  # fmt: skip
    for row in conn.execute(sa.text("SELECT id, regions FROM batch_ranges")).all():
        names = row.regions if isinstance(row.regions, list) else json.loads(row.regions or "[]")
        new = [found.resolve(n).name if found.resolve(n) else n for n in names]
        if new != names:
            value = "CAST(:r AS json)" if conn.dialect.name == "postgresql" else ":r"
            conn.execute(sa.text(f"UPDATE batch_ranges SET regions = {value} WHERE id = :id"),
                         {"r": json.dumps(new, ensure_ascii=False), "id": row.id})  # fmt: skip


def downgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("job", sa.String(length=120), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_pending", ["done_at", "created_at"], unique=False)
    with op.batch_alter_table("batch_exports", schema=None) as batch_op:
        batch_op.drop_column("lease_until")
        batch_op.drop_column("attempts")
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.drop_column("city")
        batch_op.drop_column("province")
        batch_op.drop_column("claim_to_redeem_s")
    with op.batch_alter_table("vouchers", schema=None) as batch_op:
        batch_op.drop_column("scan_to_claim_s")
    op.execute("UPDATE scans SET geo_status = 'unknown' WHERE geo_status = 'failed'")
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_scans_net_hash_time",
            sqlite_where=sa.text("net_hash IS NOT NULL"),
            postgresql_where=sa.text("net_hash IS NOT NULL"),
        )
        batch_op.drop_constraint(batch_op.f("ck_scans_geo_status"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_scans_geo_status"), GEO_STATUS_OLD)
        batch_op.drop_constraint(batch_op.f("fk_scans_range_id_batch_ranges"), type_="foreignkey")
        for name in ("days_since_activation", "range_id", "lng", "lat", "country_code", "enrich_error"):
            batch_op.drop_column(name)
        batch_op.drop_column("net_hash")
