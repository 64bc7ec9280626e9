"""Exports written whole to a temporary file before they are sent: GeoPackage and KML.

A GeoPackage is an SQLite database, which cannot be written front to back as a stream; so both
formats are written to a private temporary file from a server-side cursor, the connection is
given back once the file is complete, and only then is the file sent: no connection waits on a
slow client. The file is unlinked as soon as it is opened for sending (the open descriptor keeps
it readable), so nothing is left behind whatever becomes of the request; a failure while writing
removes it at once. A file growing past `max_bytes` stops the export with ExportTooLarge.

GeoPackage is written with Python's sqlite3 (api/services/geopackage.py), KML by PostgreSQL
(ST_AsKML and xmlelement per Placemark): neither needs GDAL in the service's image.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from api.services.exports import Access
from api.services.geopackage import GeoPackageWriter
from db.pool import ConnectionSource
from db.queries import file_exports as sql

FORMATS = ("gpkg", "kml")
KINDS = ("zones", "incidents")
MEDIA_TYPES = {
    "gpkg": "application/geopackage+sqlite3",
    "kml": "application/vnd.google-earth.kml+xml",
}
BATCH_ROWS = 1000
CHUNK_BYTES = 256 * 1024
KML_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2">'
    "<Document><name>{name}</name>\n"
)
KML_TAIL = "</Document></kml>\n"


class ExportTooLarge(Exception):
    """The export's file would be larger than the limit it was given."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"the file would be larger than {max_bytes} bytes")
        self.max_bytes = max_bytes


@dataclass(frozen=True)
class FileExport:
    """What to write: the kind, the format, the rows chosen (conditions over z or i), the order."""

    kind: str
    format: str
    conditions: list[str]
    params: list[object]
    access: Access
    order: str | None = None


async def write_file(
    source: ConnectionSource,
    export: FileExport,
    target: Path,
    *,
    max_bytes: int,
    on_rows: Callable[[int], None] | None = None,
) -> int:
    """Write `export` to `target` (a new file); return the records written.

    The connection is held while the rows are read and given back before this returns. The
    file is removed when writing fails, ExportTooLarge included.
    """
    layer = sql.layer(export.kind, restricted=export.access.restricted)
    try:
        if export.format == "gpkg":
            return await _write_gpkg(source, export, layer, target, max_bytes, on_rows)
        if export.format == "kml":
            return await _write_kml(source, export, layer, target, max_bytes, on_rows)
        raise ValueError(f"no file export format {export.format!r}")
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        raise


async def _rows(
    source: ConnectionSource, statement: str, params: list[object]
) -> AsyncGenerator[list[Any], None]:
    async with source.acquire() as conn, conn.transaction(readonly=True):
        cursor = await conn.cursor(statement, *params)
        while rows := await cursor.fetch(BATCH_ROWS):
            yield rows


async def _write_gpkg(
    source: ConnectionSource,
    export: FileExport,
    layer: sql.Layer,
    target: Path,
    max_bytes: int,
    on_rows: Callable[[int], None] | None,
) -> int:
    columns = [(field.name, field.gpkg_type) for field in layer.fields]
    writer = await asyncio.to_thread(
        GeoPackageWriter, target, layer.name, columns, layer.geometry_type
    )
    written = 0
    try:
        statement = sql.gpkg_rows(layer, export.conditions, export.order)
        async with contextlib.aclosing(_rows(source, statement, export.params)) as batches:
            async for rows in batches:
                features = [
                    (
                        bytes(r["wkb"]),
                        r["minx"],
                        r["maxx"],
                        r["miny"],
                        r["maxy"],
                        [r[f"f{n}"] for n in range(len(columns))],
                    )
                    for r in rows
                ]
                # SQLite's inserts are blocking file writes: off the event loop.
                await asyncio.to_thread(writer.write, features)
                written += len(rows)
                if on_rows is not None:
                    on_rows(len(rows))
                if target.stat().st_size > max_bytes:
                    raise ExportTooLarge(max_bytes)
    finally:
        await asyncio.to_thread(writer.close)
    if target.stat().st_size > max_bytes:
        raise ExportTooLarge(max_bytes)
    return written


async def _write_kml(
    source: ConnectionSource,
    export: FileExport,
    layer: sql.Layer,
    target: Path,
    max_bytes: int,
    on_rows: Callable[[int], None] | None,
) -> int:
    written = size = 0
    with target.open("wb") as out:

        def put(text: str) -> None:
            nonlocal size
            data = text.encode()
            size += len(data)
            if size > max_bytes:
                raise ExportTooLarge(max_bytes)
            out.write(data)

        put(KML_HEAD.format(name=layer.name))
        statement = sql.kml_placemarks(layer, export.conditions, export.order)
        async with contextlib.aclosing(_rows(source, statement, export.params)) as batches:
            async for rows in batches:
                text = "".join(row["line"] + "\n" for row in rows)
                await asyncio.to_thread(put, text)
                written += len(rows)
                if on_rows is not None:
                    on_rows(len(rows))
        put(KML_TAIL)
    return written


def temporary_path(suffix: str) -> Path:
    """A new empty file, readable by this user only, in the temporary directory (TMPDIR); SQLite
    takes an empty file for a new database."""
    handle, name = tempfile.mkstemp(prefix="mar-export-", suffix=suffix)
    os.close(handle)
    return Path(name)


def open_unlinked(path: Path) -> tuple[IO[bytes], int]:
    """Open a finished export for reading and remove its name at once; return it and its size."""
    handle = path.open("rb")
    try:
        size = os.fstat(handle.fileno()).st_size
    finally:
        path.unlink()
    return handle, size


async def chunks(handle: IO[bytes]) -> AsyncGenerator[bytes, None]:
    """The file's bytes in chunks, read off the event loop; closes it when done or abandoned."""
    try:
        while chunk := await asyncio.to_thread(handle.read, CHUNK_BYTES):
            yield chunk
    finally:
        handle.close()
