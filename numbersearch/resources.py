"""The synced resources, each declared once (in dlt's vocabulary): table and key, partition, fetch, transform, write."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from . import store
from .changes import Differ, diff_columns, diff_regulation
from .errors import InputError
from .models import COUNTRIES, DOCUMENT_TYPES, END_USER_TYPES, PRICES, REGULATIONS
from .transform import business_regulation_rows, country_rows, document_type_rows, price_rows

if TYPE_CHECKING:
    from .client import TwilioClient

WritePolicy = Literal["replace_whole", "replace_partition"]
SourceHost = Literal["api", "numbers", "pricing"]
Row = dict[str, Any]


@dataclass(frozen=True)
class Output:
    """One table a resource writes: its key and the pure transform of its share of the fetched payload."""

    table: sa.Table
    key: tuple[str, ...]
    transform: Callable[[Any], list[Row]]


@dataclass(frozen=True)
class Resource:
    """One synced resource. A whole resource is fetched in one go and replaces its table; a partitioned one is
    fetched per country (`partitions` lists them), and each country replaces its own rows in its own transaction."""

    name: str  # the sync type: `number_types`
    label: str  # for people: "Number types"
    table: sa.Table
    key: tuple[str, ...]
    write: WritePolicy
    transform: Callable[[Any], list[Row]]  # Twilio JSON (one fetch's answer) → rows; pure
    host: SourceHost  # which Twilio base URL it reads
    fetch: Callable[[TwilioClient], Awaitable[Any]] | None = None  # whole
    fetch_partition: Callable[[TwilioClient, str], Awaitable[Any]] | None = None
    partitions: Callable[[TwilioClient, Engine], Awaitable[list[str]]] | None = None
    partition_column: str | None = None
    sweep_orphans: bool = False  # after a complete run, delete the rows of partitions no longer listed
    depends_on: tuple[str, ...] = ()  # stored first (rows added, none removed) when `partitions` finds none
    empty_means: str = ""  # why an empty answer is refused, for the message
    # Change tracking (changes.py): what changed between a stored row's content and the new one (default: one
    # change per differing column, lists of named objects element by element), and the columns naming a row in
    # its change records when they are not `key` (a document type's `machine_name`).
    diff: Differ = diff_columns
    change_key: tuple[str, ...] = ()
    # Further tables a whole resource replaces; its `fetch` then answers one payload per table, its own first.
    also: tuple[Output, ...] = ()
    counts: str = "countries"  # what a job's countries_total counts, for people

    @property
    def outputs(self) -> tuple[Output, ...]:
        """Every table this resource writes, its own first."""
        return (Output(self.table, self.key, self.transform), *self.also)

    @property
    def slug(self) -> str:
        """How users and URLs spell it: `number-types`."""
        return self.name.replace("_", "-")

    @property
    def partitioned(self) -> bool:
        return self.write == "replace_partition"


# --- number types: the AvailablePhoneNumbers country list, whole ---


async def fetch_countries(twilio: TwilioClient) -> list[dict[str, Any]]:
    return await twilio.list_countries()


# --- regulations: business regulations, per stored country ---


async def fetch_country_regulations(twilio: TwilioClient, country_code: str) -> list[dict[str, Any]]:
    """Every page of one country's business regulations (the country is complete only with all of them)."""
    regulations: list[dict[str, Any]] = []
    async for page in twilio.iter_regulation_pages(
        iso_country=country_code, end_user_type="business", include_constraints=True, page_size=1000
    ):
        regulations.extend(page)
    return regulations


async def stored_countries(_twilio: TwilioClient, engine: Engine) -> list[str]:
    """The stored countries, those with the most regulations first so long multi-page countries start early."""
    return await asyncio.to_thread(
        store.partitions_by_size, engine, COUNTRIES, "country_code", REGULATIONS, "iso_country"
    )


NUMBER_TYPES_SYNC = Resource(
    name="number_types",
    label="Number types",
    table=COUNTRIES,
    key=("country_code",),
    write="replace_whole",
    transform=country_rows,
    host="api",
    fetch=fetch_countries,
    empty_means="Twilio listed no countries",
)

REGULATIONS_SYNC = Resource(
    name="regulations",
    label="Regulations",
    table=REGULATIONS,
    key=("sid",),
    write="replace_partition",
    transform=business_regulation_rows,
    host="numbers",
    fetch_partition=fetch_country_regulations,
    partitions=stored_countries,
    partition_column="iso_country",
    sweep_orphans=True,
    depends_on=("number_types",),
    empty_means="Twilio listed no countries, so there are no regulations to sync",
    diff=diff_regulation,
)



# --- prices: Pricing v1, per country of Pricing's own list ---


async def priced_countries(twilio: TwilioClient, _engine: Engine) -> list[str]:
    """Pricing's own paged country list: some countries are priced but sell no numbers, and the other way round."""
    return [str(c["iso_country"]).upper() for c in await twilio.list_price_countries() if c.get("iso_country")]


async def fetch_country_prices(twilio: TwilioClient, country_code: str) -> dict[str, Any]:
    return await twilio.fetch_price_country(country_code)


PRICES_SYNC = Resource(
    name="prices",
    label="Prices",
    table=PRICES,
    key=("country_code", "number_type"),
    write="replace_partition",
    transform=price_rows,
    host="pricing",
    fetch_partition=fetch_country_prices,
    partitions=priced_countries,
    partition_column="country_code",
    sweep_orphans=True,
    empty_means="Twilio's Pricing listed no countries",
)


# --- document types: supporting-document and end-user types, whole, into two tables ---


async def fetch_document_types(twilio: TwilioClient) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(supporting document types, end-user types), both lists read at once."""
    documents, end_users = await asyncio.gather(twilio.list_supporting_document_types(), twilio.list_end_user_types())
    return documents, end_users


DOCUMENT_TYPES_SYNC = Resource(
    name="document_types",
    label="Document types",
    table=DOCUMENT_TYPES,
    key=("sid",),
    write="replace_whole",
    transform=document_type_rows,
    host="numbers",
    fetch=fetch_document_types,
    empty_means="Twilio listed no supporting document or end-user types",
    counts="types",
    change_key=("machine_name",),
    also=(Output(END_USER_TYPES, ("sid",), document_type_rows),),
)

# Declaration order is the order of `sync all` (dependencies always come first; see sync_order).
RESOURCES: dict[str, Resource] = {
    r.name: r for r in (NUMBER_TYPES_SYNC, REGULATIONS_SYNC, PRICES_SYNC, DOCUMENT_TYPES_SYNC)
}


def resource_names() -> list[str]:
    return list(RESOURCES)


def resolve_resource(value: str | Resource) -> Resource:
    """A resource by name in any spelling (`number-types`, `number_types`, `Number Types`), else InputError."""
    if isinstance(value, Resource):
        return value
    name = re.sub(r"[\s_\-]+", "_", (value or "").strip().lower())
    if name not in RESOURCES:
        choices = ", ".join(r.slug for r in RESOURCES.values())
        raise InputError(f"unknown resource {value!r}: use one of {choices}")
    return RESOURCES[name]


def sync_order(names: Iterable[str] | None = None) -> list[Resource]:
    """The resources to run, each after what it depends on (all of them when `names` is None)."""
    wanted = [resolve_resource(n) for n in names] if names is not None else list(RESOURCES.values())
    ordered: list[Resource] = []

    def visit(resource: Resource) -> None:
        for dependency in resource.depends_on:
            if RESOURCES[dependency] in wanted:
                visit(RESOURCES[dependency])
        if resource not in ordered:
            ordered.append(resource)

    for resource in wanted:
        visit(resource)
    return ordered


def label_of(name: str) -> str:
    """The label of a resource by name (`Number types`); an unknown name as it is."""
    resource = RESOURCES.get(str(name))
    return resource.label if resource is not None else str(name)
