"""Bounds on what a record may hold, held by the database as the API holds them.

- Dates of events from 1900 on: a zone's recording, an incident's occurrence, a release.
- A release is not dated before its task started.
- An incident has at most `mar.max_casualties_per_incident` casualties (a setting the service's
  connections carry from MAR_MAX_CASUALTIES_PER_INCIDENT; 1000 for any other writer).
- A zone's area is below 10^12 m², what numeric(14, 2) holds (beyond, the write failed with a
  numeric overflow, an internal error).
- No edge of a zone or release polygon spans 180° of longitude or more: the antimeridian is
  crossed by splitting the area there (RFC 7946 §3.1.9), never by an edge the long way round
  (PostGIS cannot measure an edge of exactly 180° on the spheroid, an internal error; a longer
  one is a band around the globe in every map).

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EARLIEST = "1900-01-01"
MAX_AREA_M2 = "1e12"
DEFAULT_MAX_CASUALTIES = 1000

DATE_CHECKS = [
    ("zones", "zones_recorded_on_from_1900", "recorded_on"),
    ("incidents", "incidents_occurred_on_from_1900", "occurred_on"),
    ("land_releases", "land_releases_released_on_from_1900", "released_on"),
]

LONGEST_EDGE = """
CREATE FUNCTION geometry_longest_edge_degrees(g geometry) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT coalesce(max(abs(ST_X(ST_PointN(s.geom, 1)) - ST_X(ST_PointN(s.geom, 2)))), 0)
    FROM ST_DumpSegments(g) AS s
$$
"""

# zones_compute_area of migration 0001, with the two bounds checked before the area is stored.
COMPUTE_AREA = f"""
CREATE OR REPLACE FUNCTION zones_compute_area() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    area numeric;
BEGIN
    IF geometry_longest_edge_degrees(NEW.geometry) >= 180 THEN
        RAISE EXCEPTION 'an edge of the zone spans 180 degrees of longitude or more'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'zones_geometry_antimeridian',
                  TABLE = 'zones', COLUMN = 'geometry';
    END IF;
    area := round(ST_Area(NEW.geometry::geography)::numeric, 2);
    IF area >= {MAX_AREA_M2} THEN
        RAISE EXCEPTION 'the zone has an area of % m2, not below 10^12 m2', area
            USING ERRCODE = 'check_violation', CONSTRAINT = 'zones_estimated_area_max',
                  TABLE = 'zones', COLUMN = 'geometry';
    END IF;
    NEW.estimated_area_m2 := area;
    RETURN NEW;
END
$$
"""
COMPUTE_AREA_0001 = """
CREATE OR REPLACE FUNCTION zones_compute_area() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.estimated_area_m2 := round(ST_Area(NEW.geometry::geography)::numeric, 2);
    RETURN NEW;
END
$$
"""

# Named to fire before land_releases_check (triggers of one event fire in name order), which
# measures the geometry on the spheroid.
RELEASE_BOUNDS = """
CREATE FUNCTION land_releases_bounds() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    task_started_on date;
BEGIN
    IF NEW.geometry IS NOT NULL AND geometry_longest_edge_degrees(NEW.geometry) >= 180 THEN
        RAISE EXCEPTION 'an edge of the release spans 180 degrees of longitude or more'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'land_releases_geometry_antimeridian',
                  TABLE = 'land_releases', COLUMN = 'geometry';
    END IF;
    IF NEW.task_id IS NOT NULL THEN
        SELECT started_on INTO task_started_on FROM tasks WHERE id = NEW.task_id;
        IF NEW.released_on < task_started_on THEN
            RAISE EXCEPTION 'released on %, before task % started on %',
                NEW.released_on, NEW.task_id, task_started_on
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'land_releases_released_before_task_started',
                      TABLE = 'land_releases', COLUMN = 'released_on';
        END IF;
    END IF;
    RETURN NEW;
END
$$
"""

# The incident row is locked first, so that concurrent additions to one incident are counted
# one after the other and never pass the cap together.
CASUALTY_CAP = f"""
CREATE FUNCTION casualties_check_cap() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    cap integer := coalesce(
        nullif(current_setting('mar.max_casualties_per_incident', true), '')::integer,
        {DEFAULT_MAX_CASUALTIES}
    );
    recorded integer;
BEGIN
    PERFORM 1 FROM incidents WHERE id = NEW.incident_id FOR NO KEY UPDATE;
    SELECT count(*) INTO recorded FROM casualties WHERE incident_id = NEW.incident_id;
    IF recorded >= cap THEN
        RAISE EXCEPTION 'incident % already has % casualties, the most one incident may have',
            NEW.incident_id, recorded
            USING ERRCODE = 'check_violation', CONSTRAINT = 'casualties_per_incident_cap',
                  TABLE = 'casualties', COLUMN = 'incident_id';
    END IF;
    RETURN NEW;
END
$$
"""


def upgrade() -> None:
    for table, name, column in DATE_CHECKS:
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({column} >= DATE '{EARLIEST}')"
        )
    op.execute(LONGEST_EDGE)
    op.execute(COMPUTE_AREA)
    op.execute(RELEASE_BOUNDS)
    op.execute(
        "CREATE TRIGGER land_releases_bounds BEFORE INSERT ON land_releases "
        "FOR EACH ROW EXECUTE FUNCTION land_releases_bounds()"
    )
    op.execute(CASUALTY_CAP)
    op.execute(
        "CREATE TRIGGER casualties_check_cap BEFORE INSERT OR UPDATE OF incident_id "
        "ON casualties FOR EACH ROW EXECUTE FUNCTION casualties_check_cap()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER casualties_check_cap ON casualties")
    op.execute("DROP FUNCTION casualties_check_cap()")
    op.execute("DROP TRIGGER land_releases_bounds ON land_releases")
    op.execute("DROP FUNCTION land_releases_bounds()")
    op.execute(COMPUTE_AREA_0001)
    op.execute("DROP FUNCTION geometry_longest_edge_degrees(geometry)")
    for table, name, _column in DATE_CHECKS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
