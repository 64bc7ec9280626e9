"""SQL for incidents (accidents). Fragments are constants; values are always parameters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from db.queries.listing import Listing, Order
from db.queries.sql import Params

COLUMNS = """
i.id, i.code, i.incident_type, i.occurred_on, ST_AsGeoJSON(i.location)::json AS location,
i.zone_id, i.task_id, i.device_category, i.activity, i.admin1, i.admin2, i.admin_pcode,
i.description, i.source, i.verified, i.version, i.created_at, i.updated_at
"""
LISTING = Listing("incidents", "i", COLUMNS)

BY_ID = f"SELECT {COLUMNS} FROM incidents AS i WHERE i.id = $1"
BY_CODE = f"SELECT {COLUMNS} FROM incidents AS i WHERE i.code = $1"

# A point as the API stores it: 2D, EPSG:4326; {} is the GeoJSON text parameter.
POINT = "ST_Force2D(ST_SetSRID(ST_GeomFromGeoJSON({}), 4326))"

INSERT = f"""
WITH i AS (
  INSERT INTO incidents (code, incident_type, occurred_on, location, zone_id, task_id,
                         device_category, activity, admin1, admin2, admin_pcode, description,
                         source, verified)
  VALUES ($1, $2, $3, {POINT.format("$4")}, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
  RETURNING *
)
SELECT {COLUMNS} FROM i
"""

# What the rules about zone and task need to know before a write: does the zone exist, does
# the task exist and in which zone is it. $1: zone id or null; $2: task id or null.
REFERENCES = """
SELECT EXISTS (SELECT 1 FROM zones WHERE id = $1) AS zone_exists,
       EXISTS (SELECT 1 FROM tasks WHERE id = $2) AS task_exists,
       (SELECT zone_id FROM tasks WHERE id = $2) AS task_zone_id
"""

# The columns updateIncident may set, each as an assignment with one {} placeholder.
SETTABLE = {
    "incident_type": "incident_type = {}",
    "occurred_on": "occurred_on = {}",
    "location": f"location = {POINT}",
    "zone_id": "zone_id = {}",
    "task_id": "task_id = {}",
    "device_category": "device_category = {}",
    "activity": "activity = {}",
    "admin1": "admin1 = {}",
    "admin2": "admin2 = {}",
    "admin_pcode": "admin_pcode = {}",
    "description": "description = {}",
    "source": "source = {}",
    "verified": "verified = {}",
}

VERSION_OF = "SELECT version FROM incidents WHERE id = $1"


def update(changes: dict[str, object], incident_id: int, version: int) -> tuple[str, list[object]]:
    """Return the statement that applies `changes` if the row's version is still `version`."""
    return LISTING.update(SETTABLE, changes, incident_id, version)


# Filter fragments: {} is replaced by a parameter placeholder, never by a value.
OCCURRED_FROM = "i.occurred_on >= {}"
OCCURRED_TO = "i.occurred_on <= {}"
INCIDENT_TYPE_IN = "i.incident_type = ANY({}::text[])"
DEVICE_CATEGORY_IN = "i.device_category = ANY({}::text[])"
ZONE_IS = "i.zone_id = {}"
ADMIN1_IS = "i.admin1 = {}"
IN_BBOX = "i.location && ST_MakeEnvelope({}, {}, {}, {}, 4326)"
NEAR = "ST_DWithin(i.location::geography, ST_SetSRID(ST_MakePoint({}, {}), 4326)::geography, {})"
HAS_CASUALTIES = "EXISTS (SELECT 1 FROM casualties AS c WHERE c.incident_id = i.id)"
HAS_NO_CASUALTIES = "NOT EXISTS (SELECT 1 FROM casualties AS c WHERE c.incident_id = i.id)"


ORDERS: dict[str, Order] = {
    "OCCURRED_ON_DESC": Order("occurred_on", True, "date"),
    "OCCURRED_ON_ASC": Order("occurred_on", False, "date"),
    "CODE_ASC": Order("code", False, "text"),
    "CODE_DESC": Order("code", True, "text"),
}


@dataclass(frozen=True)
class IncidentCriteria:
    """Which incidents a list asks for; every field left None does not filter."""

    occurred_from: date | None = None
    occurred_to: date | None = None
    incident_type: list[str] | None = None
    device_category: list[str] | None = None
    zone_id: int | None = None
    admin1: str | None = None
    bbox: tuple[float, float, float, float] | None = None  # west, south, east, north
    near: tuple[float, float, float] | None = None  # lon, lat, metres
    has_casualties: bool | None = None


def conditions(criteria: IncidentCriteria, params: Params) -> list[str]:
    """Return the WHERE conditions for `criteria`, adding their values to `params`."""
    out: list[str] = []
    if criteria.occurred_from is not None:
        out.append(OCCURRED_FROM.format(params.add(criteria.occurred_from)))
    if criteria.occurred_to is not None:
        out.append(OCCURRED_TO.format(params.add(criteria.occurred_to)))
    if criteria.incident_type is not None:
        out.append(INCIDENT_TYPE_IN.format(params.add(criteria.incident_type)))
    if criteria.device_category is not None:
        out.append(DEVICE_CATEGORY_IN.format(params.add(criteria.device_category)))
    if criteria.zone_id is not None:
        out.append(ZONE_IS.format(params.add(criteria.zone_id)))
    if criteria.admin1 is not None:
        out.append(ADMIN1_IS.format(params.add(criteria.admin1)))
    if criteria.bbox is not None:
        out.append(IN_BBOX.format(*(params.add(v) for v in criteria.bbox)))
    if criteria.near is not None:
        out.append(NEAR.format(*(params.add(v) for v in criteria.near)))
    if criteria.has_casualties is not None:
        out.append(HAS_CASUALTIES if criteria.has_casualties else HAS_NO_CASUALTIES)
    return out


# The first rows of several zones' incident lists at once, most recent first: $1 the zone ids,
# $2 how many rows per zone. A keyset (occurred_on, id) after a cursor narrows every list alike.
_ZONE_PAGES = """
SELECT * FROM (
  SELECT {columns},
         row_number() OVER (PARTITION BY i.zone_id ORDER BY i.occurred_on DESC, i.id DESC) AS rn
  FROM incidents AS i
  WHERE i.zone_id = ANY($1::bigint[]) {keyset}
) AS ranked
WHERE rn <= $2
ORDER BY zone_id, rn
"""
ZONE_PAGES = _ZONE_PAGES.format(columns=COLUMNS, keyset="")
ZONE_PAGES_AFTER = _ZONE_PAGES.format(
    columns=COLUMNS, keyset="AND (i.occurred_on, i.id) < ($3, $4)"
)
ZONE_ORDER = ORDERS["OCCURRED_ON_DESC"]

COUNT_BY_ZONES = """
SELECT zone_id, count(*) AS total FROM incidents
WHERE zone_id = ANY($1::bigint[]) GROUP BY zone_id
"""
