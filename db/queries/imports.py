"""SQL for bulk imports: records by code, in one statement per list. Values are parameters."""

from __future__ import annotations

# $1: codes. The current id of each zone / task that exists.
ZONES_BY_CODES = "SELECT code, id, version FROM zones WHERE code = ANY($1::text[])"
TASKS_BY_CODES = "SELECT code, id, zone_id FROM tasks WHERE code = ANY($1::text[])"

# $1 codes, $2 their features' geometries as GeoJSON text (null: none given, or one the import
# will refuse). The stored, writable values of each record that exists, and whether its stored
# geometry is exactly the one given, as an update would store it (null when none was given): an
# import leaves a record whose values are all the same untouched (no version, audit or event).
ZONES_CURRENT = """
SELECT z.code, z.id, z.version, z.name, z.description, z.hazard_type, z.contamination,
       z.priority, z.land_use, z.admin1, z.admin2, z.admin_pcode, z.recorded_on,
       CASE WHEN f.geometry IS NOT NULL THEN ST_OrderingEquals(z.geometry,
         ST_Multi(ST_Force2D(ST_SetSRID(ST_GeomFromGeoJSON(f.geometry), 4326)))) END
         AS same_geometry
FROM unnest($1::text[], $2::text[]) AS f(code, geometry) JOIN zones AS z ON z.code = f.code
"""
INCIDENTS_CURRENT = """
SELECT i.code, i.id, i.version, i.incident_type, i.occurred_on, i.zone_id, i.task_id,
       i.device_category, i.activity, i.admin1, i.admin2, i.admin_pcode, i.description,
       i.source, i.verified,
       CASE WHEN f.geometry IS NOT NULL THEN ST_OrderingEquals(i.location,
         ST_Force2D(ST_SetSRID(ST_GeomFromGeoJSON(f.geometry), 4326))) END AS same_geometry,
       COALESCE((SELECT json_agg(json_build_array(c.outcome, c.category, c.sex, c.age,
                                                  c.full_name, c.notes) ORDER BY c.id)
                 FROM casualties AS c WHERE c.incident_id = i.id), '[]')::text AS casualties
FROM unnest($1::text[], $2::text[]) AS f(code, geometry) JOIN incidents AS i ON i.code = f.code
"""

# An imported incident's casualties replace the ones it had. $1: the incident id.
DELETE_CASUALTIES = "DELETE FROM casualties WHERE incident_id = $1"
