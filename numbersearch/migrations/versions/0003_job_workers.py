"""Jobs run by workers: the runner, its lease and the Twilio base URLs on every job; scheduled runs; sync_workers.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

NULLABLE_JSON = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("sync_jobs") as batch:
        batch.add_column(sa.Column("runner", sa.String(255), nullable=True))
        batch.add_column(sa.Column("source", NULLABLE_JSON, nullable=True))
        batch.add_column(sa.Column("lease_token", sa.String(36), nullable=True))
        batch.add_column(sa.Column("scheduled_for", sa.DateTime(), nullable=True))
        batch.create_index("uq_sync_jobs_scheduled", ["sync_type", "scheduled_for"], unique=True)
    op.create_table(
        "sync_workers",
        sa.Column("worker_id", sa.String(36), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=False),
        sa.Column("job_id", sa.String(36), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("sync_workers")
    with op.batch_alter_table("sync_jobs") as batch:
        batch.drop_index("uq_sync_jobs_scheduled")
        for column in ("scheduled_for", "lease_token", "source", "runner"):
            batch.drop_column(column)
