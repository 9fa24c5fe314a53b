"""Alembic migrations of numbersearch's schema, shipped in the package (run through `numbersearch.schema`)."""
