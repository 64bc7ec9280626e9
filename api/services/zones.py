"""Zone use-cases shared by GraphQL, REST and the CLI: validate, then write in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from api.errors import ConflictError, NotFoundError, Problems
from api.services.geometry import check_geometry
from api.services.rules import check_code, check_enum, check_event_date, check_text
from api.services.transaction import write_transaction
from db.pool import Connection
from db.queries import zones as zone_sql

HAZARD_TYPES = ("SHA", "CHA")
CONTAMINATION = ("AP_MINE", "AV_MINE", "CMR", "UXO", "AXO", "IED", "BOOBY_TRAP")
LAND_USES = ("AGRICULTURAL", "RESIDENTIAL", "INFRASTRUCTURE", "FOREST", "GRAZING", "OTHER")
AREA_SHAPES = ("Polygon", "MultiPolygon")


@dataclass(frozen=True)
class NewZone:
    """What a client supplies to record a hazardous area."""

    code: str
    name: str
    hazard_type: str
    geometry: Any
    contamination: list[str]
    description: str | None = None
    priority: int = 3
    land_use: str | None = None
    admin1: str | None = None
    admin2: str | None = None
    admin_pcode: str | None = None
    recorded_on: date | None = None


# The fields that may not be null, by column, with the input field name a client sees.
_REQUIRED = {
    "name": "name",
    "hazard_type": "hazardType",
    "contamination": "contamination",
    "priority": "priority",
    "geometry": "geometry",
    "recorded_on": "recordedOn",
}


def _check_fields(values: dict[str, Any], problems: Problems) -> None:
    """Check each settable field present in `values` (create and update share this)."""
    nulls = {column for column in _REQUIRED if column in values and values[column] is None}
    for column in nulls:
        problems.add(_REQUIRED[column], "must not be null")
    values = {k: v for k, v in values.items() if k not in nulls}
    if "name" in values:
        check_text(values["name"], "name", problems, max_length=300)
    if "hazard_type" in values:
        check_enum(values["hazard_type"], "hazardType", HAZARD_TYPES, problems)
    if "contamination" in values:
        if not values["contamination"]:
            problems.add("contamination", "must name at least one contamination type")
        for value in values["contamination"]:
            check_enum(value, "contamination", CONTAMINATION, problems)
    if "priority" in values and not 1 <= values["priority"] <= 5:
        problems.add("priority", "must be between 1 (highest) and 5")
    if values.get("land_use") is not None:
        check_enum(values["land_use"], "landUse", LAND_USES, problems)
    if values.get("recorded_on") is not None:
        check_event_date(values["recorded_on"], "recordedOn", problems)


def _ordered(contamination: list[str]) -> list[str]:
    """Contamination without duplicates, in the enumeration's order."""
    return sorted(set(contamination), key=CONTAMINATION.index)


async def _check_not_below_released(
    conn: Connection, zone_id: int, geometry: str, problems: Problems
) -> None:
    """A zone's polygon may not shrink below what has been released from it (DOMAIN.md)."""
    row = await conn.fetchrow(zone_sql.RELEASED_AND_NEW_AREA, zone_id, geometry)
    if row is not None and row["new_area_m2"] < row["released_area_m2"]:
        problems.add(
            "geometry",
            f"its area of {row['new_area_m2']} m² is smaller than the "
            f"{row['released_area_m2']} m² already released from the zone",
        )


async def create_zone(conn: Connection, zone: NewZone) -> asyncpg.Record:
    """Record a new zone and return it, or raise BadUserInput / ConflictError naming the field."""
    problems = Problems("input")
    check_code(zone.code, "code", problems)
    # recordedOn left out means today: only a value that was sent is checked.
    _check_fields(
        {k: v for k, v in vars(zone).items() if v is not None or k != "recorded_on"}, problems
    )
    geometry = await check_geometry(conn, zone.geometry, "geometry", AREA_SHAPES, problems)
    problems.raise_if_any()
    async with write_transaction(conn):
        row = await conn.fetchrow(
            zone_sql.INSERT,
            zone.code,
            zone.name,
            zone.description,
            zone.hazard_type,
            _ordered(zone.contamination),
            geometry,
            zone.priority,
            zone.land_use,
            zone.admin1,
            zone.admin2,
            zone.admin_pcode,
            zone.recorded_on,
        )
    assert row is not None
    return row


async def update_zone(
    conn: Connection, zone_id: int, version: int, changes: dict[str, Any]
) -> asyncpg.Record:
    """Apply `changes` (column -> value) if `version` is current; return the updated zone.

    Raise BadUserInput naming each bad field, NotFoundError for an unknown zone, ConflictError
    when someone else saved first. Nothing is written unless everything is accepted.
    """
    problems = Problems("input")
    unknown = set(changes) - set(zone_sql.SETTABLE)
    if unknown:
        raise ValueError(f"not settable: {sorted(unknown)}")
    _check_fields(changes, problems)
    if changes.get("geometry") is not None:
        checked = await check_geometry(conn, changes["geometry"], "geometry", AREA_SHAPES, problems)
        changes = {**changes, "geometry": checked}
        if checked is not None:
            await _check_not_below_released(conn, zone_id, checked, problems)
    problems.raise_if_any()
    if changes.get("contamination") is not None:
        changes = {**changes, "contamination": _ordered(changes["contamination"])}
    sql, params = zone_sql.update(changes, zone_id, version)
    async with write_transaction(conn):
        row = await conn.fetchrow(sql, *params)
    if row is None:
        current = await conn.fetchval(zone_sql.VERSION_OF, zone_id)
        if current is None:
            raise NotFoundError(f"no zone has id {zone_id}")
        raise ConflictError(
            f"version {version} of zone {zone_id} is no longer current (it is {current}); "
            "read the zone again and reapply your change"
        )
    return row
