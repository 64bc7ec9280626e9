"""Geometry checks PostGIS answers better than Python: validity and the reason for invalidity."""

# $1: a GeoJSON geometry as text. Answers is_valid and, when not, PostGIS's reason, and the area
# on the spheroid of a valid one (0 for a point).
CHECK_GEOJSON = """
SELECT ST_IsValid(g) AS is_valid, ST_IsValidReason(g) AS reason, ST_IsEmpty(g) AS is_empty,
       CASE WHEN ST_IsValid(g) THEN ST_Area(g::geography) ELSE 0 END AS area_m2
FROM (SELECT ST_Force2D(ST_GeomFromGeoJSON($1::text)) AS g) AS input
"""
