"""SQL for zones (hazardous areas). Fragments are constants; values are always parameters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.queries.listing import Listing, Order
from db.queries.sql import Params

COLUMNS = """
z.id, z.code, z.name, z.description, z.hazard_type, z.status, z.contamination,
z.estimated_area_m2, z.released_area_m2, z.remaining_area_m2, z.priority, z.land_use,
z.admin1, z.admin2, z.admin_pcode, z.recorded_on, z.status_changed_on, z.version,
z.created_at, z.updated_at
"""
LISTING = Listing("zones", "z", COLUMNS)

BY_ID = f"SELECT {COLUMNS} FROM zones AS z WHERE z.id = $1"
BY_CODE = f"SELECT {COLUMNS} FROM zones AS z WHERE z.code = $1"
BY_IDS = f"SELECT {COLUMNS} FROM zones AS z WHERE z.id = ANY($1::bigint[])"
# Geometry is the heavy part of a zone: fetched only for the zones whose geometry is asked for.
GEOMETRIES = (
    "SELECT id, ST_AsGeoJSON(geometry)::json AS geometry FROM zones WHERE id = ANY($1::bigint[])"
)

INSERT = f"""
WITH z AS (
  INSERT INTO zones (code, name, description, hazard_type, contamination, geometry, priority,
                     land_use, admin1, admin2, admin_pcode, recorded_on)
  VALUES ($1, $2, $3, $4, $5::text[],
          ST_Multi(ST_Force2D(ST_SetSRID(ST_GeomFromGeoJSON($6), 4326))),
          $7, $8, $9, $10, $11, COALESCE($12, current_date))
  RETURNING *
)
SELECT {COLUMNS} FROM z
"""

# The columns updateZone may set, each as an assignment with one {} placeholder.
SETTABLE = {
    "name": "name = {}",
    "description": "description = {}",
    "hazard_type": "hazard_type = {}",
    "contamination": "contamination = {}::text[]",
    "geometry": "geometry = ST_Multi(ST_Force2D(ST_SetSRID(ST_GeomFromGeoJSON({}), 4326)))",
    "priority": "priority = {}",
    "land_use": "land_use = {}",
    "admin1": "admin1 = {}",
    "admin2": "admin2 = {}",
    "admin_pcode": "admin_pcode = {}",
    "recorded_on": "recorded_on = {}",
}

VERSION_OF = "SELECT version FROM zones WHERE id = $1"

# $1 zone, $2 a new geometry as GeoJSON text: the area already released from the zone and the
# area the zone would have (as zones_compute_area computes it); no row for an unknown zone.
RELEASED_AND_NEW_AREA = """
SELECT released_area_m2,
       round(ST_Area(ST_Force2D(ST_GeomFromGeoJSON($2::text))::geography)::numeric, 2)
           AS new_area_m2
FROM zones WHERE id = $1
"""


def update(changes: dict[str, object], zone_id: int, version: int) -> tuple[str, list[object]]:
    """Return the statement that applies `changes` if the row's version is still `version`."""
    return LISTING.update(SETTABLE, changes, zone_id, version)


# Filter fragments: {} is replaced by a parameter placeholder, never by a value.
STATUS_IN = "z.status = ANY({}::text[])"
HAZARD_TYPE_IN = "z.hazard_type = ANY({}::text[])"
CONTAMINATION_ANY = "z.contamination && {}::text[]"
PRIORITY_AT_MOST = "z.priority <= {}"
ADMIN1_IS = "z.admin1 = {}"
ADMIN2_IS = "z.admin2 = {}"
# Code or name, case-insensitive; backed by trigram indexes on lower(code) and lower(name).
SEARCH = "(lower(z.code) LIKE {0} OR lower(z.name) LIKE {0})"
IN_BBOX = "z.geometry && ST_MakeEnvelope({}, {}, {}, {}, 4326)"
INTERSECTS = "ST_Intersects(z.geometry, ST_SetSRID(ST_GeomFromGeoJSON({}), 4326))"
NEAR = "ST_DWithin(z.geometry::geography, ST_SetSRID(ST_MakePoint({}, {}), 4326)::geography, {})"
UPDATED_SINCE = "z.updated_at >= {}"


ORDERS: dict[str, Order] = {
    "PRIORITY_ASC": Order("priority", False, "int"),
    "PRIORITY_DESC": Order("priority", True, "int"),
    "CODE_ASC": Order("code", False, "text"),
    "CODE_DESC": Order("code", True, "text"),
    "RECORDED_ON_ASC": Order("recorded_on", False, "date"),
    "RECORDED_ON_DESC": Order("recorded_on", True, "date"),
    "UPDATED_AT_ASC": Order("updated_at", False, "timestamptz"),
    "UPDATED_AT_DESC": Order("updated_at", True, "timestamptz"),
    "REMAINING_AREA_ASC": Order("remaining_area_m2", False, "numeric"),
    "REMAINING_AREA_DESC": Order("remaining_area_m2", True, "numeric"),
}


@dataclass(frozen=True)
class ZoneCriteria:
    """Which zones a list asks for; every field left None does not filter."""

    status: list[str] | None = None
    hazard_type: list[str] | None = None
    contamination: list[str] | None = None
    priority_at_most: int | None = None
    admin1: str | None = None
    admin2: str | None = None
    search: str | None = None
    bbox: tuple[float, float, float, float] | None = None  # west, south, east, north
    intersects: str | None = None  # GeoJSON geometry text
    near: tuple[float, float, float] | None = None  # lon, lat, metres
    updated_since: datetime | None = None


def conditions(criteria: ZoneCriteria, params: Params) -> list[str]:
    """Return the WHERE conditions for `criteria`, adding their values to `params`."""
    out: list[str] = []
    if criteria.status is not None:
        out.append(STATUS_IN.format(params.add(criteria.status)))
    if criteria.hazard_type is not None:
        out.append(HAZARD_TYPE_IN.format(params.add(criteria.hazard_type)))
    if criteria.contamination is not None:
        out.append(CONTAMINATION_ANY.format(params.add(criteria.contamination)))
    if criteria.priority_at_most is not None:
        out.append(PRIORITY_AT_MOST.format(params.add(criteria.priority_at_most)))
    if criteria.admin1 is not None:
        out.append(ADMIN1_IS.format(params.add(criteria.admin1)))
    if criteria.admin2 is not None:
        out.append(ADMIN2_IS.format(params.add(criteria.admin2)))
    if criteria.search:
        out.append(SEARCH.format(params.add(f"%{escape_like(criteria.search.lower())}%")))
    if criteria.bbox is not None:
        out.append(IN_BBOX.format(*(params.add(v) for v in criteria.bbox)))
    if criteria.intersects is not None:
        out.append(INTERSECTS.format(params.add(criteria.intersects)))
    if criteria.near is not None:
        out.append(NEAR.format(*(params.add(v) for v in criteria.near)))
    if criteria.updated_since is not None:
        out.append(UPDATED_SINCE.format(params.add(criteria.updated_since)))
    return out


def escape_like(text: str) -> str:
    """Escape LIKE's wildcards so that a search matches the text literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
