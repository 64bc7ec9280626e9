"""Exports shared by REST and the CLI: CSV (with HXL) and GeoJSON, streamed from a cursor.

PostgreSQL builds every line; Python only joins a batch of lines and hands it on, so memory
stays flat whatever the size of the export. The connection is borrowed for the stream only.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field

from db.pool import ConnectionSource
from db.queries import exports as export_sql

BATCH_ROWS = 1000
FIRST_BATCH_ROWS = 100
CSV_KINDS = ("zones", "incidents", "releases", "casualties")
GEOJSON_KINDS = ("zones", "incidents")
FORMATS = {"csv": CSV_KINDS, "geojson": GEOJSON_KINDS}
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "geojson": "application/geo+json"}


@dataclass(frozen=True)
class Access:
    """What the caller's role may read: incidents' description/source, casualties' names."""

    restricted: bool = False
    personal: bool = False


@dataclass(frozen=True)
class Export:
    """One export statement and the text around its lines."""

    sql: str
    params: list[object]
    head: bytes
    separator: bytes
    tail: bytes
    count_sql: str | None = None
    count_params: list[object] = field(default_factory=list)


def _csv_head(columns: list[export_sql.CsvColumn], hxl: bool) -> bytes:
    rows = [",".join(c.header for c in columns)]
    if hxl:
        rows.append(",".join(c.hxl for c in columns))
    return "".join(f"{row}\r\n" for row in rows).encode()


def csv_export(
    kind: str,
    conditions: list[str],
    params: list[object],
    *,
    order: str | None = None,
    hxl: bool,
    access: Access,
) -> Export:
    """The CSV export of `kind` (zones, incidents, releases, casualties) under `conditions`.

    `order` (an ORDER BY list) applies to zones and incidents; releases come by date, casualty
    counts by month and area.
    """
    if kind == "zones":
        sql, columns = export_sql.zones_csv(conditions, order or "z.id"), export_sql.ZONE_COLUMNS
        count_sql = export_sql.count(export_sql.ZONES_FROM, conditions)
    elif kind == "incidents":
        sql = export_sql.incidents_csv(conditions, order or "i.id", restricted=access.restricted)
        columns = export_sql.incident_csv_columns(restricted=access.restricted)
        count_sql = export_sql.count(export_sql.INCIDENTS_FROM, conditions)
    elif kind == "releases":
        sql, columns, count_sql = (
            export_sql.releases_csv(conditions),
            export_sql.RELEASE_COLUMNS,
            "",
        )
    elif kind == "casualties":
        sql, columns = export_sql.casualties_csv(conditions), export_sql.CASUALTY_COLUMNS
        count_sql = ""
    else:
        raise ValueError(f"no CSV export of {kind!r}")
    return Export(
        sql=sql,
        params=params,
        head=_csv_head(columns, hxl),
        separator=b"",
        tail=b"",
        count_sql=count_sql or None,
        count_params=params,
    )


def geojson_export(
    kind: str,
    conditions: list[str],
    params: list[object],
    *,
    order: str | None = None,
    access: Access,
) -> Export:
    """The GeoJSON FeatureCollection export of `kind` (zones, incidents) under `conditions`."""
    if kind == "zones":
        sql = export_sql.zones_geojson(conditions, order or "z.id")
        count_sql = export_sql.count(export_sql.ZONES_FROM, conditions)
    elif kind == "incidents":
        sql = export_sql.incidents_geojson(
            conditions, order or "i.id", restricted=access.restricted, personal=access.personal
        )
        count_sql = export_sql.count(export_sql.INCIDENTS_FROM, conditions)
    else:
        raise ValueError(f"no GeoJSON export of {kind!r}")
    return Export(
        sql=sql,
        params=params,
        head=b'{"type":"FeatureCollection","features":[\n',
        separator=b",\n",
        tail=b"\n]}\n",
        count_sql=count_sql,
        count_params=params,
    )


async def stream(
    source: ConnectionSource,
    export: Export,
    *,
    batch_rows: int = BATCH_ROWS,
    on_rows: Callable[[int], None] | None = None,
) -> AsyncGenerator[bytes, None]:
    """Yield the export in chunks: the head, one chunk per batch of rows, the tail.

    The rows come from a server-side cursor inside a read-only transaction; the connection is
    held from the head to the tail and given back as soon as the iterator is closed, however
    early (a client that disconnects closes it).
    """
    async with source.acquire() as conn, conn.transaction(readonly=True):
        cursor = await conn.cursor(export.sql, *export.params)
        yield export.head
        first = True
        # A small first batch: the client sees records early, the rest come in full batches.
        size = min(batch_rows, FIRST_BATCH_ROWS)
        while rows := await cursor.fetch(size):
            chunk = export.separator.join(row["line"].encode() for row in rows)
            yield chunk if first else export.separator + chunk
            first, size = False, batch_rows
            if on_rows is not None:
                on_rows(len(rows))
    if export.tail:
        yield export.tail


async def count(source: ConnectionSource, export: Export) -> int | None:
    """How many rows the export will write, when that is cheap to know (else None)."""
    if export.count_sql is None:
        return None
    async with source.acquire() as conn:
        total: int = await conn.fetchval(export.count_sql, *export.count_params)
    return total
