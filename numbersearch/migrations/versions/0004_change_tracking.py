"""Change tracking: a content hash on every synced row (computed here for the rows already stored), the change
counts of each job, and `sync_changes`.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
NULLABLE_JSON = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
NUMBER_TYPES = ("local", "toll_free", "mobile", "national", "voip", "shared_cost", "machine_to_machine")

# Each synced table as this revision knows it: its key and its content columns (what the hash covers: every
# column but the times, the hash and the url, exactly as numbersearch.changes.content_columns says today).
SYNCED: dict[str, tuple[tuple[str, ...], list[sa.Column[Any]]]] = {
    "country_number_types": (
        ("country_code",),
        [
            sa.Column("country_code", sa.String()),
            sa.Column("country", sa.String()),
            sa.Column("beta", sa.Boolean()),
            *(sa.Column(name, sa.Boolean()) for name in NUMBER_TYPES),
        ],
    ),
    "regulations": (
        ("sid",),
        [
            sa.Column("sid", sa.String()),
            sa.Column("friendly_name", sa.String()),
            sa.Column("iso_country", sa.String()),
            sa.Column("number_type", sa.String()),
            sa.Column("end_user_type", sa.String()),
            sa.Column("requirements", JSON),
        ],
    ),
}


# The canonical JSON of numbersearch.changes.content_hash (sorted keys, no spaces, UTF-8), spelled out here so that
# this revision keeps hashing as it did when it was written.
CANONICAL = msgspec.json.Encoder(order="sorted", decimal_format="string")


def content_hash(row: dict[str, Any]) -> str:
    return hashlib.sha256(CANONICAL.encode(row)).hexdigest()


def _fill_hashes(name: str, key: tuple[str, ...], columns: list[sa.Column[Any]]) -> None:
    """Hash every stored row, so that the first sync after the upgrade records only real changes."""
    table = sa.table(name, *columns, sa.column("content_hash", sa.String()))
    conn = op.get_bind()
    rows = [dict(r) for r in conn.execute(sa.select(*(table.c[c.name] for c in columns))).mappings()]
    if not rows:
        return
    condition = sa.and_(*(table.c[k] == sa.bindparam(f"k_{k}") for k in key))
    update = sa.update(table).where(condition).values(content_hash=sa.bindparam("h"))
    conn.execute(update, [{f"k_{k}": row[k] for k in key} | {"h": content_hash(row)} for row in rows])


def upgrade() -> None:
    for name, (key, columns) in SYNCED.items():
        op.add_column(name, sa.Column("content_hash", sa.String(64), nullable=True))
        _fill_hashes(name, key, columns)
        with op.batch_alter_table(name) as batch:
            batch.alter_column("content_hash", existing_type=sa.String(64), nullable=False)
    op.add_column("sync_jobs", sa.Column("changes", JSON, nullable=True))
    op.execute(sa.text("UPDATE sync_jobs SET changes = '{}'"))
    with op.batch_alter_table("sync_jobs") as batch:
        batch.alter_column("changes", existing_type=JSON, nullable=False)
    op.create_table(
        "sync_changes",
        sa.Column("job_id", sa.String(36), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("resource", sa.String(40), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("country_code", sa.String(2), nullable=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("field", sa.String(), nullable=True),
        sa.Column("item", sa.String(), nullable=True),
        sa.Column("before", NULLABLE_JSON, nullable=True),
        sa.Column("after", NULLABLE_JSON, nullable=True),
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    )
    op.create_index("ix_sync_changes_recorded_at", "sync_changes", ["recorded_at"])
    op.create_index("ix_sync_changes_job_id", "sync_changes", ["job_id"])


def downgrade() -> None:
    op.drop_table("sync_changes")
    with op.batch_alter_table("sync_jobs") as batch:
        batch.drop_column("changes")
    for name in SYNCED:
        with op.batch_alter_table(name) as batch:
            batch.drop_column("content_hash")
