"""The database schema reference (docs/schema.md), rendered from the table definitions so that it cannot drift."""

from __future__ import annotations

import sqlalchemy as sa

from .models import METADATA, LibraryModel

HEADER = """# Database schema reference

Generated from numbersearch's table definitions (`numbersearch/models.py`) by
`python -m numbersearch.schemadoc > docs/schema.md`; a test fails when this file and the tables disagree.
The schema is the same on SQLite and PostgreSQL (JSON columns are JSONB on PostgreSQL) and is versioned
with Alembic: `numbersearch db status` says where a database stands, `numbersearch db upgrade` migrates it.
Times are UTC.
"""


def _type_name(column: sa.Column[object]) -> str:
    kind = column.type
    name = type(kind).__name__
    if isinstance(kind, sa.types.TypeDecorator):
        name = type(kind.impl_instance).__name__ if hasattr(kind, "impl_instance") else type(kind.impl).__name__
    length = getattr(column.type, "length", None)
    return f"{name}({length})" if length else name


def _table_models() -> dict[str, type[LibraryModel]]:
    """Table name → its SQLModel class (whose fields and docstrings describe it)."""
    found: dict[str, type[LibraryModel]] = {}
    pending = list(LibraryModel.__subclasses__())
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        table = getattr(model, "__table__", None)
        if isinstance(table, sa.Table) and table.name not in found:
            found[table.name] = model
    return found


def _description(model: type[LibraryModel] | None, column: sa.Column[object]) -> str:
    field = model.model_fields.get(column.name) if model is not None else None
    text = (field.description if field is not None else None) or column.comment or ""
    return " ".join(text.split())


def _table_doc(model: type[LibraryModel] | None) -> str:
    # The table class itself has no docstring: its base (`CountryBase`, …) says what a row is.
    for cls in getattr(model, "__mro__", ()):
        if cls.__doc__ and cls not in (LibraryModel,) and not cls.__module__.startswith(("sqlmodel", "pydantic")):
            return " ".join(cls.__doc__.split())
    return ""


def _column_row(model: type[LibraryModel] | None, column: sa.Column[object]) -> str:
    flags = []
    if column.primary_key:
        flags.append("primary key")
    if not column.nullable and not column.primary_key:
        flags.append("not null")
    if column.unique:
        flags.append("unique")
    return f"| `{column.name}` | {_type_name(column)} | {', '.join(flags)} | {_description(model, column)} |"


def _index_line(index: sa.Index) -> str:
    columns = ", ".join(f"`{c.name}`" for c in index.columns)
    where = index.dialect_options["postgresql"].get("where")
    condition = f" where `{where}`" if where is not None else ""
    return f"- `{index.name}`: {'unique ' if index.unique else ''}({columns}){condition}"


def _constraint_lines(table: sa.Table) -> list[str]:
    lines = []
    for constraint in sorted(table.constraints, key=lambda c: str(c.name)):
        if isinstance(constraint, sa.UniqueConstraint) and constraint.name:
            columns = ", ".join(f"`{c.name}`" for c in constraint.columns)
            lines.append(f"- `{constraint.name}`: unique ({columns})")
    return lines


def render_table(table: sa.Table) -> str:
    model = _table_models().get(table.name)
    doc = _table_doc(model)
    lines = [f"## `{table.name}`", ""]
    if doc:
        lines += [doc, ""]
    lines += ["| column | type | constraints | meaning |", "| --- | --- | --- | --- |"]
    lines += [_column_row(model, column) for column in table.columns]
    extras = [_index_line(index) for index in sorted(table.indexes, key=lambda i: str(i.name))]
    extras += _constraint_lines(table)
    if extras:
        lines += ["", "Indexes and constraints:", "", *extras]
    return "\n".join(lines)


def render_schema_reference() -> str:
    """The whole reference, one section per table in alphabetical order."""
    tables = [METADATA.tables[name] for name in sorted(METADATA.tables)]
    return "\n\n".join([HEADER.rstrip(), *(render_table(table) for table in tables)]) + "\n"


if __name__ == "__main__":
    print(render_schema_reference(), end="")
