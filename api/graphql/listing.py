"""What the top-level lists and lookups share: one record by id or code, and a keyset page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import asyncpg
import strawberry

from api.errors import Problems
from api.graphql.context import Info
from api.graphql.ids import parse_id
from api.graphql.pagination import Connection, connection, decode_cursor, encode_cursor, page_size
from db.queries.listing import Listing, Order
from db.queries.sql import Params

NodeT = TypeVar("NodeT")


def lookup(id: strawberry.ID | None, code: str | None) -> tuple[str, int | str]:
    """Which column finds the record and its value: ("id", n) or ("code", text).

    Raises BadUserInput unless exactly one of id and code was given, or when the id is malformed.
    """
    if (id is None) == (code is None):
        problems = Problems("")
        problems.add("id", "give exactly one of id and code")
        problems.raise_if_any()
    if id is not None:
        return "id", parse_id(id, "id")
    assert code is not None
    return "code", code


async def by_id_or_code(
    info: Info, id: strawberry.ID | None, code: str | None, by_id: str, by_code: str
) -> asyncpg.Record | None:
    """The row that `by_id` or `by_code` finds for whichever of id and code was given."""
    column, value = lookup(id, code)
    async with info.context.db.acquire() as conn:
        return await conn.fetchrow(by_id if column == "id" else by_code, value)


@dataclass(frozen=True)
class ListQuery:
    """What a top-level list reads: its rows, in which order, and which of them.

    `conditions` adds the filter's conditions to a statement's parameters; cursors name the list
    and the order, so a cursor from another list or order is refused.
    """

    list_name: str
    listing: Listing
    order_name: str
    order: Order
    conditions: Callable[[Params], list[str]]

    def keyset(self, after: str | None) -> tuple[object, int] | None:
        """The (sort value, id) after which the page starts, or raise BadUserInput."""
        if not after:
            return None
        return decode_cursor(after, self.list_name, self.order_name, self.order.kind)

    def cursor(self, row: asyncpg.Record) -> str:
        """The cursor of a row read with the order's column and the id."""
        return encode_cursor(self.list_name, self.order_name, row[self.order.column], row["id"])

    def count(self, params: Params) -> str:
        """The statement counting every row the list holds."""
        return self.listing.count(self.conditions(params))


async def keyset_connection(
    info: Info,
    query: ListQuery,
    *,
    build: Callable[[asyncpg.Record], NodeT],
    first: int | None,
    after: str | None,
) -> Connection[NodeT]:
    """A page of `query`'s rows after the cursor `after`; the total only when asked."""
    limit = page_size(first, info.context.settings.max_page_size)
    keyset = query.keyset(after)
    params = Params()
    sql = query.listing.page(query.conditions(params), params, query.order, keyset, limit + 1)
    async with info.context.db.acquire() as conn:
        rows = await conn.fetch(sql, *params.values)

    async def count_total() -> int:
        count_params = Params()
        count_sql = query.count(count_params)
        async with info.context.db.acquire() as conn:
            return int(await conn.fetchval(count_sql, *count_params.values))

    return connection(
        [build(r) for r in rows],
        lambda i: query.cursor(rows[i]),
        limit=limit,
        has_previous=after is not None,
        count_total=count_total,
    )
