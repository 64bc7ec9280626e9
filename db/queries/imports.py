"""SQL for bulk imports: records by code, in one statement per list. Values are parameters."""

from __future__ import annotations

# $1: codes. The current id and version of each zone / incident / task that exists.
ZONES_BY_CODES = "SELECT code, id, version FROM zones WHERE code = ANY($1::text[])"
INCIDENTS_BY_CODES = "SELECT code, id, version FROM incidents WHERE code = ANY($1::text[])"
TASKS_BY_CODES = "SELECT code, id, zone_id FROM tasks WHERE code = ANY($1::text[])"

# An imported incident's casualties replace the ones it had. $1: the incident id.
DELETE_CASUALTIES = "DELETE FROM casualties WHERE incident_id = $1"
