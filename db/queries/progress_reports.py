"""SQL for progress reports and the device finds they list. Values are always parameters."""

from __future__ import annotations

COLUMNS = """
r.id, r.task_id, r.report_date, r.area_searched_m2, r.notes, r.created_at
"""

DEVICE_COLUMNS = """
d.id, d.progress_report_id, d.category, d.quantity, d.disposal,
ST_AsGeoJSON(d.location)::json AS location
"""

BY_TASK_IDS = f"""
SELECT {COLUMNS} FROM progress_reports AS r
WHERE r.task_id = ANY($1::bigint[])
ORDER BY r.report_date, r.id
"""

DEVICES_BY_REPORT_IDS = f"""
SELECT {DEVICE_COLUMNS} FROM device_finds AS d
WHERE d.progress_report_id = ANY($1::bigint[])
ORDER BY d.id
"""

# The task a report is for, locked against a concurrent status change until the report is in.
TASK_FOR_REPORT = "SELECT id, status, started_on FROM tasks WHERE id = $1 FOR SHARE"

# $1 task, $2 report date, $3 area searched, $4 notes.
INSERT = f"""
WITH r AS (
  INSERT INTO progress_reports (task_id, report_date, area_searched_m2, notes)
  VALUES ($1, $2, $3, $4)
  RETURNING *
)
SELECT {COLUMNS} FROM r
"""

# $1 report; then parallel arrays: categories, quantities, disposals, locations (GeoJSON or NULL).
INSERT_DEVICES = """
INSERT INTO device_finds (progress_report_id, category, quantity, disposal, location)
SELECT $1, f.category, f.quantity, f.disposal,
       ST_Force2D(ST_SetSRID(ST_GeomFromGeoJSON(f.location), 4326))
FROM unnest($2::text[], $3::integer[], $4::text[], $5::text[])
    WITH ORDINALITY AS f(category, quantity, disposal, location, n)
ORDER BY f.n
"""
