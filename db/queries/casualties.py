"""SQL for casualties (one row per person). Values are always parameters."""

from __future__ import annotations

COLUMNS = """
c.id, c.incident_id, c.outcome, c.category, c.sex, c.age, c.age_group, c.full_name, c.notes,
c.version, c.created_at, c.updated_at
"""

INSERT = f"""
WITH c AS (
  INSERT INTO casualties (incident_id, outcome, category, sex, age, full_name, notes)
  VALUES ($1, $2, $3, $4, $5, $6, $7)
  RETURNING *
)
SELECT {COLUMNS} FROM c
"""

# $1 incident: how many casualties it has, or null when there is no such incident.
COUNT_OF_INCIDENT = """
SELECT (SELECT count(*) FROM casualties WHERE incident_id = i.id) FROM incidents AS i
WHERE i.id = $1
"""

# Batches for per-request loaders: $1 the incident ids.
BY_INCIDENTS = f"""
SELECT {COLUMNS} FROM casualties AS c
WHERE c.incident_id = ANY($1::bigint[])
ORDER BY c.incident_id, c.id
"""

COUNTS_BY_INCIDENTS = """
SELECT incident_id,
       count(*) FILTER (WHERE outcome = 'KILLED') AS killed,
       count(*) FILTER (WHERE outcome = 'INJURED') AS injured
FROM casualties
WHERE incident_id = ANY($1::bigint[])
GROUP BY incident_id
"""
