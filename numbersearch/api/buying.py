"""The buying guide's handlers: prices, document types, readiness for the documents held, one country's guide."""

from __future__ import annotations

from typing import Any, Literal

from litestar import get
from litestar.params import Parameter
from litestar.types import ControllerRouterHandler
from pydantic import BaseModel

from ..documenttypes import read_document_types
from ..guide import country_guide, read_readiness
from ..models import DocumentTypePublic, PricePublic
from ..prices import read_prices
from ..readiness import Readiness
from .context import Context
from .errors import error_responses

_COUNTRY_HELP = "ISO 3166 alpha-2 code (or English name), any case. Repeat it or comma-separate several (ORed)"
_PRICE_TYPE_HELP = (
    "A number type in any spelling (toll_free, TollFree, toll-free, toll free, …), or a type Twilio prices that has "
    "no key of ours, as stored (short_code). Repeat it or comma-separate several (ORed)"
)
_TYPE_HELP = "A number type in any spelling (local, mobile, national, toll-free). Repeat it or comma-separate several"
_HAVE_HELP = (
    "The documents held, by machine name (passport), friendly name (Utility Bill) or the regulations' own name, "
    "any case; repeat it or comma-separate several. Required"
)


class PriceList(BaseModel):
    """Monthly prices by country and number type; prices are decimal strings (`"1.15"`), never floats."""

    prices: list[PricePublic]


class DocumentTypeEntry(DocumentTypePublic):
    """A supporting-document or end-user type, with which of the two it is."""

    kind: Literal["supporting_document", "end_user"]


class DocumentTypeList(BaseModel):
    document_types: list[DocumentTypeEntry]


class ReadinessList(BaseModel):
    """Per country and number type with business regulations: ready or not, and what is missing (design.md §10)."""

    readiness: list[Readiness]


@get("/prices", sync_to_thread=True, summary="Monthly number prices", tags=["buying guide"],
     responses=error_responses())
def list_prices(
    ctx: Context,
    country: list[str] | None = Parameter(default=None, description=_COUNTRY_HELP),
    number_type: list[str] | None = Parameter(default=None, description=_PRICE_TYPE_HELP),
) -> PriceList:
    return PriceList(prices=read_prices(country=country, number_type=number_type, engine=ctx.engine()))


@get("/document-types", sync_to_thread=True, summary="Supporting-document and end-user types",
     tags=["buying guide"], responses=error_responses())
def list_document_types(
    ctx: Context,
    kind: str | None = Parameter(default=None, description="supporting_document or end_user (default: both)"),
) -> DocumentTypeList:
    found = read_document_types(kind=kind, engine=ctx.engine())
    entries = [DocumentTypeEntry.model_validate(item.model_dump() | {"kind": name}) for name, item in found]
    return DocumentTypeList(document_types=entries)


@get(
    "/readiness",
    sync_to_thread=True,
    summary="Which numbers the documents held unlock",
    description="For every country and number type with business regulations: ready or not, the regulation met, "
    "else the requirements still missing with the documents that would meet each, and the end-user information "
    "to provide. An unknown document name is a 400 naming the close matches.",
    tags=["buying guide"],
    responses=error_responses(),
)
def get_readiness(
    ctx: Context,
    have: list[str] | None = Parameter(default=None, description=_HAVE_HELP),
    country: list[str] | None = Parameter(default=None, description=_COUNTRY_HELP),
    number_type: list[str] | None = Parameter(default=None, description=_TYPE_HELP),
) -> ReadinessList:
    # `have` is optional to the router so that its absence is our one-line 400, not a framework message.
    found = read_readiness(have=have, country=country, number_type=number_type, engine=ctx.engine())
    return ReadinessList(readiness=found)


@get("/countries/{code:str}/guide", sync_to_thread=True, summary="One country's buying guide",
     description="Each number type offered or priced, its monthly price, and its business regulations with every "
     "accepted document by its friendly name and the fields it needs.",
     tags=["buying guide"], responses=error_responses(404))
def get_country_guide(
    ctx: Context, code: str = Parameter(description="ISO 3166 alpha-2 code, any case")
) -> dict[str, Any]:
    guide: dict[str, Any] = country_guide(code, engine=ctx.engine())
    return guide


def buying_routes() -> list[ControllerRouterHandler]:
    """The buying guide's /api/v1 handlers."""
    return [list_prices, list_document_types, get_readiness, get_country_guide]
