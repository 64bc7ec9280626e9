"""What the top-level lists and lookups share: one record by id or code, and a keyset page."""

from __future__ import annotations

from collections.abc import Callable
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


async def by_id_or_code(
    info: Info, id: strawberry.ID | None, code: str | None, by_id: str, by_code: str
) -> asyncpg.Record | None:
    """The row that `by_id` or `by_code` finds for whichever of id and code was given."""
    if (id is None) == (code is None):
        problems = Problems("")
        problems.add("id", "give exactly one of id and code")
        problems.raise_if_any()
    async with info.context.db.acquire() as conn:
        if id is not None:
            return await conn.fetchrow(by_id, parse_id(id, "id"))
        return await conn.fetchrow(by_code, code)


async def keyset_connection(
    info: Info,
    *,
    list_name: str,
    listing: Listing,
    order_name: str,
    order: Order,
    conditions: Callable[[Params], list[str]],
    build: Callable[[asyncpg.Record], NodeT],
    first: int | None,
    after: str | None,
) -> Connection[NodeT]:
    """A page of `listing` in `order` after the cursor `after`; the total only when asked.

    `conditions` adds the filter's conditions to a statement's parameters; cursors name the list
    and the order, so a cursor from another list or order is refused.
    """
    limit = page_size(first, info.context.settings.max_page_size)
    keyset = decode_cursor(after, list_name, order_name, order.kind) if after else None
    params = Params()
    sql = listing.page(conditions(params), params, order, keyset, limit + 1)
    async with info.context.db.acquire() as conn:
        rows = await conn.fetch(sql, *params.values)

    async def count_total() -> int:
        count_params = Params()
        count_sql = listing.count(conditions(count_params))
        async with info.context.db.acquire() as conn:
            return int(await conn.fetchval(count_sql, *count_params.values))

    return connection(
        [build(r) for r in rows],
        lambda i: encode_cursor(list_name, order_name, rows[i][order.column], rows[i]["id"]),
        limit=limit,
        has_previous=after is not None,
        count_total=count_total,
    )
