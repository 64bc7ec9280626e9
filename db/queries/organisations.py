"""SQL for organisations (operators and authorities). Values are always parameters."""

from __future__ import annotations

from db.queries.sql import Params, where_clause
from db.queries.zones import Order

COLUMNS = "o.id, o.code, o.name, o.org_type, o.country, o.version, o.created_at, o.updated_at"

BY_ID = f"SELECT {COLUMNS} FROM organisations AS o WHERE o.id = $1"
BY_CODE = f"SELECT {COLUMNS} FROM organisations AS o WHERE o.code = $1"
BY_IDS = f"SELECT {COLUMNS} FROM organisations AS o WHERE o.id = ANY($1::bigint[])"
EXISTS = "SELECT EXISTS (SELECT 1 FROM organisations WHERE id = $1)"

INSERT = f"""
WITH o AS (
  INSERT INTO organisations (code, name, org_type, country)
  VALUES ($1, $2, $3, $4)
  RETURNING *
)
SELECT {COLUMNS} FROM o
"""


# Allow-list of the orders a list may ask for; the column names come only from here.
ORDERS: dict[str, Order] = {
    "CODE_ASC": Order("code", False, "text"),
    "CODE_DESC": Order("code", True, "text"),
    "NAME_ASC": Order("name", False, "text"),
}


def page(order: Order, after: tuple[object, int] | None, limit: int) -> tuple[str, list[object]]:
    """Return the keyset page statement and its values: rows after `after` in `order`."""
    params = Params()
    keyset: list[str] = []
    if after is not None:
        op = "<" if order.descending else ">"
        keyset.append(
            f"(o.{order.column}, o.id) {op} ({params.add(after[0])}, {params.add(after[1])})"
        )
    direction = "DESC" if order.descending else "ASC"
    sql = (
        f"SELECT {COLUMNS} FROM organisations AS o {where_clause(keyset)} "
        f"ORDER BY o.{order.column} {direction}, o.id {direction} LIMIT {params.add(limit)}"
    )
    return sql, params.values


COUNT = "SELECT count(*) FROM organisations"
