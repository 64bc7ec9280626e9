"""Land-release use-case: part or all of a zone released by one method (IMAS 07.11)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg

from api.errors import Problems
from api.services.geometry import check_geometry
from api.services.progress_reports import area_m2
from api.services.rules import check_enum, check_event_date
from api.services.transaction import write_transaction
from db.pool import Connection
from db.queries import land_releases as release_sql

RELEASE_METHODS = ("CANCELLED", "REDUCED", "CLEARED")
AREA_SHAPES = ("Polygon", "MultiPolygon")


@dataclass(frozen=True)
class NewLandRelease:
    """What a client supplies to record a release: an area, or a geometry inside the zone."""

    zone_id: int
    method: str
    released_on: date
    task_id: int | None = None
    area_m2: float | None = None
    geometry: Any = None


def outside_tolerance_m2(area: Decimal) -> float:
    """How much of a release may lie outside its zone: slivers from coordinate rounding.

    The same tolerance as the trigger land_releases_check: 1 m² or 0.1 % of the release.
    """
    return max(1.0, 0.001 * float(area))


async def _measure(
    conn: Connection, zone_id: int, geometry: str, problems: Problems
) -> Decimal | None:
    """Return the release geometry's area, or record why it cannot be released from the zone."""
    row = await conn.fetchrow(release_sql.MEASURE_IN_ZONE, zone_id, geometry)
    assert row is not None  # the zone is locked, so it exists
    area: Decimal = row["area_m2"]
    if area <= 0:
        problems.add("geometry", "must have an area of at least 0.01 m²")
        return None
    if row["outside_m2"] > outside_tolerance_m2(area):
        problems.add(
            "geometry",
            f"must lie inside the zone: {row['outside_m2']:.2f} m² of it lie outside",
        )
        return None
    return area


async def record_land_release(conn: Connection, release: NewLandRelease) -> asyncpg.Record:
    """Record a release and return it; the zone's remaining area shrinks, and at 0 it closes.

    Raise BadUserInput naming every bad field; nothing is written then. Concurrent releases on
    one zone are serialised by a lock on the zone, so together they never exceed its area.
    """
    problems = Problems("input")
    check_enum(release.method, "method", RELEASE_METHODS, problems)
    check_event_date(release.released_on, "releasedOn", problems)
    area: Decimal | None = None
    geometry: str | None = None
    if (release.area_m2 is None) == (release.geometry is None):
        for field in ("areaM2", "geometry"):
            problems.add(field, "give exactly one of areaM2 and geometry")
    elif release.area_m2 is not None:
        area = area_m2(release.area_m2, "areaM2", problems, positive=True)
    else:
        geometry = await check_geometry(conn, release.geometry, "geometry", AREA_SHAPES, problems)
    async with write_transaction(conn):
        zone = await conn.fetchrow(release_sql.LOCK_ZONE, release.zone_id)
        if zone is None:
            problems.add("zoneId", "does not refer to an existing zone")
        if release.task_id is not None:
            task = await conn.fetchrow(release_sql.TASK, release.task_id)
            if task is None:
                problems.add("taskId", "does not refer to an existing task")
            elif zone is not None and task["zone_id"] != release.zone_id:
                problems.add("taskId", f"refers to a task of another zone (zone {task['zone_id']})")
            elif task["started_on"] is not None and release.released_on < task["started_on"]:
                problems.add(
                    "releasedOn",
                    f"must not be before the day the task started ({task['started_on']})",
                )
        if zone is None:
            problems.raise_if_any()
        assert zone is not None
        if release.method == "CANCELLED" and await conn.fetchval(
            release_sql.HAS_CLEARED, release.zone_id
        ):
            problems.add("method", "cannot be CANCELLED: the zone already has a CLEARED release")
        if geometry is not None:
            area = await _measure(conn, release.zone_id, geometry, problems)
        remaining: Decimal = zone["remaining_area_m2"]
        if area is not None and area > remaining:
            closed = " (the zone is CLOSED)" if zone["status"] == "CLOSED" else ""
            if geometry is None:
                problems.add("areaM2", f"exceeds the remaining area of {remaining} m²{closed}")
            else:
                problems.add(
                    "geometry",
                    f"its area of {area} m² exceeds the remaining area of {remaining} m²{closed}",
                )
        problems.raise_if_any()
        row = await conn.fetchrow(
            release_sql.INSERT,
            release.zone_id,
            release.task_id,
            release.method,
            None if geometry is not None else area,
            geometry,
            release.released_on,
        )
    assert row is not None
    return row
