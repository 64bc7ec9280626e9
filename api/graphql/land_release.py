"""The LandRelease type and the recordLandRelease mutation.

Zone imports this module for its `releases` field, so the zone module is imported here only
inside a resolver.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import asyncpg
import strawberry

from api.errors import BadUserInput, Problems
from api.graphql.context import Info
from api.graphql.enums import ReleaseMethod
from api.graphql.ids import parse_id
from api.graphql.loaders import many_per_key
from api.graphql.node_interface import Node
from api.graphql.scalars import GeoJSON
from api.graphql.task import Task, tasks_by_id
from api.services import land_releases as release_service
from db.pool import ConnectionSource
from db.queries import land_releases as release_sql

if TYPE_CHECKING:
    from api.graphql.zone import Zone


async def _zone(
    root: LandRelease, info: Info
) -> Annotated[Zone, strawberry.lazy("api.graphql.zone")]:
    from api.graphql.zone import zones_by_id

    zone: Zone | None = await info.context.loaders.get(zones_by_id).load(root.zone_id)
    assert zone is not None  # land_releases.zone_id is a foreign key
    return zone


async def _task(root: LandRelease, info: Info) -> Task | None:
    if root.task_id is None:
        return None
    task: Task | None = await info.context.loaders.get(tasks_by_id).load(root.task_id)
    return task


@strawberry.type(description="Part or all of a zone released by one method (IMAS 07.11).")
class LandRelease(Node):
    id: strawberry.ID
    method: ReleaseMethod
    area_m2: float = strawberry.field(description="Released area in m², on the spheroid.")
    geometry: GeoJSON | None = strawberry.field(description="The released part, when mapped.")
    released_on: date
    created_at: datetime
    zone_id: strawberry.Private[int]
    task_id: strawberry.Private[int | None]
    zone: Annotated[Zone, strawberry.lazy("api.graphql.zone")] = strawberry.field(resolver=_zone)
    task: Task | None = strawberry.field(resolver=_task)

    @classmethod
    def from_record(cls, row: asyncpg.Record) -> LandRelease:
        """Build a LandRelease from a row of release_sql.COLUMNS."""
        return cls(
            id=strawberry.ID(str(row["id"])),
            method=ReleaseMethod(row["method"]),
            area_m2=float(row["area_m2"]),
            geometry=row["geometry"],
            released_on=row["released_on"],
            created_at=row["created_at"],
            zone_id=row["zone_id"],
            task_id=row["task_id"],
        )


async def _releases_by(
    db: ConnectionSource, sql: str, keys: list[int], column: str
) -> list[list[LandRelease]]:
    async with db.acquire() as conn:
        rows = await conn.fetch(sql, keys)
    return [
        [LandRelease.from_record(r) for r in group] for group in many_per_key(rows, keys, column)
    ]


async def releases_of_zones(db: ConnectionSource, keys: list[int]) -> list[list[LandRelease]]:
    """Batch: the releases of each zone, oldest first, in one statement."""
    return await _releases_by(db, release_sql.BY_ZONE_IDS, keys, "zone_id")


async def releases_of_tasks(db: ConnectionSource, keys: list[int]) -> list[list[LandRelease]]:
    """Batch: the releases of each task, oldest first, in one statement."""
    return await _releases_by(db, release_sql.BY_TASK_IDS, keys, "task_id")


async def zone_releases(root: Zone, info: Info) -> list[LandRelease]:
    """The releases of a zone, oldest first (resolver of Zone.releases)."""
    releases: list[LandRelease] = await info.context.loaders.get(releases_of_zones).load(
        int(root.id)
    )
    return releases


@strawberry.input(description="A release of part or all of a zone: give areaM2 or geometry.")
class LandReleaseInput:
    zone_id: strawberry.ID
    method: ReleaseMethod = strawberry.field(
        description="CANCELLED is refused once the zone has a CLEARED release."
    )
    released_on: date = strawberry.field(description="Not in the future.")
    task_id: strawberry.ID | None = strawberry.field(
        default=None, description="The task that released it: one of the zone's tasks."
    )
    area_m2: float | None = strawberry.field(
        default=None, description="In m²; at most the zone's remaining area. Or give geometry."
    )
    geometry: GeoJSON | None = strawberry.field(
        default=None,
        description="A Polygon or MultiPolygon inside the zone; the area is computed from it "
        "on the spheroid. Or give areaM2.",
    )


async def record_land_release(info: Info, input: LandReleaseInput) -> LandRelease:
    """Record a release; the zone's remaining area shrinks and the zone closes at 0."""
    problems = Problems("")
    ids: dict[str, int | None] = {}
    for field, value in (("zoneId", input.zone_id), ("taskId", input.task_id)):
        try:
            ids[field] = parse_id(value, f"input.{field}") if value is not None else None
        except BadUserInput as bad:
            problems.fields.extend(bad.fields)
    problems.raise_if_any()
    zone_id = ids["zoneId"]
    assert zone_id is not None
    release = release_service.NewLandRelease(
        zone_id=zone_id,
        method=input.method.value,
        released_on=input.released_on,
        task_id=ids["taskId"],
        area_m2=input.area_m2,
        geometry=input.geometry,
    )
    async with info.context.db.acquire() as conn:
        row = await release_service.record_land_release(conn, release)
    return LandRelease.from_record(row)


@strawberry.type
class LandReleaseMutations:
    record_land_release: LandRelease = strawberry.field(
        resolver=record_land_release,
        description="Release part or all of a zone; the zone closes when nothing remains.",
    )
