"""SQL for the file exports (GeoPackage, KML): typed attribute values and the geometry per row.

For GeoPackage each row answers its attributes as values SQLite stores as they are (text, whole
numbers, doubles; dates as ISO 8601 text, booleans as 0/1), the geometry as little-endian WKB and
its envelope. For KML PostgreSQL writes each whole Placemark (`line`), XML-escaped by
`xmlelement`. Filters come in as WHERE conditions over the aliases of db/queries/exports.py
(z for zones, i for incidents); the fragments here hold no values.
"""

from __future__ import annotations

from dataclasses import dataclass

from db.queries.exports import INCIDENTS_FROM, ZONES_FROM
from db.queries.sql import where_clause

# Coordinates with 15 decimals in KML, as in the GeoJSON export: the double read back is the one
# stored.
KML_DIGITS = 15
_DATE = "to_char({}, 'YYYY-MM-DD')"
# GeoPackage's DATETIME: ISO 8601 in UTC with a Z.
_DATETIME = """to_char(({}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""


@dataclass(frozen=True)
class Field:
    """One attribute of a file export: its name, its GeoPackage column type, its SQL value."""

    name: str
    gpkg_type: str  # MEDIUMINT is GeoPackage's 32-bit integer (INTEGER is 64-bit)
    expr: str


def _text(name: str, expr: str) -> Field:
    return Field(name, "TEXT", f"({expr})::text")


ZONE_FIELDS = [
    _text("code", "z.code"),
    _text("name", "z.name"),
    _text("hazard_type", "z.hazard_type"),
    _text("status", "z.status"),
    _text("contamination", "array_to_string(z.contamination, ';')"),
    Field("priority", "MEDIUMINT", "z.priority::int"),
    _text("land_use", "z.land_use"),
    _text("admin1", "z.admin1"),
    _text("admin2", "z.admin2"),
    _text("admin_pcode", "z.admin_pcode"),
    Field("estimated_area_m2", "REAL", "z.estimated_area_m2::float8"),
    Field("released_area_m2", "REAL", "z.released_area_m2::float8"),
    Field("remaining_area_m2", "REAL", "z.remaining_area_m2::float8"),
    Field("recorded_on", "DATE", _DATE.format("z.recorded_on")),
    Field("status_changed_on", "DATE", _DATE.format("z.status_changed_on")),
    Field("updated_at", "DATETIME", _DATETIME.format("z.updated_at")),
]

INCIDENT_FIELDS = [
    _text("code", "i.code"),
    _text("incident_type", "i.incident_type"),
    Field("occurred_on", "DATE", _DATE.format("i.occurred_on")),
    _text("zone_code", "z.code"),
    _text("task_code", "t.code"),
    _text("device_category", "i.device_category"),
    _text("activity", "i.activity"),
    _text("admin1", "i.admin1"),
    _text("admin2", "i.admin2"),
    _text("admin_pcode", "i.admin_pcode"),
    Field("verified", "BOOLEAN", "i.verified::int"),
    Field("killed", "MEDIUMINT", "n.killed::int"),
    Field("injured", "MEDIUMINT", "n.injured::int"),
    Field("updated_at", "DATETIME", _DATETIME.format("i.updated_at")),
]
# Only for roles that may read them (API.md: the public sees incidents without these).
INCIDENT_RESTRICTED_FIELDS = [
    _text("description", "i.description"),
    _text("source", "i.source"),
]
# Killed and injured per incident (casualties leave the service only as counts here).
_INCIDENT_COUNTS = """
LEFT JOIN LATERAL (
  SELECT count(*) FILTER (WHERE c.outcome = 'KILLED') AS killed,
         count(*) FILTER (WHERE c.outcome = 'INJURED') AS injured
  FROM casualties AS c WHERE c.incident_id = i.id
) AS n ON true
"""


@dataclass(frozen=True)
class Layer:
    """What a file export of one kind reads: its fields, geometry, FROM clause and order."""

    name: str
    fields: list[Field]
    geometry: str
    geometry_type: str  # as GeoPackage names it
    from_sql: str
    default_order: str


def layer(kind: str, *, restricted: bool) -> Layer:
    """The layer of `kind` (zones, incidents); `restricted` adds incidents' private fields."""
    if kind == "zones":
        return Layer("zones", ZONE_FIELDS, "z.geometry", "MULTIPOLYGON", ZONES_FROM, "z.id")
    if kind == "incidents":
        fields = INCIDENT_FIELDS + (INCIDENT_RESTRICTED_FIELDS if restricted else [])
        return Layer(
            "incidents", fields, "i.location", "POINT", INCIDENTS_FROM + _INCIDENT_COUNTS, "i.id"
        )
    raise ValueError(f"no file export of {kind!r}")


def gpkg_rows(layer: Layer, conditions: list[str], order: str | None = None) -> str:
    """One row per record: f0…fN (the fields' values), wkb, minx, maxx, miny, maxy."""
    values = ", ".join(f"{field.expr} AS f{n}" for n, field in enumerate(layer.fields))
    g = f"ST_Force2D({layer.geometry})"
    return (
        f"SELECT {values}, ST_AsBinary({g}, 'NDR') AS wkb, ST_XMin({g}) AS minx, "
        f"ST_XMax({g}) AS maxx, ST_YMin({g}) AS miny, ST_YMax({g}) AS maxy "
        f"FROM {layer.from_sql} {where_clause(conditions)} "
        f"ORDER BY {order or layer.default_order}"
    )


def kml_placemarks(layer: Layer, conditions: list[str], order: str | None = None) -> str:
    """One KML Placemark per record (`line`): its code as name, every field as ExtendedData."""
    data = ", ".join(
        f"""xmlelement(name "Data", xmlattributes('{field.name}' AS name),
              xmlelement(name value, {field.expr}))"""
        for field in layer.fields
    )
    placemark = f"""
xmlelement(name "Placemark",
  xmlelement(name name, {layer.fields[0].expr}),
  xmlelement(name "ExtendedData", xmlconcat({data})),
  ST_AsKML({layer.geometry}, {KML_DIGITS})::xml
)::text
"""
    return (
        f"SELECT {placemark} AS line FROM {layer.from_sql} {where_clause(conditions)} "
        f"ORDER BY {order or layer.default_order}"
    )
