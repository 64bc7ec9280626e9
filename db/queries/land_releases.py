"""SQL for land releases (IMAS 07.11). Values are always parameters."""

from __future__ import annotations

COLUMNS = """
l.id, l.zone_id, l.task_id, l.method, l.area_m2,
ST_AsGeoJSON(l.geometry)::json AS geometry, l.released_on, l.created_at
"""

BY_ZONE_IDS = f"""
SELECT {COLUMNS} FROM land_releases AS l
WHERE l.zone_id = ANY($1::bigint[])
ORDER BY l.released_on, l.id
"""

BY_TASK_IDS = f"""
SELECT {COLUMNS} FROM land_releases AS l
WHERE l.task_id = ANY($1::bigint[])
ORDER BY l.released_on, l.id
"""

# Lock the zone first: releases on one zone are decided one after the other, each seeing the
# area the previous ones released (the trigger land_releases_check takes the same lock).
LOCK_ZONE = """
SELECT id, status, estimated_area_m2, released_area_m2, remaining_area_m2
FROM zones WHERE id = $1 FOR NO KEY UPDATE
"""

# Run after LOCK_ZONE, as a statement of its own, so that it sees releases committed meanwhile.
HAS_CLEARED = """
SELECT EXISTS (SELECT 1 FROM land_releases WHERE zone_id = $1 AND method = 'CLEARED')
"""

# $1 task: its zone, and the day it started (null while PLANNED).
TASK = "SELECT zone_id, started_on FROM tasks WHERE id = $1"

# $1 zone, $2 a release geometry as GeoJSON text: its area on the spheroid and how much of it
# lies outside the zone (the same measures as the trigger's).
MEASURE_IN_ZONE = """
WITH g AS (
  SELECT ST_Multi(ST_Force2D(ST_SetSRID(ST_GeomFromGeoJSON($2::text), 4326))) AS geom
)
SELECT round(ST_Area(g.geom::geography)::numeric, 2) AS area_m2,
       CASE WHEN ST_CoveredBy(g.geom, z.geometry) THEN 0
            ELSE ST_Area(ST_Difference(g.geom, z.geometry)::geography) END AS outside_m2
FROM zones AS z, g
WHERE z.id = $1
"""

# $1 zone, $2 task, $3 method, $4 area (NULL: computed from the geometry), $5 geometry as
# GeoJSON text or NULL, $6 release date.
INSERT = f"""
WITH l AS (
  INSERT INTO land_releases (zone_id, task_id, method, area_m2, geometry, released_on)
  VALUES ($1, $2, $3, $4,
          ST_Multi(ST_Force2D(ST_SetSRID(ST_GeomFromGeoJSON($5::text), 4326))), $6)
  RETURNING *
)
SELECT {COLUMNS} FROM l
"""
