"""The Zone type (a hazardous area), its filter, and the queries and mutations about zones."""

from __future__ import annotations

import json
from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import asyncpg
import strawberry

from api.errors import Problems
from api.graphql.context import Info
from api.graphql.enums import (
    Contamination,
    HazardType,
    LandUse,
    TaskStatus,
    ZoneOrder,
    ZoneStatus,
)
from api.graphql.ids import parse_id
from api.graphql.inputs import BBox, Near
from api.graphql.listing import ListQuery, by_id_or_code, keyset_connection
from api.graphql.loaders import one_per_key
from api.graphql.node_interface import Node
from api.graphql.pagination import (
    Connection,
)
from api.graphql.scalars import GeoJSON
from api.services import geometry as geometry_checks
from api.services import zones as zone_service
from db.pool import ConnectionSource
from db.queries import zones as zone_sql

if TYPE_CHECKING:
    from api.graphql.incident import Incident
    from api.graphql.land_release import LandRelease
    from api.graphql.task import Task


async def _geometry(root: Zone, info: Info) -> Any:
    return await info.context.loaders.get(zone_geometries).load(int(root.id))


@strawberry.type(description="A hazardous area (IMSMA 'Land'): suspected or confirmed.")
class Zone(Node):
    id: strawberry.ID
    code: str
    name: str
    description: str | None
    hazard_type: HazardType
    status: ZoneStatus
    contamination: list[Contamination]
    geometry: GeoJSON = strawberry.field(resolver=_geometry)
    estimated_area_m2: float = strawberry.field(description="Area on the spheroid, in m².")
    released_area_m2: float = strawberry.field(description="Sum of all land releases, in m².")
    remaining_area_m2: float = strawberry.field(description="Estimated minus released, in m².")
    priority: int
    land_use: LandUse | None
    admin1: str | None
    admin2: str | None
    admin_pcode: str | None
    recorded_on: date
    status_changed_on: date | None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_record(cls, row: asyncpg.Record) -> Zone:
        """Build a Zone from a row of zone_sql.COLUMNS."""
        return cls(
            id=strawberry.ID(str(row["id"])),
            code=row["code"],
            name=row["name"],
            description=row["description"],
            hazard_type=HazardType(row["hazard_type"]),
            status=ZoneStatus(row["status"]),
            contamination=[Contamination(c) for c in row["contamination"]],
            estimated_area_m2=float(row["estimated_area_m2"]),
            released_area_m2=float(row["released_area_m2"]),
            remaining_area_m2=float(row["remaining_area_m2"]),
            priority=row["priority"],
            land_use=LandUse(row["land_use"]) if row["land_use"] else None,
            admin1=row["admin1"],
            admin2=row["admin2"],
            admin_pcode=row["admin_pcode"],
            recorded_on=row["recorded_on"],
            status_changed_on=row["status_changed_on"],
            version=row["version"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    @strawberry.field
    async def incidents(
        self, info: Info, first: int | None = 50, after: str | None = None
    ) -> Connection[Annotated[Incident, strawberry.lazy("api.graphql.incident")]]:
        """The incidents linked to this zone, most recent first."""
        # Imported here: api.graphql.incident imports this module for Incident.zone.
        from api.graphql.incident import zone_incidents

        return await zone_incidents(info, int(self.id), first, after)

    @strawberry.field
    async def tasks(
        self, info: Info, status: list[TaskStatus] | None = None
    ) -> list[Annotated[Task, strawberry.lazy("api.graphql.task")]]:
        """The tasks on this zone, oldest first; with `status`, only those in one of them."""
        # Imported here: api.graphql.task imports this module for Task.zone.
        from api.graphql.task import zone_tasks

        return await zone_tasks(self, info, status)

    @strawberry.field
    async def releases(
        self, info: Info
    ) -> list[Annotated[LandRelease, strawberry.lazy("api.graphql.land_release")]]:
        """The land released from this zone, oldest first."""
        # Imported here: api.graphql.land_release imports this module for LandRelease.zone.
        from api.graphql.land_release import zone_releases

        return await zone_releases(self, info)


async def zone_geometries(db: ConnectionSource, keys: list[int]) -> list[Any]:
    """Batch for a per-request loader: each zone's geometry as a GeoJSON object."""
    async with db.acquire() as conn:
        rows = await conn.fetch(zone_sql.GEOMETRIES, keys)
    return [r["geometry"] if r else None for r in one_per_key(rows, keys, "id")]


async def zones_by_id(db: ConnectionSource, keys: list[int]) -> list[Zone | None]:
    """Batch for a per-request loader: the zone of each id (None when missing), in one statement."""
    async with db.acquire() as conn:
        rows = await conn.fetch(zone_sql.BY_IDS, keys)
    return [Zone.from_record(r) if r else None for r in one_per_key(rows, keys, "id")]


@strawberry.input(description="Which zones to list; list-valued fields match any of their values.")
class ZoneFilter:
    status: list[ZoneStatus] | None = None
    hazard_type: list[HazardType] | None = None
    contamination: list[Contamination] | None = None
    priority_at_most: int | None = None
    admin1: str | None = None
    admin2: str | None = None
    search: str | None = strawberry.field(default=None, description="Part of the code or name.")
    bbox: BBox | None = None
    intersects: GeoJSON | None = None
    near: Near | None = None
    updated_since: datetime | None = None

    def criteria(self) -> zone_sql.ZoneCriteria:
        """Return the data layer's criteria, or raise BadUserInput naming each bad field."""
        problems = Problems("filter")
        intersects = None
        if self.intersects is not None:
            reason = geometry_checks.structure_problem(
                self.intersects, ("Point", "Polygon", "MultiPolygon")
            )
            if reason:
                problems.add("intersects", reason)
            else:
                intersects = json.dumps(self.intersects)
        bbox = self.bbox.check("bbox", problems) if self.bbox else None
        near = self.near.check("near", problems) if self.near else None
        if self.search is not None and len(self.search) > 200:
            problems.add("search", "must be at most 200 characters")
        problems.raise_if_any()
        return zone_sql.ZoneCriteria(
            status=[s.value for s in self.status] if self.status is not None else None,
            hazard_type=[h.value for h in self.hazard_type]
            if self.hazard_type is not None
            else None,
            contamination=(
                [c.value for c in self.contamination] if self.contamination is not None else None
            ),
            priority_at_most=self.priority_at_most,
            admin1=self.admin1,
            admin2=self.admin2,
            search=self.search,
            bbox=bbox,
            intersects=intersects,
            near=near,
            updated_since=self.updated_since,
        )


@strawberry.input(description="A new hazardous area.")
class CreateZoneInput:
    code: str
    name: str
    hazard_type: HazardType
    geometry: GeoJSON
    contamination: list[Contamination]
    description: str | None = None
    priority: int = 3
    land_use: LandUse | None = None
    admin1: str | None = None
    admin2: str | None = None
    admin_pcode: str | None = None
    recorded_on: date | None = None


@strawberry.input(description="Changes to a zone; fields left out stay as they are.")
class UpdateZoneInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    hazard_type: HazardType | None = strawberry.UNSET
    contamination: list[Contamination] | None = strawberry.UNSET
    geometry: GeoJSON | None = strawberry.UNSET
    priority: int | None = strawberry.UNSET
    land_use: LandUse | None = strawberry.UNSET
    admin1: str | None = strawberry.UNSET
    admin2: str | None = strawberry.UNSET
    admin_pcode: str | None = strawberry.UNSET
    recorded_on: date | None = strawberry.UNSET

    def changes(self) -> dict[str, Any]:
        """Return column -> value for every field the client sent (enums as their names)."""
        out: dict[str, Any] = {}
        for name, value in vars(self).items():
            if value is strawberry.UNSET:
                continue
            if isinstance(value, Enum):
                value = value.value
            elif isinstance(value, list):
                value = [v.value if isinstance(v, Enum) else v for v in value]
            out[name] = value
        return out


async def zone(info: Info, id: strawberry.ID | None = None, code: str | None = None) -> Zone | None:
    """One zone by id or code; null when there is none."""
    row = await by_id_or_code(info, id, code, zone_sql.BY_ID, zone_sql.BY_CODE)
    return Zone.from_record(row) if row else None


async def zones(
    info: Info,
    filter: ZoneFilter | None = None,
    order_by: ZoneOrder | None = ZoneOrder.PRIORITY_ASC,
    first: int | None = 50,
    after: str | None = None,
) -> Connection[Zone]:
    """A page of zones in the asked order, after the given cursor."""
    return await keyset_connection(
        info, zone_list(filter, order_by), build=Zone.from_record, first=first, after=after
    )


def zone_list(filter: ZoneFilter | None = None, order_by: ZoneOrder | None = None) -> ListQuery:
    """The zones a filter and order ask for (BadUserInput naming each bad filter field)."""
    order_by = order_by or ZoneOrder.PRIORITY_ASC
    criteria = filter.criteria() if filter else zone_sql.ZoneCriteria()
    return ListQuery(
        "zones",
        zone_sql.LISTING,
        order_by.value,
        zone_sql.ORDERS[order_by.value],
        lambda params: zone_sql.conditions(criteria, params),
    )


async def create_zone(info: Info, input: CreateZoneInput) -> Zone:
    """Record a hazardous area; its area is computed on the spheroid."""
    data: dict[str, Any] = {
        "code": input.code,
        "name": input.name,
        "hazard_type": input.hazard_type.value,
        "geometry": input.geometry,
        "contamination": [c.value for c in input.contamination],
        "description": input.description,
        "priority": input.priority,
        "land_use": input.land_use.value if input.land_use else None,
        "admin1": input.admin1,
        "admin2": input.admin2,
        "admin_pcode": input.admin_pcode,
        "recorded_on": input.recorded_on,
    }
    async with info.context.db.acquire() as conn:
        row = await zone_service.create_zone(conn, zone_service.NewZone(**data))
    return Zone.from_record(row)


async def update_zone(info: Info, id: strawberry.ID, version: int, input: UpdateZoneInput) -> Zone:
    """Change a zone if `version` is still current; a stale version is CONFLICT."""
    zone_id = parse_id(id, "id")
    async with info.context.db.acquire() as conn:
        row = await zone_service.update_zone(conn, zone_id, version, input.changes())
    return Zone.from_record(row)


@strawberry.type
class ZoneQueries:
    zone: Zone | None = strawberry.field(resolver=zone)
    zones: Connection[Zone] = strawberry.field(resolver=zones)


@strawberry.type
class ZoneMutations:
    create_zone: Zone = strawberry.field(resolver=create_zone)
    update_zone: Zone = strawberry.field(resolver=update_zone)
