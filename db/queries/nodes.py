"""SQL for records fetched by id for `node(id:)` / `nodes(ids:)`: $1 the ids, in one statement
per type."""

from __future__ import annotations

from db.queries import casualties, incidents, land_releases, progress_reports

INCIDENTS = f"SELECT {incidents.COLUMNS} FROM incidents AS i WHERE i.id = ANY($1::bigint[])"
PROGRESS_REPORTS = (
    f"SELECT {progress_reports.COLUMNS} FROM progress_reports AS r WHERE r.id = ANY($1::bigint[])"
)
LAND_RELEASES = (
    f"SELECT {land_releases.COLUMNS} FROM land_releases AS l WHERE l.id = ANY($1::bigint[])"
)
CASUALTIES = f"SELECT {casualties.COLUMNS} FROM casualties AS c WHERE c.id = ANY($1::bigint[])"
