"""Alembic's environment: migrate the connection `numbersearch.schema` hands over, never one of its own."""

from __future__ import annotations

from alembic import context

from numbersearch.models import METADATA

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run numbersearch's migrations with `numbersearch db upgrade`, not with the alembic command")

# render_as_batch: SQLite alters a table by copying it, which Alembic does only in batch mode.
context.configure(
    connection=connection,
    target_metadata=METADATA,
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
