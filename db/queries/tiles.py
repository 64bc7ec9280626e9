"""SQL for Mapbox vector tiles: each tile (and its ETag) in one statement with ST_AsMVT.

$1 z, $2 x, $3 y, $4 the ETags the client already holds (text[], may be empty). The statement
answers `etag` (from the count, ids, versions and latest change of the features in the tile) and
`tile` (the MVT bytes), which is NULL when the etag is one the client holds: a 304 costs no
encoding.
"""

from __future__ import annotations

from dataclasses import dataclass

EXTENT = 4096
BUFFER = 64


@dataclass(frozen=True)
class TileLayer:
    """One layer: its table, alias, geometry column, and the attributes written into tiles."""

    name: str
    table: str
    alias: str
    geometry: str
    attributes: dict[str, str]  # attribute -> SQL expression
    fields: dict[str, str]  # attribute -> TileJSON type (String, Number, Boolean)


ZONES = TileLayer(
    name="zones",
    table="zones",
    alias="z",
    geometry="z.geometry",
    attributes={
        "code": "z.code",
        "name": "z.name",
        "hazard_type": "z.hazard_type",
        "status": "z.status",
        "priority": "z.priority",
        "remaining_area_m2": "z.remaining_area_m2::float8",
    },
    fields={
        "code": "String",
        "name": "String",
        "hazard_type": "String",
        "status": "String",
        "priority": "Number",
        "remaining_area_m2": "Number",
    },
)
INCIDENTS = TileLayer(
    name="incidents",
    table="incidents",
    alias="i",
    geometry="i.location",
    attributes={
        "code": "i.code",
        "incident_type": "i.incident_type",
        "occurred_on": "to_char(i.occurred_on, 'YYYY-MM-DD')",
        "device_category": "i.device_category",
        "verified": "i.verified",
    },
    fields={
        "code": "String",
        "incident_type": "String",
        "occurred_on": "String",
        "device_category": "String",
        "verified": "Boolean",
    },
)
LAYERS = {layer.name: layer for layer in (ZONES, INCIDENTS)}


def tile(layer: TileLayer) -> str:
    """The statement answering one row (etag, tile) for tile $1/$2/$3 of `layer`."""
    a = layer.alias
    attributes = ", ".join(f"{sql} AS {name}" for name, sql in layer.attributes.items())
    return f"""
WITH bounds AS (
  SELECT ST_TileEnvelope($1, $2, $3) AS tile,
         ST_Transform(ST_TileEnvelope($1, $2, $3, margin => {BUFFER / EXTENT}), 4326) AS area
),
found AS MATERIALIZED (
  SELECT {a}.id, {a}.version, {a}.updated_at, {layer.geometry} AS geom, {attributes}
  FROM {layer.table} AS {a}, bounds
  WHERE {layer.geometry} && bounds.area
),
stamp AS (
  SELECT md5(count(*)::text || ':' || COALESCE(sum(id), 0)::text || ':'
             || COALESCE(sum(version), 0)::text || ':'
             || COALESCE(max(extract(epoch FROM updated_at)), 0)::text) AS etag
  FROM found
)
SELECT stamp.etag,
       CASE WHEN stamp.etag = ANY($4::text[]) THEN NULL ELSE (
         SELECT COALESCE(ST_AsMVT(mvt.*, '{layer.name}', {EXTENT}, 'geom'), ''::bytea)
         FROM (
           SELECT ST_AsMVTGeom(ST_Transform(f.geom, 3857), bounds.tile, {EXTENT}, {BUFFER}, true)
                    AS geom,
                  {", ".join(f"f.{name}" for name in layer.attributes)}
           FROM found AS f, bounds
         ) AS mvt
         WHERE mvt.geom IS NOT NULL
       ) END AS tile
FROM stamp
"""


def extent(layer: TileLayer) -> str:
    """The statement answering the layer's bounding box (NULLs when it is empty)."""
    return f"""
SELECT ST_XMin(e.box) AS west, ST_YMin(e.box) AS south,
       ST_XMax(e.box) AS east, ST_YMax(e.box) AS north
FROM (SELECT ST_Extent({layer.geometry}) AS box FROM {layer.table} AS {layer.alias}) AS e
"""
