"""SQL for the built-in page at GET /: headline figures, and a map of zones and incidents."""

# Headline figures, in one statement.
FIGURES = """
SELECT
  (SELECT coalesce(json_object_agg(status, n), '{}'::json)
     FROM (SELECT status, count(*) AS n FROM zones GROUP BY status) AS s) AS zones_by_status,
  (SELECT coalesce(sum(estimated_area_m2), 0)::float8 FROM zones) AS estimated_m2,
  (SELECT coalesce(sum(released_area_m2), 0)::float8 FROM zones) AS released_m2,
  (SELECT coalesce(sum(remaining_area_m2), 0)::float8 FROM zones) AS remaining_m2,
  (SELECT count(*) FROM incidents) AS incidents,
  (SELECT count(*) FILTER (WHERE outcome = 'KILLED') FROM casualties) AS killed,
  (SELECT count(*) FILTER (WHERE outcome = 'INJURED') FROM casualties) AS injured
"""

# The map: at most $1 zones (most recently changed) and $1 incidents (most recent), their extent,
# and their shapes as SVG path data (y is minus the latitude) simplified to about a 1000th of the
# extent, so the page stays small whatever the size of the database.
MAP = """
WITH z AS (
  SELECT geometry, status FROM zones ORDER BY updated_at DESC, id DESC LIMIT $1
), i AS (
  SELECT location FROM incidents ORDER BY occurred_on DESC, id DESC LIMIT $1
), box AS (
  SELECT ST_Extent(g) AS b FROM (SELECT geometry AS g FROM z UNION ALL SELECT location FROM i) AS x
)
SELECT
  ST_XMin(b) AS west, ST_YMin(b) AS south, ST_XMax(b) AS east, ST_YMax(b) AS north,
  (SELECT coalesce(json_agg(json_build_array(
       status,
       ST_AsSVG(ST_SimplifyPreserveTopology(
         geometry, greatest(ST_XMax(b) - ST_XMin(b), ST_YMax(b) - ST_YMin(b)) / 1000), 0, 6))),
     '[]'::json) FROM z) AS zones,
  (SELECT coalesce(json_agg(json_build_array(
       round(ST_X(location)::numeric, 6), round(-ST_Y(location)::numeric, 6))), '[]'::json)
     FROM i) AS incidents,
  (SELECT count(*) FROM zones) AS zones_total,
  (SELECT count(*) FROM incidents) AS incidents_total
FROM box
"""
