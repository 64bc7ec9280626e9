"""A GeoPackage (OGC 12-128r18, version 1.3) writer of one feature table, on Python's sqlite3.

A GeoPackage is an SQLite file with three metadata tables and a feature table whose geometries
are a small header followed by WKB; PostgreSQL hands us the WKB and the envelope of each row, so
writing one is a handful of statements (db/queries/geopackage.py). Python's own sqlite3 module
does it: no GDAL in the service's image, no subprocess per export.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from db.queries import geopackage as sql
from db.queries.geopackage import SRS_ID

# The GeoPackage `application_id` ("GPKG") and `user_version` (1.3.0) of the file header.
APPLICATION_ID = 0x47504B47
USER_VERSION = 10300
# Header flags: little-endian (bit 0) with an [minx, maxx, miny, maxy] envelope (bits 1-3 = 1).
_FLAGS = 0b0000_0011
_HEADER = struct.Struct("<2sBBi4d")


def geometry_blob(wkb: bytes, minx: float, maxx: float, miny: float, maxy: float) -> bytes:
    """A GeoPackage geometry: the binary header (magic, version 0, flags, SRS, envelope) + WKB."""
    return _HEADER.pack(b"GP", 0, _FLAGS, SRS_ID, minx, maxx, miny, maxy) + wkb


class GeoPackageWriter:
    """Writes one feature table `table` with `columns` ((name, GeoPackage type) pairs) and a
    `geometry_type` geometry column in WGS 84, batch by batch; `close()` records its extent."""

    def __init__(
        self, path: Path, table: str, columns: Sequence[tuple[str, str]], geometry_type: str
    ) -> None:
        self.table = table
        self.extent: list[float] | None = None
        # No journal: the file is new and private to this export; a failure discards it whole.
        # Used from worker threads one call at a time (asyncio.to_thread, awaited in turn).
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode = OFF")
        self.db.execute("PRAGMA synchronous = OFF")
        self.db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        self.db.execute(f"PRAGMA user_version = {USER_VERSION}")
        self.db.executescript(sql.METADATA)
        self.db.execute(sql.create_table(table, columns, geometry_type))
        self.db.execute(sql.ADD_CONTENTS, (table, table, SRS_ID))
        self.db.execute(sql.ADD_GEOMETRY_COLUMN, (table, geometry_type, SRS_ID))
        self._insert = sql.insert(table, [name for name, _ in columns])

    def write(self, rows: Sequence[tuple[bytes, float, float, float, float, list[object]]]) -> None:
        """Append features: (wkb, minx, maxx, miny, maxy, attribute values) each."""
        values = []
        for wkb, minx, maxx, miny, maxy, attributes in rows:
            values.append((geometry_blob(wkb, minx, maxx, miny, maxy), *attributes))
            if self.extent is None:
                self.extent = [minx, miny, maxx, maxy]
            else:
                e = self.extent
                e[0], e[1], e[2], e[3] = (
                    min(e[0], minx),
                    min(e[1], miny),
                    max(e[2], maxx),
                    max(e[3], maxy),
                )
        self.db.execute("BEGIN")
        self.db.executemany(self._insert, values)
        self.db.execute("COMMIT")

    def close(self) -> None:
        """Record the extent and the time of the last change; close the file."""
        try:
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            extent: Sequence[float | None] = self.extent or (None, None, None, None)
            self.db.execute(sql.SET_EXTENT, (*extent, now, self.table))
        finally:
            self.db.close()
