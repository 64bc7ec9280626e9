"""SQL for Mapbox vector tiles: each tile (and its ETag) in one statement with ST_AsMVT.

$1 z, $2 x, $3 y, $4 the ETags the client already holds (text[], may be empty). The statement
answers `etag` (from the count, ids, versions and latest change of the features in the tile) and
`tile` (the MVT bytes), which is NULL when the etag is one the client holds: a 304 costs no
encoding.

A tile is bounded by its pixels, not by its records: a polygon smaller than a pixel is drawn as
its point on surface, and of the points that share a pixel only the record with the lowest id is
drawn (the map looks the same; the tile of 200 000 incidents at zoom 0 shrinks from 9 MB). A pixel
is one of a 256-pixel tile, the tile size of WebMercatorQuad (api/rest/ogc_tiles.py): PIXEL units
of the 4096-unit grid.
"""

from __future__ import annotations

from dataclasses import dataclass

EXTENT = 4096
BUFFER = 64
PIXEL = EXTENT // 256  # tile units in a pixel of a 256-pixel tile
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
         2 ^ $1 * {EXTENT // PIXEL} AS pixels,  -- the world's width in pixels at this zoom
         {WORLD_SPAN} * {PIXEL} / (2 ^ $1 * {EXTENT}) AS pixel  -- a pixel in Web Mercator metres
),
found AS MATERIALIZED (
  SELECT {a}.id, {a}.version, {a}.updated_at, {layer.geometry} AS geom,
         Box2D({layer.geometry}) AS box
  FROM {layer.table} AS {a}, bounds
  WHERE {layer.geometry} && bounds.area
),
stamp AS (
  SELECT md5('{TILE_FORMAT}:' || count(*)::text || ':' || COALESCE(sum(id), 0)::text || ':'
             || COALESCE(sum(version), 0)::text || ':'
             || COALESCE(max(extract(epoch FROM updated_at)), 0)::text) AS etag
  FROM found
),
-- Where each record's bounding box lies, in pixels of the world at this zoom: read from its box,
-- so that no record is transformed before it is known to be drawn.
placed AS MATERIALIZED (
  SELECT f.id, (ST_XMin(f.box) + 180) / 360 * bounds.pixels AS px0,
         (ST_XMax(f.box) + 180) / 360 * bounds.pixels AS px1,
         {_mercator_y("ST_YMax(f.box)")} * bounds.pixels AS py0,
         {_mercator_y("ST_YMin(f.box)")} * bounds.pixels AS py1
  FROM found AS f, bounds
),
-- One record per pixel among those smaller than a pixel (the lowest id); every larger one.
kept AS MATERIALIZED (
  SELECT DISTINCT ON (p.cell) p.id, p.small
  FROM (
    SELECT id, px1 - px0 < 1 AND py1 - py0 < 1 AS small,
           CASE WHEN px1 - px0 < 1 AND py1 - py0 < 1
                THEN floor((px0 + px1) / 2)::bigint * 4294967296 + floor((py0 + py1) / 2)::bigint
                ELSE -id END AS cell
    FROM placed
  ) AS p
  ORDER BY p.cell, p.id
),
drawn AS MATERIALIZED (
  SELECT k.id, {_drawn("k", "f.geom")} AS geom
  FROM kept AS k JOIN found AS f USING (id), bounds
)
SELECT stamp.etag,
       CASE WHEN stamp.etag = ANY($4::text[]) THEN NULL ELSE (
         SELECT COALESCE(ST_AsMVT(mvt.*, '{layer.name}', {EXTENT}, 'geom', 'id'), ''::bytea)
         FROM (
           SELECT d.geom, d.id, {attributes}
           FROM drawn AS d JOIN {layer.table} AS {a} ON {a}.id = d.id
           WHERE d.geom IS NOT NULL
         ) AS mvt
       ) END AS tile
FROM stamp
"""


def _mercator_y(lat: str) -> str:
    """SQL of the Web Mercator y of latitude `lat`, from 0 (north edge) to 1 (south edge)."""
    clamped = f"LEAST(GREATEST({lat}, -85.0511287798), 85.0511287798)"
    return f"((1 - asinh(tan(radians({clamped}))) / pi()) / 2)"


def _drawn(kept: str, geom: str) -> str:
    """The SQL drawing a kept record into the tile: as itself, or as a point when it is small.

    A polygon smaller than a pixel cannot be drawn as one (below a grid unit ST_AsMVTGeom drops
    it: every zone at zooms 0-2 was lost): it is drawn as its point on surface instead, so that
    every zoom shows the data. Larger polygons are simplified to half a pixel first, which changes
    nothing a map can show and spares the encoder the vertices.
    """
    point = (
        f"ST_AsMVTGeom(ST_Transform(ST_PointOnSurface({geom}), 3857), bounds.tile, "
        f"{EXTENT}, {BUFFER}, true)"
    )
    shape = (
        f"ST_AsMVTGeom(ST_Simplify(ST_Transform({geom}, 3857), bounds.pixel / 2, true), "
        f"bounds.tile, {EXTENT}, {BUFFER}, true)"
    )
    return f"CASE WHEN {kept}.small THEN {point} ELSE COALESCE({shape}, {point}) END"


def extent(layer: TileLayer) -> str:
    """The statement answering the layer's bounding box (NULLs when it is empty)."""
    return f"""
SELECT ST_XMin(e.box) AS west, ST_YMin(e.box) AS south,
       ST_XMax(e.box) AS east, ST_YMax(e.box) AS north
FROM (SELECT ST_Extent({layer.geometry}) AS box FROM {layer.table} AS {layer.alias}) AS e
"""
