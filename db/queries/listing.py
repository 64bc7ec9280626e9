"""Statements every listed record type shares: keyset pages, counts, and versioned updates."""

from __future__ import annotations

from dataclasses import dataclass

from db.queries.sql import Params, where_clause


@dataclass(frozen=True)
class Order:
    """A sort order: a column, a direction, and the id as the tie-breaker in the same direction."""

    column: str
    descending: bool
    kind: str  # how a cursor carries the column's value: int, text, date, timestamptz, numeric


def _key_columns(order: Order) -> list[str]:
    """The columns of a keyset: the order's column and the id (just the id when ordered by it)."""
    return [order.column, "id"] if order.column != "id" else ["id"]


@dataclass(frozen=True)
class Listing:
    """One table read in keyset pages: `alias` qualifies `columns` and the conditions."""

    table: str
    alias: str
    columns: str

    def page(
        self,
        conditions: list[str],
        params: Params,
        order: Order,
        after: tuple[object, int] | None,
        limit: int,
    ) -> str:
        """Return the keyset page statement: rows after `after` in `order`, at most `limit`.

        `after` is the (column value, id) of the last row seen; the id breaks ties (and is the
        whole key when the order is by id).
        """
        a = self.alias
        columns = _key_columns(order)
        keys = ", ".join(f"{a}.{column}" for column in columns)
        keyset = list(conditions)
        if after is not None:
            op = "<" if order.descending else ">"
            values = ", ".join(params.add(v) for v in (after if len(columns) == 2 else after[1:]))
            keyset.append(f"({keys}) {op} ({values})")
        return (
            f"SELECT {self.columns} FROM {self.table} AS {a} {where_clause(keyset)} "
            f"ORDER BY {self.sorting(order)} LIMIT {params.add(limit)}"
        )

    def sorting(self, order: Order) -> str:
        """The ORDER BY list of `order`: its column, then the id, in its direction."""
        direction = " DESC" if order.descending else ""
        return ", ".join(f"{self.alias}.{column}{direction}" for column in _key_columns(order))

    def one(self, row_id: int, conditions: list[str], params: Params) -> str:
        """Return the statement reading the row `row_id` if it matches `conditions`."""
        where = where_clause([f"{self.alias}.id = {params.add(row_id)}", *conditions])
        return f"SELECT {self.columns} FROM {self.table} AS {self.alias} {where}"

    def count(self, conditions: list[str]) -> str:
        """Return the statement counting every row that matches `conditions`."""
        return f"SELECT count(*) FROM {self.table} AS {self.alias} {where_clause(conditions)}"

    def update(
        self, settable: dict[str, str], changes: dict[str, object], row_id: int, version: int
    ) -> tuple[str, list[object]]:
        """Return the statement that applies `changes` to the row if its version is still
        `version` (each a `settable` assignment with one {} placeholder).

        It answers the updated row, or no row when the row is gone or its version moved on.
        """
        params = Params()
        assignments = [
            settable[column].format(params.add(value)) for column, value in changes.items()
        ]
        # With nothing to change, still bump the version: the client asked for a write.
        assignments = assignments or ["version = version"]
        sql = f"""
WITH {self.alias} AS (
  UPDATE {self.table} SET {", ".join(assignments)}
  WHERE id = {params.add(row_id)} AND version = {params.add(version)}
  RETURNING *
)
SELECT {self.columns} FROM {self.alias}
"""
        return sql, params.values
