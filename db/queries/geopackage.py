"""SQLite statements of a GeoPackage (OGC 12-128r18, 1.3) of one feature table in WGS 84.

The writer is api/services/geopackage.py. Table and column names come from the code (the
export's layer), never from a request; they are quoted all the same.
"""

from __future__ import annotations

from collections.abc import Sequence

WGS84_WKT = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,'
    'AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,'
    'AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],'
    'AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]'
)
SRS_ID = 4326

METADATA = f"""
CREATE TABLE gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
INSERT INTO gpkg_spatial_ref_sys VALUES
  ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate reference system'),
  ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system'),
  ('WGS 84 geodetic', {SRS_ID}, 'EPSG', 4326, '{WGS84_WKT}', 'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid');
CREATE TABLE gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '', last_change DATETIME NOT NULL
    DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE,
  srs_id INTEGER, CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id)
    REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
"""  # noqa: E501

ADD_CONTENTS = (
    "INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) "
    "VALUES (?, 'features', ?, ?)"
)
ADD_GEOMETRY_COLUMN = "INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, ?, 0, 0)"
SET_EXTENT = (
    "UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ?, last_change = ? "
    "WHERE table_name = ?"
)


def _quoted(name: str) -> str:
    """An SQLite identifier (the names come from the code, never from a request)."""
    return '"' + name.replace('"', '""') + '"'


def create_table(table: str, columns: Sequence[tuple[str, str]], geometry_type: str) -> str:
    """The feature table: fid, the geometry column `geom`, then `columns` (name, type)."""
    definitions = ", ".join(f"{_quoted(name)} {kind}" for name, kind in columns)
    return (
        f"CREATE TABLE {_quoted(table)} (fid INTEGER PRIMARY KEY AUTOINCREMENT, "
        f"geom {geometry_type}, {definitions})"
    )


def insert(table: str, names: Sequence[str]) -> str:
    """Insert one feature: its geometry blob, then the values of `names` in order."""
    marks = ", ".join("?" for _ in range(len(names) + 1))
    quoted = ", ".join(_quoted(name) for name in names)
    return f"INSERT INTO {_quoted(table)} (geom, {quoted}) VALUES ({marks})"
