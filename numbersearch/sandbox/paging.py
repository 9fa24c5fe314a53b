"""Product-API (`meta`) paging shared by every v1/v2 list the sandbox serves."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

from .numbers import InvalidParameter, parse_page_size

Row = TypeVar("Row")


def parse_page(params: Mapping[str, str]) -> int:
    """`Page`, a non-negative integer (0 when absent)."""
    raw = params.get("Page", "0")
    if not raw.isdigit():
        raise InvalidParameter(f"Page must be a non-negative integer, got {raw!r}")
    return int(raw)


def page_token(seed: int, path: str, filters: Sequence[tuple[str, str]], page_size: int, page: int) -> str | None:
    """The opaque token the sandbox issues for a page of one list; page 0 needs none."""
    if page == 0:
        return None
    # The path is part of the key so a token of one list is refused by another.
    key = f"{seed}|{path}|{list(filters)}|{page_size}|{page}"
    return "PA" + hashlib.sha256(key.encode()).hexdigest()[:32]


def meta_page(
    rows: Sequence[Row],
    params: Mapping[str, str],
    *,
    seed: int,
    origin: str,
    path: str,
    key: str,
    render: Callable[[Row], dict[str, Any]],
    filters: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """One page of `rows` as `{key: [...], "meta": {...}}`, with absolute links back to `origin`.

    Raises InvalidParameter for a bad PageSize/Page or a PageToken this list never issued.
    """
    page_size = parse_page_size(params)
    page = parse_page(params)
    token = params.get("PageToken")
    if token is not None and token != page_token(seed, path, filters, page_size, page):
        raise InvalidParameter(f"PageToken {token!r} is not valid for Page {page}")

    def link(number: int) -> str:
        query: list[tuple[str, Any]] = [*filters, ("PageSize", page_size), ("Page", number)]
        if number > 0:
            query.append(("PageToken", page_token(seed, path, filters, page_size, number)))
        return f"{origin}{path}?{urlencode(query)}"

    start = page * page_size
    meta = {
        "page": page,
        "page_size": page_size,
        "first_page_url": link(0),
        "previous_page_url": link(page - 1) if page > 0 else None,
        "url": link(page),
        "next_page_url": link(page + 1) if start + page_size < len(rows) else None,
        "key": key,
    }
    return {key: [render(row) for row in rows[start : start + page_size]], "meta": meta}
