"""Records for the OGC tests, written straight to the database (fast, and known exactly)."""

from __future__ import annotations

import asyncpg

# Zone i (1-based) is a small square with its south-west corner at (i/100, i/100) degrees;
# priority (i % 5) + 1; status OPEN except every 4th zone, which is CLOSED; contamination UXO for
# odd i, AP_MINE for even i.
ZONES = """
INSERT INTO zones (code, name, hazard_type, status, contamination, geometry, priority, admin1,
                   recorded_on)
SELECT format('OGC-Z-%s', lpad(i::text, 3, '0')), format('Zone %s', i),
       CASE WHEN i % 2 = 0 THEN 'SHA' ELSE 'CHA' END,
       CASE WHEN i % 4 = 0 THEN 'CLOSED' ELSE 'OPEN' END,
       CASE WHEN i % 2 = 1 THEN ARRAY['UXO'] ELSE ARRAY['AP_MINE'] END,
       ST_Multi(ST_MakeEnvelope(i / 100.0, i / 100.0, i / 100.0 + 0.005, i / 100.0 + 0.005, 4326)),
       (i % 5) + 1, CASE WHEN i <= 10 THEN 'North' ELSE 'South' END, DATE '2024-01-01' + i
FROM generate_series(1, $1) AS i
"""

# Incident i is a point at (i/100 + 0.001, i/100 + 0.001) on day 2024-01-01 + i*10; every 3rd has
# one killed and one injured casualty, both with a full name that must never leave for the public.
INCIDENTS = """
INSERT INTO incidents (code, incident_type, occurred_on, location, admin1, description, source,
                       verified)
SELECT format('OGC-I-%s', lpad(i::text, 3, '0')), 'MINE_ACCIDENT', DATE '2024-01-01' + i * 10,
       ST_SetSRID(ST_MakePoint(i / 100.0 + 0.001, i / 100.0 + 0.001), 4326),
       'North', 'Private description ' || i, 'Private source ' || i, i % 2 = 0
FROM generate_series(1, $1) AS i
"""
CASUALTIES = """
INSERT INTO casualties (incident_id, outcome, category, sex, age, full_name)
SELECT i.id, o.outcome, 'CIVILIAN', 'FEMALE', 30, 'Secret Person ' || i.code
FROM incidents AS i CROSS JOIN (VALUES ('KILLED'), ('INJURED')) AS o(outcome)
WHERE i.code LIKE 'OGC-I-%' AND right(i.code, 3)::int % 3 = 0
"""
SECRETS = ("Secret Person", "Private description", "Private source")


async def add_records(conn: asyncpg.Connection[asyncpg.Record], zones: int, incidents: int) -> None:
    """Write `zones` zones and `incidents` incidents (with casualties) as described above."""
    await conn.execute(ZONES, zones)
    await conn.execute(INCIDENTS, incidents)
    await conn.execute(CASUALTIES)
