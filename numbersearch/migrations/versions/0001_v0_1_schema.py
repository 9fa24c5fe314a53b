"""The 0.1 schema, exactly: country_number_types, regulations and sync_jobs.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Spelled out rather than imported from the models: this revision must stay the 0.1 schema forever.
JSON = sa.JSON().with_variant(JSONB(), "postgresql")
ACTIVE = sa.text("status IN ('pending', 'in_progress')")
NUMBER_TYPES = ("local", "toll_free", "mobile", "national", "voip", "shared_cost", "machine_to_machine")


def upgrade() -> None:
    op.create_table(
        "country_number_types",
        sa.Column("country_code", sa.String(2), primary_key=True),
        sa.Column("country", sa.String(), nullable=False),
        sa.Column("beta", sa.Boolean(), nullable=False),
        *(sa.Column(name, sa.Boolean(), nullable=False) for name in NUMBER_TYPES),
        sa.Column("last_updated", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "regulations",
        sa.Column("sid", sa.String(34), primary_key=True),
        sa.Column("friendly_name", sa.String(), nullable=False),
        sa.Column("iso_country", sa.String(2), nullable=False),
        sa.Column("number_type", sa.String(), nullable=False),
        sa.Column("end_user_type", sa.String(), nullable=False),
        sa.Column("requirements", JSON, nullable=False),
        sa.Column("url", sa.String(), nullable=False),
        sa.Column("last_updated", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_regulations_country_type", "regulations", ["iso_country", "number_type"])
    op.create_table(
        "sync_jobs",
        sa.Column("job_id", sa.String(36), primary_key=True),
        sa.Column("sync_type", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=True),
        sa.Column("countries_processed", sa.Integer(), nullable=False),
        sa.Column("countries_total", sa.Integer(), nullable=False),
        sa.Column("countries_failed", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("failures", JSON, nullable=False),
        sa.Column("rows_written", sa.Integer(), nullable=False),
        sa.Column("rows_removed", sa.Integer(), nullable=False),
    )
    op.create_index(
        "uq_sync_jobs_one_active", "sync_jobs", ["sync_type"], unique=True, sqlite_where=ACTIVE, postgresql_where=ACTIVE
    )
    op.create_index("ix_sync_jobs_created_at", "sync_jobs", ["created_at"])


def downgrade() -> None:
    op.drop_table("sync_jobs")
    op.drop_table("regulations")
    op.drop_table("country_number_types")
