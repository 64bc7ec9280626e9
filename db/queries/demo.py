"""SQL for the synthetic demo set: batched inserts keyed by codes, values always parameters.

Arrays of rows travel as one array per column (`unnest`); a text[] column travels as its
comma-joined elements. Rows are inserted in the order given, so ids follow that order.
"""

from __future__ import annotations

# Serialises concurrent seeds: the second waits, then finds the demo set present.
LOCK = "SELECT pg_advisory_xact_lock(hashtext('mar seed --demo'))"

PRESENT = "SELECT EXISTS (SELECT 1 FROM organisations WHERE code LIKE 'DEMO-%')"

# The day the demo set is dated from: the one the triggers compare with.
TODAY = "SELECT current_date"

INSERT_ORGANISATIONS = """
INSERT INTO organisations (code, name, org_type, country)
SELECT r.code, r.name, r.org_type, r.country
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
     WITH ORDINALITY AS r(code, name, org_type, country, n)
ORDER BY r.n
"""

INSERT_TEAMS = """
INSERT INTO teams (code, name, organisation_id, capabilities, size, status,
                   accreditation_expires_on)
SELECT r.code, r.name, o.id, string_to_array(r.capabilities, ','), r.size, r.status,
       r.accreditation_expires_on
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::date[])
     WITH ORDINALITY AS r(code, name, organisation_code, capabilities, size, status,
                          accreditation_expires_on, n)
JOIN organisations AS o ON o.code = r.organisation_code
ORDER BY r.n
"""

INSERT_ZONES = """
INSERT INTO zones (code, name, description, hazard_type, contamination, geometry, priority,
                   land_use, admin1, admin2, admin_pcode, recorded_on)
SELECT r.code, r.name, r.description, r.hazard_type, string_to_array(r.contamination, ','),
       ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(r.geometry), 4326)), r.priority, r.land_use,
       r.admin1, r.admin2, r.admin_pcode, r.recorded_on
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[],
            $8::text[], $9::text[], $10::text[], $11::text[], $12::date[])
     WITH ORDINALITY AS r(code, name, description, hazard_type, contamination, geometry,
                          priority, land_use, admin1, admin2, admin_pcode, recorded_on, n)
ORDER BY r.n
"""

# Every task starts PLANNED (the status trigger allows nothing else on insert).
INSERT_TASKS = """
INSERT INTO tasks (code, zone_id, task_type, planned_start, planned_end, assets)
SELECT r.code, z.id, r.task_type, r.planned_start, r.planned_end, string_to_array(r.assets, ',')
FROM unnest($1::text[], $2::text[], $3::text[], $4::date[], $5::date[], $6::text[])
     WITH ORDINALITY AS r(code, zone_code, task_type, planned_start, planned_end, assets, n)
JOIN zones AS z ON z.code = r.zone_code
ORDER BY r.n
"""

INSERT_TASK_TEAMS = """
INSERT INTO task_teams (task_id, team_id)
SELECT k.id, t.id
FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS r(task_code, team_code, n)
JOIN tasks AS k ON k.code = r.task_code
JOIN teams AS t ON t.code = r.team_code
ORDER BY r.n
"""

# Move tasks to status $1; a date given for started_on or completed_on is kept with it.
MOVE_TASKS = """
UPDATE tasks AS k
SET status = $1,
    started_on = COALESCE(r.started_on, k.started_on),
    completed_on = COALESCE(r.completed_on, k.completed_on)
FROM unnest($2::text[], $3::date[], $4::date[]) AS r(code, started_on, completed_on)
WHERE k.code = r.code
"""

INSERT_PROGRESS_REPORTS = """
INSERT INTO progress_reports (task_id, report_date, area_searched_m2, notes)
SELECT k.id, r.report_date, round(r.area_searched_m2::numeric, 2), r.notes
FROM unnest($1::text[], $2::date[], $3::float8[], $4::text[])
     WITH ORDINALITY AS r(task_code, report_date, area_searched_m2, notes, n)
JOIN tasks AS k ON k.code = r.task_code
ORDER BY r.n
"""

# A find belongs to the report its task made on that date (one report per task and date).
INSERT_DEVICE_FINDS = """
INSERT INTO device_finds (progress_report_id, category, quantity, disposal, location)
SELECT p.id, r.category, r.quantity, r.disposal,
       ST_SetSRID(ST_GeomFromGeoJSON(r.location), 4326)
FROM unnest($1::text[], $2::date[], $3::text[], $4::int[], $5::text[], $6::text[])
     WITH ORDINALITY AS r(task_code, report_date, category, quantity, disposal, location, n)
JOIN tasks AS k ON k.code = r.task_code
JOIN progress_reports AS p ON p.task_id = k.id AND p.report_date = r.report_date
ORDER BY r.n
"""

# One release per statement: each reads the zone as the releases before it left it. $4 is a
# share of the estimated area, or NULL for everything that remains (the zone then closes).
INSERT_LAND_RELEASE = """
INSERT INTO land_releases (zone_id, task_id, method, area_m2, released_on)
SELECT z.id, k.id, $3,
       CASE WHEN $4::float8 IS NULL THEN z.remaining_area_m2
            ELSE round(z.estimated_area_m2 * $4::float8::numeric, 2) END,
       $5
FROM zones AS z
LEFT JOIN tasks AS k ON k.code = $2
WHERE z.code = $1
"""

COUNT_LAND_RELEASES = """
SELECT count(*) FROM land_releases AS r JOIN zones AS z ON z.id = r.zone_id
WHERE z.code LIKE 'DEMO-%'
"""

INSERT_INCIDENTS = """
INSERT INTO incidents (code, incident_type, occurred_on, location, zone_id, task_id,
                       device_category, activity, admin1, admin2, admin_pcode, description,
                       source, verified)
SELECT r.code, r.incident_type, r.occurred_on, ST_SetSRID(ST_GeomFromGeoJSON(r.location), 4326),
       z.id, k.id, r.device_category, r.activity, r.admin1, r.admin2, r.admin_pcode,
       r.description, r.source, r.verified
FROM unnest($1::text[], $2::text[], $3::date[], $4::text[], $5::text[], $6::text[], $7::text[],
            $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
            $14::bool[])
     WITH ORDINALITY AS r(code, incident_type, occurred_on, location, zone_code, task_code,
                          device_category, activity, admin1, admin2, admin_pcode, description,
                          source, verified, n)
LEFT JOIN zones AS z ON z.code = r.zone_code
LEFT JOIN tasks AS k ON k.code = r.task_code
ORDER BY r.n
"""

INSERT_CASUALTIES = """
INSERT INTO casualties (incident_id, outcome, category, sex, age, full_name, notes)
SELECT i.id, r.outcome, r.category, r.sex, r.age, r.full_name, r.notes
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[])
     WITH ORDINALITY AS r(incident_code, outcome, category, sex, age, full_name, notes, n)
JOIN incidents AS i ON i.code = r.incident_code
ORDER BY r.n
"""

# The status triggers date a zone's status change with the day of the seed; the demo set dates
# it with the day its task started or ended instead.
DATE_ZONE_STATUS_CHANGES = """
UPDATE zones AS z SET status_changed_on = r.day
FROM unnest($1::text[], $2::date[]) AS r(code, day)
WHERE z.code = r.code
"""
