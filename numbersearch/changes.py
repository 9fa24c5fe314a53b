"""Change tracking: a content hash per synced row, field-level differs, and the change records a sync writes."""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec
import sqlalchemy as sa

from .models import isoformat_z

if TYPE_CHECKING:
    from .resources import Resource

Row = dict[str, Any]

# Columns that are never Twilio's content: the times of our writes, and the hash itself.
NOT_CONTENT = frozenset({"last_updated", "synced_at", "content_hash"})
# Where a row was read rather than what Twilio says: another host (a proxy, a sandbox on another port) is no change.
ADDRESS_COLUMNS = frozenset({"url"})
HASH_COLUMN = "content_hash"
KINDS = ("added", "removed", "changed")
INITIAL_LOAD = "initial_load"
# Keys that name an element of a list of objects (an end-user field, an accepted document, a requirement).
NAME_KEYS = ("machine_name", "requirement_name", "type", "sid")


@dataclass(frozen=True)
class Change:
    """What a differ finds in a changed row: the column or part of `requirements` (`field`), the element in it
    (`item`), and its old and new value; `before` None means the element was added, `after` None removed."""

    field: str
    item: str | None = None
    before: Any = None
    after: Any = None

    @property
    def kind(self) -> str:
        """What happened to the element itself: `added`, `removed` or `changed`."""
        return item_kind(self.before, self.after)


def item_kind(before: Any, after: Any) -> str:
    return "added" if before is None else "removed" if after is None else "changed"


Differ = Callable[[Row, Row], list[Change]]


# --- the content hash ---


def content_columns(table: sa.Table) -> list[str]:
    """The columns whose values are Twilio's content: everything but the times, the hash and the address."""
    return [c.name for c in table.columns if c.name not in NOT_CONTENT | ADDRESS_COLUMNS]


def address_columns(table: sa.Table) -> list[str]:
    return [c.name for c in table.columns if c.name in ADDRESS_COLUMNS]


_PLAIN = (str, int, float, bool, type(None))


def jsonable(value: Any) -> Any:
    """A value as change records and hashes hold it: exact decimals as plain strings, times as ISO with `Z`."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:  # exact types first: this walks every requirement of every changed row
        return {k if type(k) is str else str(k): jsonable(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f") if value.is_finite() else str(value)  # "1.00" as Twilio wrote it
    if isinstance(value, datetime):
        return isoformat_z(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _canonical_decimal(value: Decimal) -> str:
    # normalize() drops trailing zeros, so 1.1500 (PostgreSQL NUMERIC) and "1.15" (Twilio) hash as one price.
    return format(value.normalize(), "f") if value.is_finite() else str(value)


@functools.cache
def _normalizers(table: sa.Table, canonical: bool = True) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    """Per content column, how its value is made comparable: a decimal column may be handed a string, a boolean
    one an integer (SQLite); other values pass as they are (nested JSON is canonicalised by the encoder).
    Not `canonical`: as records show it, decimals keep their written scale and every value is plain JSON."""

    def plain(value: Any) -> Any:
        return value if canonical else jsonable(value)

    def decimal(value: Any) -> Any:
        if value is None:
            return None
        number = Decimal(str(value))
        return _canonical_decimal(number) if canonical else jsonable(number)

    def boolean(value: Any) -> Any:
        return None if value is None else bool(value)

    found = []
    for name in content_columns(table):
        kind = table.c[name].type
        python = getattr(kind, "impl", kind)
        if isinstance(python, sa.Numeric) and not isinstance(python, sa.Float):
            found.append((name, decimal))
        elif isinstance(python, sa.Boolean):
            found.append((name, boolean))
        else:
            found.append((name, plain))
    return tuple(found)


def _comparable(table: sa.Table, row: Mapping[str, Any]) -> Row:
    return {name: normalize(row.get(name)) for name, normalize in _normalizers(table)}


def content_of(table: sa.Table, row: Mapping[str, Any]) -> Row:
    """The row's content columns as plain JSON values (what the hash covers, and what differs and records see)."""
    return {name: normalize(row.get(name)) for name, normalize in _normalizers(table, False)}


# Canonical JSON (sorted keys, no spaces, UTF-8) in one C pass: it runs for every row of every sync.
_CANONICAL = msgspec.json.Encoder(order="sorted", decimal_format="string")


def content_hash(table: sa.Table, row: Mapping[str, Any]) -> str:
    """SHA-256 of the row's content as canonical JSON (sorted keys): equal content, equal hash, on any dialect."""
    return hashlib.sha256(_CANONICAL.encode(_comparable(table, row))).hexdigest()


def with_hash(table: sa.Table, rows: Iterable[Mapping[str, Any]]) -> list[Row]:
    """The rows with their `content_hash` (when the table keeps one)."""
    if HASH_COLUMN not in table.c:
        return [dict(row) for row in rows]
    return [{**row, HASH_COLUMN: content_hash(table, row)} for row in rows]


# --- differs: old and new content → what changed ---


def _name_of(element: Any) -> str | None:
    if isinstance(element, Mapping):
        for key in NAME_KEYS:
            if element.get(key) not in (None, ""):
                return str(element[key])
    return None


def _named(values: Any) -> dict[str, Any] | None:
    """A list of objects by their names, or None when it is not one (unnamed elements, or names repeated)."""
    if not isinstance(values, list) or not values:
        return None
    names = [_name_of(v) for v in values]
    if any(n is None for n in names) or len(set(names)) != len(names):
        return None
    return dict(zip(names, values, strict=True))  # type: ignore[arg-type]


def diff_named(field_name: str, old: Any, new: Any, context: Mapping[str, Any] | None = None) -> list[Change] | None:
    """Element by element when both are lists of named objects (`machine_name`, …); None when they are not."""
    before, after = _named(old) if old else {}, _named(new) if new else {}
    if before is None or after is None or not (before or after):
        return None
    extra = dict(context or {})
    changes = [Change(field_name, name, extra | before[name], None) for name in before if name not in after]
    changes += [Change(field_name, name, None, extra | after[name]) for name in after if name not in before]
    changes += [
        Change(field_name, name, extra | before[name], extra | after[name])
        for name in after
        if name in before and before[name] != after[name]
    ]
    return changes


def diff_columns(old: Row, new: Row) -> list[Change]:
    """The default differ: one change per content column that differs (lists of named objects element by element)."""
    changes: list[Change] = []
    for name in dict.fromkeys([*old, *new]):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        named = diff_named(name, before, after)
        changes += named if named else [Change(name, None, before, after)]
    return changes


def diff_regulation(old: Row, new: Row) -> list[Change]:
    """A regulation's columns, and its `requirements` down to each end-user field and accepted document."""
    plain = {k: v for k, v in old.items() if k != "requirements"}, {k: v for k, v in new.items() if k != "requirements"}
    return diff_columns(*plain) + diff_requirements(old.get("requirements") or {}, new.get("requirements") or {})


def diff_requirements(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """`requirements.end_user` by field, `requirements.supporting_document` by requirement and accepted document."""
    changes = _diff_end_user(old.get("end_user") or [], new.get("end_user") or [])
    changes += _diff_documents(old.get("supporting_document") or [], new.get("supporting_document") or [])
    for part in dict.fromkeys([*old, *new]):
        if part not in ("end_user", "supporting_document") and old.get(part) != new.get(part):
            changes.append(Change(f"requirements.{part}", None, old.get(part), new.get(part)))
    if not changes and old != new:
        # Only the order moved (or a shape no differ knows): still recorded, whole, so nothing passes unseen.
        for part in dict.fromkeys([*old, *new]):
            if old.get(part) != new.get(part):
                changes.append(Change(f"requirements.{part}", None, old.get(part), new.get(part)))
    return changes


def _entries(values: Any) -> dict[str, Mapping[str, Any]]:
    found: dict[str, Mapping[str, Any]] = {}
    for index, entry in enumerate(values if isinstance(values, list) else []):
        if isinstance(entry, Mapping):
            found.setdefault(str(entry.get("requirement_name") or entry.get("type") or f"#{index + 1}"), entry)
    return found


def _fields_of(entry: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """An end-user entry's fields by machine name, with their details when Twilio sent them."""
    detailed = {str(d["machine_name"]): dict(d) for d in entry.get("detailed_fields") or [] if d.get("machine_name")}
    names = [str(f) for f in entry.get("fields") or []] or list(detailed)
    return {name: detailed.get(name, {"machine_name": name}) for name in names}


def _attributes_changed(
    field_name: str, item: str, old: Mapping[str, Any], new: Mapping[str, Any], skip: set[str]
) -> list[Change]:
    keys = [k for k in dict.fromkeys([*old, *new]) if k not in skip and old.get(k) != new.get(k)]
    if not keys:
        return []
    return [Change(field_name, item, {k: old.get(k) for k in keys}, {k: new.get(k) for k in keys})]


def _diff_end_user(old: Any, new: Any) -> list[Change]:
    where = "requirements.end_user"
    before, after = _entries(old), _entries(new)
    changes = [Change(where, name, dict(before[name]), None) for name in before if name not in after]
    changes += [Change(where, name, None, dict(after[name])) for name in after if name not in before]
    for name in (n for n in after if n in before):
        changes += _attributes_changed(where, name, before[name], after[name], {"fields", "detailed_fields"})
        old_fields, new_fields = _fields_of(before[name]), _fields_of(after[name])
        context = {"requirement_name": name}
        changes += [
            Change(where, f, context | old_fields[f], None) for f in old_fields if f not in new_fields
        ]
        changes += [Change(where, f, None, context | new_fields[f]) for f in new_fields if f not in old_fields]
        changes += [
            Change(where, f, context | old_fields[f], context | new_fields[f])
            for f in new_fields
            if f in old_fields and old_fields[f] != new_fields[f]
        ]
    return changes


def _requirements_by_name(groups: Any) -> dict[str, tuple[int, Mapping[str, Any]]]:
    """Each supporting-document requirement by its requirement_name, with its document group (1-based)."""
    if isinstance(groups, list) and groups and all(isinstance(g, Mapping) for g in groups):
        groups = [groups]  # a flat list is one group
    found: dict[str, tuple[int, Mapping[str, Any]]] = {}
    for number, group in enumerate(groups if isinstance(groups, list) else [], start=1):
        for index, item in enumerate(group if isinstance(group, list) else []):
            if isinstance(item, Mapping):
                name = str(item.get("requirement_name") or item.get("name") or f"{number}.{index + 1}")
                found.setdefault(name, (number, item))
    return found


def _diff_documents(old: Any, new: Any) -> list[Change]:
    where = "requirements.supporting_document"
    before, after = _requirements_by_name(old), _requirements_by_name(new)
    changes = [Change(where, name, dict(before[name][1]), None) for name in before if name not in after]
    changes += [Change(where, name, None, dict(after[name][1])) for name in after if name not in before]
    for name in (n for n in after if n in before):
        (old_group, old_item), (new_group, new_item) = before[name], after[name]
        old_view, new_view = dict(old_item) | {"group": old_group}, dict(new_item) | {"group": new_group}
        changes += _attributes_changed(where, name, old_view, new_view, {"accepted_documents"})
        context = {"requirement_name": name, "requirement": new_item.get("name")}
        old_docs, new_docs = old_item.get("accepted_documents"), new_item.get("accepted_documents")
        documents = diff_named(f"{where}.accepted_documents", old_docs, new_docs, context)
        if documents is None and old_docs != new_docs:
            documents = [Change(f"{where}.accepted_documents", name, old_docs, new_docs)]
        changes += documents or []
    return changes


# --- tracking: who records, and the records ---


@dataclass
class Tracking:
    """How one table's writes record their changes: under which resource name and key, with which differ."""

    resource: str  # the `resource` of the records: `regulations`, or a table's name for a resource of several
    key: tuple[str, ...]  # the columns that name a row in its records (`sid`, `country_code`+`number_type`, …)
    diff: Differ = diff_columns
    job_id: str | None = None
    record: bool = True  # False: compare and hash only (a dependency stored for another resource's fan-out)
    # Whether the table was empty when the sync began (an initial load records no rows); None: look when writing.
    initial: bool | None = None
    country_columns: tuple[str, ...] = ("country_code", "iso_country")
    # What the writes found, by kind; added to from the worker threads that write the countries of one sync.
    counts: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, counts: Mapping[str, int]) -> None:
        with self._lock:
            self.counts = merge_counts(self.counts, counts)

    def key_of(self, row: Mapping[str, Any]) -> str:
        return "/".join(str(row.get(name)) for name in self.key)

    def country_of(self, row: Mapping[str, Any]) -> str | None:
        for name in self.country_columns:
            if row.get(name):
                return str(row[name])
        return None


def tracking_for(
    resource: Resource,
    table: sa.Table | None = None,
    key: Sequence[str] | None = None,
    *,
    several: bool = False,
    job_id: str | None = None,
    initial: bool | None = None,
) -> Tracking:
    """The tracking of one table `resource` writes (its own by default). A resource that writes `several` tables
    names its records by table (`supporting_document_types`, `end_user_types`), any other by its own name."""
    table = resource.table if table is None else table
    return Tracking(
        resource=table.name if several else resource.name,
        key=tuple(resource.change_key or key or resource.key),
        diff=resource.diff,
        job_id=job_id,
        initial=initial,
    )


def record_rows(
    tracking: Tracking, now: datetime, kind: str, old: Row | None, new: Row | None, changes: Sequence[Change] = ()
) -> list[Row]:
    """The `sync_changes` rows for one row added, removed or changed (one per change the differ found)."""
    row = new if new is not None else old
    assert row is not None
    base = {
        "job_id": tracking.job_id,
        "recorded_at": now,
        "resource": tracking.resource,
        "key": tracking.key_of(row),
        "country_code": tracking.country_of(row),
    }
    if kind != "changed":
        return [base | {"kind": kind, "field": None, "item": None, "before": old, "after": new}]
    return [
        base
        | {
            "kind": "changed",
            "field": c.field,
            "item": c.item,
            "before": jsonable(c.before),
            "after": jsonable(c.after),
        }
        for c in changes
    ]


def count_kinds(records: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Records by kind, every kind present (zeros too: `{}` means nothing was compared)."""
    counts = dict.fromkeys(KINDS, 0)
    for record in records:
        counts[record["kind"]] = counts.get(record["kind"], 0) + 1
    return counts


def merge_counts(total: dict[str, int], more: Mapping[str, int]) -> dict[str, int]:
    """Counts of two writes of one job added up."""
    return {k: total.get(k, 0) + more.get(k, 0) for k in dict.fromkeys([*total, *more])}


def has_changes(counts: Mapping[str, Any] | None) -> bool:
    """Whether a job's counts hold any change record (an initial load alone is none)."""
    return any(int((counts or {}).get(kind) or 0) > 0 for kind in KINDS)
