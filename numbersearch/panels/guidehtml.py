"""Pure HTML for the buying-guide panels: readiness for the documents held, and one country's guide."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..frames import canonical_type
from ..numbertypes import REGULATION_TYPES
from ..prices import price_type_label
from .html import esc, message_html, table_html

Answer = Mapping[str, Any]

READINESS_CSS = """<style>
.ns-table td.ns-ready{color:#1b7f3b;text-align:center;font-weight:bold}
.ns-table td.ns-missing{color:#b3261e;text-align:center}
.ns-table td.ns-none{color:#c9c9c9;text-align:center}
.ns-guide h4{margin:10px 0 2px 0}.ns-guide ul{margin:2px 0 6px 0}
</style>"""


def document_label(machine: str, kinds: Mapping[str, Mapping[str, Any]]) -> str:
    """A document by its type's friendly name (its machine name before document types are synced)."""
    return str((kinds.get(machine) or {}).get("friendly_name") or machine)


def missing_lines(answer: Answer, kinds: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """`Business Address: Utility Bill or Title Deed`, one per requirement still missing."""
    return [
        f"{item['name'] or item['requirement_name']}: "
        + (" or ".join(document_label(m, kinds) for m in item["accepted"]) or "no accepted document listed")
        for item in answer["missing"]
    ]


def readiness_summary_html(answers: Sequence[Answer], held: Iterable[str]) -> str:
    ready = sum(1 for a in answers if a["ready"])
    names = ", ".join(held)
    return (
        f"{READINESS_CSS}<p><b>Ready for {ready} of {len(answers)}</b> countries and number types with business "
        f'regulations <span class="ns-muted">holding {esc(names)}</span></p>'
    )


def readiness_matrix_html(answers: Sequence[Answer]) -> str:
    """Countries × the regulated number types: ✓ ready, ✗ (how many requirements missing), · no regulation."""
    kinds = list(REGULATION_TYPES.values())
    by_country: dict[str, dict[str, Answer]] = {}
    names: dict[str, str] = {}
    for answer in answers:
        by_country.setdefault(answer["country_code"], {})[answer["number_type"]] = answer
        names[answer["country_code"]] = answer["country"] or answer["country_code"]
    rows = []
    for code in sorted(by_country):
        cells = []
        for kind in kinds:
            found = by_country[code].get(kind)
            if found is None:
                cells.append('<td class="ns-none">·</td>')
            elif found["ready"]:
                cells.append(f'<td class="ns-ready" title="{esc(found["regulation_sid"])}">✓</td>')
            else:
                count = len(found["missing"])
                cells.append(f'<td class="ns-missing" title="{count} requirement(s) missing">✗ {count}</td>')
        rows.append(f"<tr><td>{esc(code)}</td><td>{esc(names[code])}</td>{''.join(cells)}</tr>")
    headers = ["Code", "Country", *(price_type_label(canonical_type(k)) for k in kinds)]
    return table_html(headers, rows, css_class="ns-readiness")


def missing_table_html(answers: Sequence[Answer], kinds: Mapping[str, Mapping[str, Any]]) -> str:
    """What is still missing for every country and type not ready yet, with the documents that would do."""
    rows = [
        f"<tr><td>{esc(a['country_code'])}</td><td>{esc(a['country'] or '')}</td>"
        f"<td>{esc(price_type_label(canonical_type(a['number_type'])))}</td>"
        f"<td>{'<br>'.join(esc(line) for line in missing_lines(a, kinds))}</td></tr>"
        for a in answers
        if not a["ready"]
    ]
    if not rows:
        return message_html("Nothing is missing: every country and number type is ready.")
    return "<b>Still missing for the rest</b> (any one listed document meets each requirement)" + table_html(
        ["Code", "Country", "Type", "Still missing"], rows, css_class="ns-missing-list"
    )


# --- one country's guide ---


def _money(price: str | None, unit: str | None) -> str:
    return "not priced" if price is None else f"{price} {unit or ''}".rstrip()


def _regulation_card(regulation: Mapping[str, Any]) -> str:
    fields = ", ".join(f["friendly_name"] for f in regulation["end_user_fields"]) or "none"
    items = []
    for requirement in regulation["requirements"]:
        options = [
            f"{esc(doc['friendly_name'])}" + (f' <span class="ns-muted">({esc(", ".join(doc["fields"]))})</span>'
                                              if doc["fields"] else "")
            for doc in requirement["accepted"]
        ]
        name = requirement["name"] or requirement["requirement_name"]
        items.append(f"<li><b>{esc(name)}</b>: {' or '.join(options) or 'no accepted document listed'}</li>")
    documents = f"<ul>{''.join(items)}</ul>" if items else '<div class="ns-muted">No supporting documents.</div>'
    return (
        f'<div class="ns-reg"><h4>{esc(regulation["friendly_name"])}</h4>'
        f'<div class="ns-muted"><code>{esc(regulation["sid"])}</code></div>'
        f"<div><b>Information to provide</b>: {esc(fields)}</div>"
        f"<div><b>Documents</b> (any one option meets each):</div>{documents}</div>"
    )


def country_guide_html(guide: Mapping[str, Any]) -> str:
    """The guide: each type with its monthly price and regulation count, then each regulation's documents."""
    flags = " · beta" if guide["beta"] else ""
    if not guide["listed"]:
        flags += " · not in Twilio's AvailablePhoneNumbers list"
    rows = [
        f"<tr><td>{esc(t['label'])}</td><td class=\"{'ns-yes' if t['offered'] else 'ns-no'}\">"
        f"{'✓' if t['offered'] else '·'}</td><td>{esc(_money(t['current_price'], t['price_unit']))}</td>"
        f"<td>{len(t['regulations'])}</td></tr>"
        for t in guide["number_types"]
    ]
    head = f'<h3 style="margin:4px 0">{esc(guide["country"])} ({esc(guide["country_code"])})</h3>'
    table = table_html(["Number type", "Numbers on Twilio", "Monthly price", "Business regulations"], rows,
                       scroll=False)
    cards = [
        f"<h4>{esc(t['label'])}</h4>" + "".join(_regulation_card(r) for r in t["regulations"])
        for t in guide["number_types"]
        if t["regulations"]
    ]
    muted = f'<div class="ns-muted">{esc(flags.strip(" ·"))}</div>'
    return f'<div class="ns-guide">{head}{muted}{table}{"".join(cards)}</div>'
