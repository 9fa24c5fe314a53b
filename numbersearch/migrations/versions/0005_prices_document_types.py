"""The buying guide's tables: `number_prices` (exact decimals), `supporting_document_types` and `end_user_types`,
each with the content hash of change tracking (revision 0004).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Spelled out rather than imported from the models: a revision must keep building the schema it made.
JSON = sa.JSON().with_variant(JSONB(), "postgresql")
# What models.ExactDecimal is on each dialect: NUMERIC on PostgreSQL, the decimal's text on SQLite.
EXACT = sa.Numeric().with_variant(sa.String(), "sqlite")
TYPE_TABLES = ("supporting_document_types", "end_user_types")


def upgrade() -> None:
    op.create_table(
        "number_prices",
        sa.Column("country_code", sa.String(2), primary_key=True),
        sa.Column("number_type", sa.String(40), primary_key=True),
        sa.Column("country", sa.String(), nullable=False),
        sa.Column("base_price", EXACT, nullable=False),
        sa.Column("current_price", EXACT, nullable=False),
        sa.Column("price_unit", sa.String(), nullable=False),
        sa.Column("last_updated", sa.DateTime(), nullable=False),
        sa.Column("synced_at", sa.DateTime(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
    )
    for table in TYPE_TABLES:
        op.create_table(
            table,
            sa.Column("sid", sa.String(34), primary_key=True),
            sa.Column("machine_name", sa.String(), nullable=False),
            sa.Column("friendly_name", sa.String(), nullable=False),
            sa.Column("fields", JSON, nullable=False),
            sa.Column("url", sa.String(), nullable=False),
            sa.Column("last_updated", sa.DateTime(), nullable=False),
            sa.Column("synced_at", sa.DateTime(), nullable=False),
            sa.Column("content_hash", sa.String(64), nullable=False),
        )
        op.create_index(f"uq_{table}_machine_name", table, ["machine_name"], unique=True)


def downgrade() -> None:
    for table in TYPE_TABLES:
        op.drop_index(f"uq_{table}_machine_name", table_name=table)
        op.drop_table(table)
    op.drop_table("number_prices")
