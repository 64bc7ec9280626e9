"""Zone use-cases shared by GraphQL, REST and the CLI: validate, then write in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from api.errors import Problems, from_domain
from api.services.geometry import check_geometry
from api.services.rules import check_code, check_enum, check_text, today
from db.errors import translate
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


async def create_zone(conn: Connection, zone: NewZone) -> asyncpg.Record:
    """Record a new zone and return it, or raise BadUserInput / ConflictError naming the field."""
    problems = Problems("input")
    check_code(zone.code, "code", problems)
    check_text(zone.name, "name", problems, max_length=300)
    check_enum(zone.hazard_type, "hazardType", HAZARD_TYPES, problems)
    if not zone.contamination:
        problems.add("contamination", "must name at least one contamination type")
    for value in zone.contamination:
        check_enum(value, "contamination", CONTAMINATION, problems)
    if not 1 <= zone.priority <= 5:
        problems.add("priority", "must be between 1 (highest) and 5")
    if zone.land_use is not None:
        check_enum(zone.land_use, "landUse", LAND_USES, problems)
    if zone.recorded_on is not None and zone.recorded_on > today():
        problems.add("recordedOn", "must not be in the future")
    geometry = await check_geometry(conn, zone.geometry, "geometry", AREA_SHAPES, problems)
    problems.raise_if_any()
    try:
        async with conn.transaction():
            row = await conn.fetchrow(
                zone_sql.INSERT,
                zone.code,
                zone.name,
                zone.description,
                zone.hazard_type,
                sorted(set(zone.contamination), key=CONTAMINATION.index),
                geometry,
                zone.priority,
                zone.land_use,
                zone.admin1,
                zone.admin2,
                zone.admin_pcode,
                zone.recorded_on,
            )
    except asyncpg.PostgresError as exc:
        domain = translate(exc)
        if domain is None:
            raise
        raise from_domain(domain) from exc
    assert row is not None
    return row
