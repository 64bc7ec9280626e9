"""Relay connections with opaque keyset cursors (no OFFSET)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Generic, TypeVar

import strawberry

from api.errors import BadUserInput, FieldError, QueryTooComplex
from db.instants import checked_instant

NodeT = TypeVar("NodeT")


@strawberry.type(description="Where a page stands in its list.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[NodeT]):
    cursor: str
    node: NodeT


def _edges(root: Connection[NodeT]) -> list[Edge[NodeT]]:
    return [Edge(cursor=root.cursor_of(i), node=node) for i, node in enumerate(root.page)]


def _nodes(root: Connection[NodeT]) -> list[NodeT]:
    return list(root.page)


def _page_info(root: Connection[NodeT]) -> PageInfo:
    last = len(root.page) - 1
    return PageInfo(
        has_next_page=root.has_next,
        has_previous_page=root.has_previous,
        start_cursor=root.cursor_of(0) if root.page else None,
        end_cursor=root.cursor_of(last) if root.page else None,
    )


async def _total_count(root: Connection[NodeT]) -> int:
    return await root.count_total()


@strawberry.type
class Connection(Generic[NodeT]):
    """A page of a list; cursors are made only for the edges and page info a client asks for."""

    page: strawberry.Private[Sequence[NodeT]]
    cursor_of: strawberry.Private[Callable[[int], str]]
    has_next: strawberry.Private[bool]
    has_previous: strawberry.Private[bool]
    count_total: strawberry.Private[Callable[[], Awaitable[int]]]
    edges: list[Edge[NodeT]] = strawberry.field(resolver=_edges)
    page_info: PageInfo = strawberry.field(resolver=_page_info)
    nodes: list[NodeT] = strawberry.field(
        resolver=_nodes, description="The nodes of this page, without their cursors."
    )
    total_count: int = strawberry.field(
        resolver=_total_count,
        description="How many records match the filter; counted only when asked.",
    )


def page_size(first: int | None, maximum: int) -> int:
    """Return the page size asked for, refusing negatives and sizes over the limit."""
    size = 50 if first is None else first
    if size < 0:
        raise BadUserInput([FieldError("first", "must not be negative")])
    if size > maximum:
        raise QueryTooComplex(f"first must be at most {maximum}, not {size}")
    return size


def _encode_value(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


MAX_NUMERIC_EXPONENT = 30


def _decode_value(kind: str, raw: object) -> object:
    if kind == "int" and isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if kind == "text" and isinstance(raw, str):
        return raw
    if isinstance(raw, str):
        if kind == "date":
            return date.fromisoformat(raw)
        if kind == "timestamptz":
            parsed = datetime.fromisoformat(raw)
            if parsed.tzinfo is None:
                raise ValueError("naive timestamp")
            return checked_instant(parsed)
        if kind == "numeric":
            number = Decimal(raw)
            # The sort keys are areas (numeric(14, 2)): a forged NaN or 1e999999 is no cursor.
            if not number.is_finite() or abs(number.adjusted()) > MAX_NUMERIC_EXPONENT:
                raise ValueError("not a sort key")
            return number
    raise ValueError(f"not a {kind}")


def encode_cursor(list_name: str, order: str, value: object, record_id: int) -> str:
    """Return the opaque cursor of a row in a list sorted by `order`."""
    payload = json.dumps([list_name, order, _encode_value(value), record_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, list_name: str, order: str, kind: str) -> tuple[object, int]:
    """Return (sort value, id) from a cursor of this list and order, or raise BadUserInput."""
    bad = BadUserInput(
        [FieldError("after", f"is not a cursor of this {list_name} list in {order} order")]
    )
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise bad from None
    if not (isinstance(decoded, list) and len(decoded) == 4):
        raise bad
    name, cursor_order, value, record_id = decoded
    if name != list_name or cursor_order != order:
        raise bad
    if not isinstance(record_id, int) or isinstance(record_id, bool):
        raise bad
    try:
        return _decode_value(kind, value), record_id
    except (ValueError, InvalidOperation):
        raise bad from None


def connection(
    nodes: Sequence[NodeT],
    cursors: Sequence[str] | Callable[[int], str],
    *,
    limit: int,
    has_previous: bool,
    count_total: Callable[[], Awaitable[int]],
) -> Connection[NodeT]:
    """Build a connection from up to limit+1 fetched rows (the extra one says there is more).

    `cursors` is the cursor of each row, or a function of the row's index that makes it (so that
    no cursor is encoded unless the client asks for edges or page info).
    """
    cursor_of = cursors if callable(cursors) else cursors.__getitem__
    return Connection(
        page=nodes[:limit],
        cursor_of=cursor_of,
        has_next=len(nodes) > limit,
        has_previous=has_previous,
        count_total=count_total,
    )
