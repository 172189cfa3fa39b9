"""pending scans index: the scan row is its own enrichment outbox entry

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.create_index(
            "ix_scans_pending",
            ["id"],
            unique=False,
            sqlite_where=sa.text("geo_status = 'pending'"),
            postgresql_where=sa.text("geo_status = 'pending'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_scans_pending",
            sqlite_where=sa.text("geo_status = 'pending'"),
            postgresql_where=sa.text("geo_status = 'pending'"),
        )
