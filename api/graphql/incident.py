"""The Incident type (an accident), its filter, and the queries and mutations about incidents."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import asyncpg
import strawberry

from api.errors import Problems
from api.graphql.casualty import (
    Casualty,
    CasualtyInput,
    casualties_by_incident,
    casualty_counts_by_incident,
)
from api.graphql.context import Info
from api.graphql.enums import Activity, DeviceCategory, IncidentType
from api.graphql.ids import parse_id
from api.graphql.inputs import BBox, Near
from api.graphql.listing import ListQuery, by_id_or_code, keyset_connection
from api.graphql.loaders import many_per_key
from api.graphql.node_interface import Node
from api.graphql.pagination import (
    Connection,
    connection,
    decode_cursor,
    encode_cursor,
    page_size,
)
from api.graphql.scalars import GeoJSON
from api.graphql.zone import Zone, zones_by_id
from api.services import incidents as incident_service
from db.pool import ConnectionSource
from db.queries import incidents as incident_sql

if TYPE_CHECKING:
    from api.graphql.task import Task


@strawberry.enum(
    description="Sort orders of incident lists; ties are broken by id in the same direction."
)
class IncidentOrder(Enum):
    OCCURRED_ON_DESC = "OCCURRED_ON_DESC"
    OCCURRED_ON_ASC = "OCCURRED_ON_ASC"
    CODE_ASC = "CODE_ASC"
    CODE_DESC = "CODE_DESC"


@strawberry.type(description="An accident: an explosion that killed or injured, or could have.")
class Incident(Node):
    id: strawberry.ID
    code: str
    incident_type: IncidentType
    occurred_on: date
    location: GeoJSON = strawberry.field(description="A GeoJSON Point.")
    device_category: DeviceCategory
    activity: Activity
    admin1: str | None
    admin2: str | None
    admin_pcode: str | None
    description: str | None
    source: str | None
    verified: bool
    version: int
    created_at: datetime
    updated_at: datetime
    zone_id: strawberry.Private[int | None]
    task_id: strawberry.Private[int | None]

    @classmethod
    def from_record(cls, row: asyncpg.Record) -> Incident:
        """Build an Incident from a row of incident_sql.COLUMNS."""
        return cls(
            id=strawberry.ID(str(row["id"])),
            code=row["code"],
            incident_type=IncidentType(row["incident_type"]),
            occurred_on=row["occurred_on"],
            location=row["location"],
            device_category=DeviceCategory(row["device_category"]),
            activity=Activity(row["activity"]),
            admin1=row["admin1"],
            admin2=row["admin2"],
            admin_pcode=row["admin_pcode"],
            description=row["description"],
            source=row["source"],
            verified=row["verified"],
            version=row["version"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            zone_id=row["zone_id"],
            task_id=row["task_id"],
        )

    @strawberry.field
    async def zone(self, info: Info) -> Zone | None:
        """The zone the incident happened in, if any (linked by its location when not given)."""
        if self.zone_id is None:
            return None
        found: Zone | None = await info.context.loaders.get(zones_by_id).load(self.zone_id)
        return found

    @strawberry.field
    async def task(self, info: Info) -> Annotated[Task, strawberry.lazy("api.graphql.task")] | None:
        """The task a demining accident happened on, if any."""
        if self.task_id is None:
            return None
        # Imported here, like the type: task modules may come to refer to incidents.
        from api.graphql.task import tasks_by_id

        found: Task | None = await info.context.loaders.get(tasks_by_id).load(self.task_id)
        return found

    @strawberry.field
    async def killed(self, info: Info) -> int:
        """How many casualties were killed."""
        counts = await info.context.loaders.get(casualty_counts_by_incident).load(int(self.id))
        return int(counts[0])

    @strawberry.field
    async def injured(self, info: Info) -> int:
        """How many casualties were injured."""
        counts = await info.context.loaders.get(casualty_counts_by_incident).load(int(self.id))
        return int(counts[1])

    @strawberry.field
    async def casualties(self, info: Info) -> list[Casualty]:
        """The people killed or injured, in the order they were recorded."""
        found: list[Casualty] = await info.context.loaders.get(casualties_by_incident).load(
            int(self.id)
        )
        return found


@strawberry.input(
    description="Which incidents to list; list-valued fields match any of their values."
)
class IncidentFilter:
    from_: date | None = strawberry.field(
        default=None, name="from", description="On or after this date (occurredOn)."
    )
    to: date | None = strawberry.field(
        default=None, description="On or before this date (occurredOn)."
    )
    incident_type: list[IncidentType] | None = None
    device_category: list[DeviceCategory] | None = None
    zone_id: strawberry.ID | None = None
    admin1: str | None = None
    bbox: BBox | None = None
    near: Near | None = strawberry.field(
        default=None, description="Within `meters` of a point, measured on the spheroid."
    )
    has_casualties: bool | None = None

    def criteria(self) -> incident_sql.IncidentCriteria:
        """Return the data layer's criteria, or raise BadUserInput naming each bad field."""
        problems = Problems("filter")
        bbox = self.bbox.check("bbox", problems) if self.bbox else None
        near = self.near.check("near", problems) if self.near else None
        if self.from_ is not None and self.to is not None and self.from_ > self.to:
            problems.add("to", "must not be before from")
        zone_id = parse_id(self.zone_id, "filter.zoneId") if self.zone_id is not None else None
        problems.raise_if_any()
        return incident_sql.IncidentCriteria(
            occurred_from=self.from_,
            occurred_to=self.to,
            incident_type=(
                [t.value for t in self.incident_type] if self.incident_type is not None else None
            ),
            device_category=(
                [d.value for d in self.device_category]
                if self.device_category is not None
                else None
            ),
            zone_id=zone_id,
            admin1=self.admin1,
            bbox=bbox,
            near=near,
            has_casualties=self.has_casualties,
        )


@strawberry.input(description="A new incident, with the people killed or injured in it.")
class RecordIncidentInput:
    code: str
    incident_type: IncidentType
    occurred_on: date = strawberry.field(description="Not in the future.")
    location: GeoJSON = strawberry.field(description="A GeoJSON Point.")
    zone_id: strawberry.ID | None = strawberry.field(
        default=None, description="When left out, the zone the location lies in is linked."
    )
    task_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only for a DEMINING_ACCIDENT."
    )
    device_category: DeviceCategory = DeviceCategory.UNKNOWN
    activity: Activity = Activity.UNKNOWN
    admin1: str | None = None
    admin2: str | None = None
    admin_pcode: str | None = None
    description: str | None = None
    source: str | None = None
    verified: bool = False
    casualties: list[CasualtyInput] | None = None


@strawberry.input(description="Changes to an incident; fields left out stay as they are.")
class UpdateIncidentInput:
    incident_type: IncidentType | None = strawberry.UNSET
    occurred_on: date | None = strawberry.UNSET
    location: GeoJSON | None = strawberry.UNSET
    zone_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="null links the zone the location lies in (or the task's zone).",
    )
    task_id: strawberry.ID | None = strawberry.UNSET
    device_category: DeviceCategory | None = strawberry.UNSET
    activity: Activity | None = strawberry.UNSET
    admin1: str | None = strawberry.UNSET
    admin2: str | None = strawberry.UNSET
    admin_pcode: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    source: str | None = strawberry.UNSET
    verified: bool | None = strawberry.UNSET

    def changes(self) -> dict[str, Any]:
        """Return column -> value for every field the client sent (enums as names, ids parsed)."""
        out: dict[str, Any] = {}
        for name, value in vars(self).items():
            if value is strawberry.UNSET:
                continue
            if isinstance(value, Enum):
                value = value.value
            elif name in ("zone_id", "task_id") and value is not None:
                value = parse_id(value, "input." + ("zoneId" if name == "zone_id" else "taskId"))
            out[name] = value
        return out


async def incident(
    info: Info, id: strawberry.ID | None = None, code: str | None = None
) -> Incident | None:
    """One incident by id or code; null when there is none."""
    row = await by_id_or_code(info, id, code, incident_sql.BY_ID, incident_sql.BY_CODE)
    return Incident.from_record(row) if row else None


async def incidents(
    info: Info,
    filter: IncidentFilter | None = None,
    order_by: IncidentOrder | None = IncidentOrder.OCCURRED_ON_DESC,
    first: int | None = 50,
    after: str | None = None,
) -> Connection[Incident]:
    """A page of incidents in the asked order, after the given cursor."""
    return await keyset_connection(
        info,
        incident_list(filter, order_by),
        build=Incident.from_record,
        first=first,
        after=after,
    )


def incident_list(
    filter: IncidentFilter | None = None, order_by: IncidentOrder | None = None
) -> ListQuery:
    """The incidents a filter and order ask for (BadUserInput naming each bad filter field)."""
    order_by = order_by or IncidentOrder.OCCURRED_ON_DESC
    criteria = filter.criteria() if filter else incident_sql.IncidentCriteria()
    return ListQuery(
        "incidents",
        incident_sql.LISTING,
        order_by.value,
        incident_sql.ORDERS[order_by.value],
        lambda params: incident_sql.conditions(criteria, params),
    )


def _zone_list(zone_id: int) -> str:
    """The cursor list name of one zone's incidents: a cursor of another zone is refused."""
    return f"zones/{zone_id}/incidents"


ZoneIncidentsKey = tuple[int, int, tuple[date, int] | None]  # zone id, rows wanted, keyset


async def incident_pages_by_zone(
    db: ConnectionSource, keys: list[ZoneIncidentsKey]
) -> list[list[asyncpg.Record]]:
    """Batch for a per-request loader: the first rows of each zone's incidents, newest first.

    One statement for all the zones that ask for the same page size after the same keyset,
    which is every zone of a page unless aliases ask for different pages.
    """
    groups: dict[tuple[int, tuple[date, int] | None], list[int]] = defaultdict(list)
    for zone_id, wanted, keyset in keys:
        groups[(wanted, keyset)].append(zone_id)
    pages: dict[ZoneIncidentsKey, list[asyncpg.Record]] = {}
    async with db.acquire() as conn:
        for (wanted, keyset), zone_ids in groups.items():
            if keyset is None:
                rows = await conn.fetch(incident_sql.ZONE_PAGES, zone_ids, wanted)
            else:
                rows = await conn.fetch(
                    incident_sql.ZONE_PAGES_AFTER, zone_ids, wanted, keyset[0], keyset[1]
                )
            for zone_id, group in zip(
                zone_ids, many_per_key(rows, zone_ids, "zone_id"), strict=True
            ):
                pages[(zone_id, wanted, keyset)] = group
    return [pages[key] for key in keys]


async def incident_counts_by_zone(db: ConnectionSource, keys: list[int]) -> list[int]:
    """Batch for a per-request loader: how many incidents each zone has, in one statement."""
    async with db.acquire() as conn:
        rows = await conn.fetch(incident_sql.COUNT_BY_ZONES, keys)
    totals = {r["zone_id"]: int(r["total"]) for r in rows}
    return [totals.get(k, 0) for k in keys]


async def zone_incidents(
    info: Info, zone_id: int, first: int | None, after: str | None
) -> Connection[Incident]:
    """A page of one zone's incidents, most recent first (Zone.incidents), batched by loaders."""
    limit = page_size(first, info.context.settings.max_page_size)
    order = incident_sql.ZONE_ORDER
    order_name = IncidentOrder.OCCURRED_ON_DESC.value
    keyset: tuple[date, int] | None = None
    if after is not None:
        value, record_id = decode_cursor(after, _zone_list(zone_id), order_name, order.kind)
        assert isinstance(value, date)
        keyset = (value, record_id)
    key: ZoneIncidentsKey = (zone_id, limit + 1, keyset)
    rows: list[asyncpg.Record] = await info.context.loaders.get(incident_pages_by_zone).load(key)

    async def count_total() -> int:
        total: int = await info.context.loaders.get(incident_counts_by_zone).load(zone_id)
        return total

    return connection(
        [Incident.from_record(r) for r in rows],
        lambda i: encode_cursor(
            _zone_list(zone_id), order_name, rows[i][order.column], rows[i]["id"]
        ),
        limit=limit,
        has_previous=after is not None,
        count_total=count_total,
    )


def _ids(input: RecordIncidentInput) -> tuple[int | None, int | None]:
    zone_id = parse_id(input.zone_id, "input.zoneId") if input.zone_id is not None else None
    task_id = parse_id(input.task_id, "input.taskId") if input.task_id is not None else None
    return zone_id, task_id


async def record_incident(info: Info, input: RecordIncidentInput) -> Incident:
    """Record an accident and its casualties, all or nothing."""
    zone_id, task_id = _ids(input)
    new = incident_service.NewIncident(
        code=input.code,
        incident_type=input.incident_type.value,
        occurred_on=input.occurred_on,
        location=input.location,
        zone_id=zone_id,
        task_id=task_id,
        device_category=input.device_category.value,
        activity=input.activity.value,
        admin1=input.admin1,
        admin2=input.admin2,
        admin_pcode=input.admin_pcode,
        description=input.description,
        source=input.source,
        verified=input.verified,
        casualties=[c.to_new() for c in input.casualties or []],
    )
    async with info.context.db.acquire() as conn:
        row = await incident_service.record_incident(
            conn, new, max_casualties=info.context.settings.max_casualties_per_incident
        )
    return Incident.from_record(row)


async def update_incident(
    info: Info, id: strawberry.ID, version: int, input: UpdateIncidentInput
) -> Incident:
    """Change an incident if `version` is still current; a stale version is CONFLICT."""
    incident_id = parse_id(id, "id")
    changes = input.changes()
    async with info.context.db.acquire() as conn:
        row = await incident_service.update_incident(conn, incident_id, version, changes)
    return Incident.from_record(row)


@strawberry.type
class IncidentQueries:
    incident: Incident | None = strawberry.field(resolver=incident)
    incidents: Connection[Incident] = strawberry.field(resolver=incidents)


@strawberry.type
class IncidentMutations:
    record_incident: Incident = strawberry.field(resolver=record_incident)
    update_incident: Incident = strawberry.field(resolver=update_incident)
