"""`synced_at` on every synced table: when a sync last wrote or confirmed the row.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SYNCED_TABLES = ("country_number_types", "regulations")


def upgrade() -> None:
    for table in SYNCED_TABLES:
        op.add_column(table, sa.Column("synced_at", sa.DateTime(), nullable=True))
        # Under 0.1 every sync rewrote last_updated, so it is exactly when the row was last synced.
        op.execute(sa.text(f"UPDATE {table} SET synced_at = last_updated"))
        with op.batch_alter_table(table) as batch:
            batch.alter_column("synced_at", existing_type=sa.DateTime(), nullable=False)


def downgrade() -> None:
    for table in SYNCED_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("synced_at")
