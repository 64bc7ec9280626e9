"""The Task type (IMSMA 'Activity'), its filter, and the queries and mutations about tasks.

Zone and Team import this module for their `tasks` fields, so this module imports their
modules (and those of progress reports and releases) only inside resolvers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import asyncpg
import strawberry

from api.errors import BadUserInput, Problems
from api.graphql.context import Info
from api.graphql.enums import Asset, TaskStatus, TaskType
from api.graphql.ids import parse_id
from api.graphql.listing import ListQuery, by_id_or_code, keyset_connection
from api.graphql.loaders import one_per_key
from api.graphql.node_interface import Node
from api.graphql.pagination import Connection
from api.services import tasks as task_service
from db.pool import ConnectionSource
from db.queries import tasks as task_sql

if TYPE_CHECKING:
    from api.graphql.land_release import LandRelease
    from api.graphql.progress_report import ProgressReport
    from api.graphql.team import Team
    from api.graphql.zone import Zone

# A loader key for "the tasks of a parent": (parent id, the statuses asked for or None for all).
StatusKey = tuple[int, tuple[str, ...] | None]


async def _zone(root: Task, info: Info) -> Annotated[Zone, strawberry.lazy("api.graphql.zone")]:
    from api.graphql.zone import zones_by_id

    zone: Zone | None = await info.context.loaders.get(zones_by_id).load(root.zone_id)
    assert zone is not None  # tasks.zone_id is a foreign key
    return zone


async def _teams(
    root: Task, info: Info
) -> list[Annotated[Team, strawberry.lazy("api.graphql.team")]]:
    from api.graphql.team import teams_by_id

    teams: list[Team | None] = await info.context.loaders.get(teams_by_id).load_many(root.team_ids)
    return [t for t in teams if t is not None]


async def _progress_reports(
    root: Task, info: Info
) -> list[Annotated[ProgressReport, strawberry.lazy("api.graphql.progress_report")]]:
    from api.graphql.progress_report import reports_of_tasks

    reports: list[ProgressReport] = await info.context.loaders.get(reports_of_tasks).load(
        int(root.id)
    )
    return reports


async def _releases(
    root: Task, info: Info
) -> list[Annotated[LandRelease, strawberry.lazy("api.graphql.land_release")]]:
    from api.graphql.land_release import releases_of_tasks

    releases: list[LandRelease] = await info.context.loaders.get(releases_of_tasks).load(
        int(root.id)
    )
    return releases


@strawberry.type(description="The assignment of teams to work on a zone (IMSMA 'Activity').")
class Task(Node):
    id: strawberry.ID
    code: str
    task_type: TaskType
    status: TaskStatus
    assets: list[Asset]
    planned_start: date | None
    planned_end: date | None
    started_on: date | None = strawberry.field(
        description="The day the task first became ONGOING; resuming does not change it."
    )
    completed_on: date | None
    version: int
    created_at: datetime
    updated_at: datetime
    zone_id: strawberry.Private[int]
    team_ids: strawberry.Private[list[int]]
    zone: Annotated[Zone, strawberry.lazy("api.graphql.zone")] = strawberry.field(resolver=_zone)
    teams: list[Annotated[Team, strawberry.lazy("api.graphql.team")]] = strawberry.field(
        resolver=_teams, description="One team or more, in id order."
    )
    progress_reports: list[
        Annotated[ProgressReport, strawberry.lazy("api.graphql.progress_report")]
    ] = strawberry.field(resolver=_progress_reports, description="Oldest report first.")
    releases: list[Annotated[LandRelease, strawberry.lazy("api.graphql.land_release")]] = (
        strawberry.field(resolver=_releases, description="Land released by this task.")
    )

    @classmethod
    def from_record(cls, row: asyncpg.Record) -> Task:
        """Build a Task from a row of task_sql.COLUMNS."""
        return cls(
            id=strawberry.ID(str(row["id"])),
            code=row["code"],
            task_type=TaskType(row["task_type"]),
            status=TaskStatus(row["status"]),
            assets=[Asset(a) for a in row["assets"]],
            planned_start=row["planned_start"],
            planned_end=row["planned_end"],
            started_on=row["started_on"],
            completed_on=row["completed_on"],
            version=row["version"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            zone_id=row["zone_id"],
            team_ids=list(row["team_ids"]),
        )


async def tasks_by_id(db: ConnectionSource, keys: list[int]) -> list[Task | None]:
    """Batch for a per-request loader: the task of each id (None when missing), in one statement."""
    async with db.acquire() as conn:
        rows = await conn.fetch(task_sql.BY_IDS, keys)
    return [Task.from_record(r) if r else None for r in one_per_key(rows, keys, "id")]


def _statuses_wanted(keys: Sequence[StatusKey]) -> list[str] | None:
    """The statuses one statement must fetch to answer every key (None: all of them)."""
    if any(statuses is None for _, statuses in keys):
        return None
    return sorted({s for _, statuses in keys for s in statuses or ()})


def _group(
    rows: Sequence[asyncpg.Record], keys: Sequence[StatusKey], column: str
) -> list[list[Task]]:
    """The tasks of each (parent, statuses) key, in id order."""
    by_parent: dict[int, list[asyncpg.Record]] = {}
    for row in rows:
        by_parent.setdefault(row[column], []).append(row)
    return [
        [
            Task.from_record(r)
            for r in by_parent.get(parent, [])
            if statuses is None or r["status"] in statuses
        ]
        for parent, statuses in keys
    ]


async def tasks_of_zones(db: ConnectionSource, keys: list[StatusKey]) -> list[list[Task]]:
    """Batch: the tasks of each zone with one of the statuses (all when None), in one statement."""
    zone_ids = sorted({zone_id for zone_id, _ in keys})
    async with db.acquire() as conn:
        rows = await conn.fetch(task_sql.BY_ZONE_IDS, zone_ids, _statuses_wanted(keys))
    return _group(rows, keys, "zone_id")


async def tasks_of_teams(db: ConnectionSource, keys: list[StatusKey]) -> list[list[Task]]:
    """Batch: the tasks of each team with one of the statuses (all when None), in one statement."""
    team_ids = sorted({team_id for team_id, _ in keys})
    async with db.acquire() as conn:
        rows = await conn.fetch(task_sql.BY_TEAM_IDS, team_ids, _statuses_wanted(keys))
    return _group(rows, keys, "of_team_id")


def _status_key(parent_id: strawberry.ID, status: list[TaskStatus] | None) -> StatusKey:
    statuses = tuple(sorted({s.value for s in status})) if status is not None else None
    return int(parent_id), statuses


async def zone_tasks(root: Zone, info: Info, status: list[TaskStatus] | None = None) -> list[Task]:
    """The tasks of a zone (resolver of Zone.tasks), with one of the statuses when given."""
    found: list[Task] = await info.context.loaders.get(tasks_of_zones).load(
        _status_key(root.id, status)
    )
    return found


async def team_tasks(root: Team, info: Info, status: list[TaskStatus] | None = None) -> list[Task]:
    """The tasks a team is on (resolver of Team.tasks), with one of the statuses when given."""
    found: list[Task] = await info.context.loaders.get(tasks_of_teams).load(
        _status_key(root.id, status)
    )
    return found


def _ids(values: Sequence[strawberry.ID], field: str, problems: Problems) -> list[int]:
    """Parse every ID of a list, recording each malformed one under `field[i]`."""
    out: list[int] = []
    for i, value in enumerate(values):
        try:
            out.append(parse_id(value, f"{field}[{i}]"))
        except BadUserInput as bad:
            problems.fields.extend(bad.fields)
    return out


def _optional_id(value: strawberry.ID | None, field: str, problems: Problems) -> int | None:
    """Parse an optional ID, recording a malformed one under `field`."""
    if value is None:
        return None
    try:
        return parse_id(value, field)
    except BadUserInput as bad:
        problems.fields.extend(bad.fields)
        return None


@strawberry.input(description="Which tasks to list; list-valued fields match any of their values.")
class TaskFilter:
    status: list[TaskStatus] | None = None
    task_type: list[TaskType] | None = None
    zone_id: strawberry.ID | None = None
    team_id: strawberry.ID | None = strawberry.field(
        default=None, description="Tasks this team is on."
    )
    planned_from: date | None = strawberry.field(
        default=None, description="Tasks planned to end (or, without an end, start) on or after."
    )
    planned_to: date | None = strawberry.field(
        default=None, description="Tasks planned to start on or before this day."
    )

    def criteria(self) -> task_sql.TaskCriteria:
        """Return the data layer's criteria, or raise BadUserInput naming each bad field."""
        problems = Problems("filter")
        zone_id = _optional_id(self.zone_id, "filter.zoneId", problems)
        team_id = _optional_id(self.team_id, "filter.teamId", problems)
        if self.planned_from and self.planned_to and self.planned_to < self.planned_from:
            problems.add("plannedTo", "must not be before plannedFrom")
        problems.raise_if_any()
        return task_sql.TaskCriteria(
            status=[s.value for s in self.status] if self.status is not None else None,
            task_type=[t.value for t in self.task_type] if self.task_type is not None else None,
            zone_id=zone_id,
            team_id=team_id,
            planned_from=self.planned_from,
            planned_to=self.planned_to,
        )


@strawberry.input(description="A new task: teams assigned to work on a zone. It starts PLANNED.")
class CreateTaskInput:
    zone_id: strawberry.ID
    task_type: TaskType
    team_ids: list[strawberry.ID] = strawberry.field(
        description="One team or more; none INACTIVE, none with an expired accreditation."
    )
    planned_start: date | None = None
    planned_end: date | None = None
    assets: list[Asset] = strawberry.field(default_factory=list)
    code: str | None = strawberry.field(
        default=None,
        description=(
            "A unique code; when left out, TASK- and the task's id padded to six digits "
            "(TASK-000042). Codes of that form are reserved for generated ones."
        ),
    )


async def task(info: Info, id: strawberry.ID | None = None, code: str | None = None) -> Task | None:
    """One task by id or code; null when there is none."""
    row = await by_id_or_code(info, id, code, task_sql.BY_ID, task_sql.BY_CODE)
    return Task.from_record(row) if row else None


async def tasks(
    info: Info,
    filter: TaskFilter | None = None,
    first: int | None = 50,
    after: str | None = None,
) -> Connection[Task]:
    """A page of tasks, oldest first, after the given cursor."""
    return await keyset_connection(
        info, task_list(filter), build=Task.from_record, first=first, after=after
    )


def task_list(filter: TaskFilter | None = None) -> ListQuery:
    """The tasks a filter asks for, oldest first (BadUserInput naming each bad filter field)."""
    criteria = filter.criteria() if filter else task_sql.TaskCriteria()
    return ListQuery(
        "tasks",
        task_sql.LISTING,
        "ID_ASC",
        task_sql.BY_ID_ORDER,
        lambda params: task_sql.conditions(criteria, params),
    )


async def create_task(info: Info, input: CreateTaskInput) -> Task:
    """Plan a task on a zone with one team or more."""
    problems = Problems("")
    zone_id = _optional_id(input.zone_id, "input.zoneId", problems)
    team_ids = _ids(input.team_ids, "input.teamIds", problems)
    problems.raise_if_any()
    assert zone_id is not None
    new = task_service.NewTask(
        zone_id=zone_id,
        task_type=input.task_type.value,
        team_ids=team_ids,
        planned_start=input.planned_start,
        planned_end=input.planned_end,
        assets=[a.value for a in input.assets],
        code=input.code,
    )
    async with info.context.db.acquire() as conn:
        row = await task_service.create_task(conn, new)
    return Task.from_record(row)


async def set_task_status(
    info: Info,
    id: strawberry.ID,
    status: TaskStatus,
    on: date | None = None,
) -> Task:
    """Move a task: PLANNED → ONGOING or CANCELLED, ONGOING → SUSPENDED or COMPLETED,
    SUSPENDED → ONGOING or CANCELLED. `on` (default today) is recorded as startedOn the first
    time the task becomes ONGOING and as completedOn when it is COMPLETED."""
    task_id = parse_id(id, "id")
    async with info.context.db.acquire() as conn:
        row = await task_service.set_task_status(conn, task_id, status.value, on)
    return Task.from_record(row)


@strawberry.type
class TaskQueries:
    task: Task | None = strawberry.field(resolver=task)
    tasks: Connection[Task] = strawberry.field(resolver=tasks)


@strawberry.type
class TaskMutations:
    create_task: Task = strawberry.field(resolver=create_task)
    set_task_status: Task = strawberry.field(resolver=set_task_status)
