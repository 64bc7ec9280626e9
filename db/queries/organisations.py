"""SQL for organisations (operators and authorities). Values are always parameters."""

from __future__ import annotations

from db.queries.listing import Listing, Order

COLUMNS = "o.id, o.code, o.name, o.org_type, o.country, o.version, o.created_at, o.updated_at"
LISTING = Listing("organisations", "o", COLUMNS)

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
