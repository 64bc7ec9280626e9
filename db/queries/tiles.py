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
WORLD_SPAN = 40075016.68557849  # the width of the Web Mercator world, in metres
# Part of every ETag: a change of how tiles are drawn must not leave caches holding the old ones.
TILE_FORMAT = "2"


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
         -- The buffered tile, cut to the world before it goes to degrees: past the antimeridian
         -- a Web Mercator x wraps round to the other side, which made the edge tiles empty.
         ST_Transform(ST_ClipByBox2D(ST_TileEnvelope($1, $2, $3, margin => {BUFFER / EXTENT}),
                                     ST_TileEnvelope(0, 0, 0)), 4326) AS area,
         -- One pixel of the tile's grid, in metres of Web Mercator.
         {WORLD_SPAN} / (2 ^ $1 * {EXTENT}) AS pixel
),
found AS MATERIALIZED (
  SELECT {a}.id, {a}.version, {a}.updated_at, {layer.geometry} AS geom, {attributes}
  FROM {layer.table} AS {a}, bounds
  WHERE {layer.geometry} && bounds.area
),
stamp AS (
  SELECT md5('{TILE_FORMAT}:' || count(*)::text || ':' || COALESCE(sum(id), 0)::text || ':'
             || COALESCE(sum(version), 0)::text || ':'
             || COALESCE(max(extract(epoch FROM updated_at)), 0)::text) AS etag
  FROM found
)
SELECT stamp.etag,
       CASE WHEN stamp.etag = ANY($4::text[]) THEN NULL ELSE (
         SELECT COALESCE(ST_AsMVT(mvt.*, '{layer.name}', {EXTENT}, 'geom', 'id'), ''::bytea)
         FROM (
           SELECT {_drawn("f.geom")} AS geom, f.id,
                  {", ".join(f"f.{name}" for name in layer.attributes)}
           FROM found AS f, bounds
         ) AS mvt
         WHERE mvt.geom IS NOT NULL
       ) END AS tile
FROM stamp
"""


def _drawn(geom: str) -> str:
    """The SQL drawing `geom` into the tile: as itself, or as a point when it is too small.

    A polygon smaller than a pixel vanishes in ST_AsMVTGeom's snap to the tile's grid (every zone
    at zoom 0-2): it is drawn as its point on surface instead, so that every zoom shows every
    record. Larger polygons are simplified to half a pixel first, which changes nothing a map can
    show and spares the encoder the vertices.
    """
    box = f"ST_Transform(ST_Envelope({geom}), 3857)"
    point = (
        f"ST_AsMVTGeom(ST_Transform(ST_PointOnSurface({geom}), 3857), bounds.tile, "
        f"{EXTENT}, {BUFFER}, true)"
    )
    shape = (
        f"ST_AsMVTGeom(ST_Simplify(ST_Transform({geom}, 3857), bounds.pixel / 2, true), "
        f"bounds.tile, {EXTENT}, {BUFFER}, true)"
    )
    return f"""CASE
             WHEN GeometryType({geom}) IN ('POINT', 'MULTIPOINT') THEN ST_AsMVTGeom(
               ST_Transform({geom}, 3857), bounds.tile, {EXTENT}, {BUFFER}, true)
             WHEN ST_XMax({box}) - ST_XMin({box}) < bounds.pixel
              AND ST_YMax({box}) - ST_YMin({box}) < bounds.pixel THEN {point}
             ELSE COALESCE({shape}, {point})
           END"""


def extent(layer: TileLayer) -> str:
    """The statement answering the layer's bounding box (NULLs when it is empty)."""
    return f"""
SELECT ST_XMin(e.box) AS west, ST_YMin(e.box) AS south,
       ST_XMax(e.box) AS east, ST_YMax(e.box) AS north
FROM (SELECT ST_Extent({layer.geometry}) AS box FROM {layer.table} AS {layer.alias}) AS e
"""
