"""Task use-cases: plan a task with its teams, and move it along its allowed statuses."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

import asyncpg

from api.errors import NotFoundError, Problems
from api.services.rules import check_code, check_enum, today
from api.services.transaction import write_transaction
from db.pool import Connection
from db.queries import tasks as task_sql

TASK_TYPES = ("NTS", "TS", "CLEARANCE", "BAC", "EOD_SPOT")
TASK_STATUSES = ("PLANNED", "ONGOING", "SUSPENDED", "COMPLETED", "CANCELLED")
ASSETS = ("MANUAL", "MDD", "MECHANICAL")
# The allowed moves (DOMAIN.md); the trigger tasks_check_status holds the same table.
MOVES: dict[str, tuple[str, ...]] = {
    "PLANNED": ("ONGOING", "CANCELLED"),
    "ONGOING": ("SUSPENDED", "COMPLETED"),
    "SUSPENDED": ("ONGOING", "CANCELLED"),
    "COMPLETED": (),
    "CANCELLED": (),
}
# Generated codes look like this; a client may not take one, so that generating never collides.
GENERATED_CODE = re.compile(r"^TASK-[0-9]+$")


@dataclass(frozen=True)
class NewTask:
    """What a client supplies to plan a task."""

    zone_id: int
    task_type: str
    team_ids: list[int]
    planned_start: date | None = None
    planned_end: date | None = None
    assets: list[str] = field(default_factory=list)
    code: str | None = None


async def check_teams(conn: Connection, team_ids: list[int], problems: Problems) -> list[int]:
    """Record why any team cannot be put on a task; return the distinct ids in the given order."""
    distinct = list(dict.fromkeys(team_ids))
    if not distinct:
        problems.add("teamIds", "must name at least one team")
        return distinct
    teams = {r["id"]: r for r in await conn.fetch(task_sql.TEAMS_AVAILABILITY, distinct)}
    for team_id in distinct:
        place = f"teamIds[{team_ids.index(team_id)}]"
        team = teams.get(team_id)
        if team is None:
            problems.add(place, "does not refer to an existing team")
        elif team["status"] == "INACTIVE":
            problems.add(place, f"team {team['code']} is INACTIVE and cannot be put on a task")
        elif (expires := team["accreditation_expires_on"]) is not None and expires < today():
            problems.add(
                place,
                f"the accreditation of team {team['code']} expired on {expires.isoformat()}",
            )
    return distinct


async def create_task(conn: Connection, task: NewTask) -> asyncpg.Record:
    """Plan a task on a zone with its teams and return it; it starts PLANNED.

    Raise BadUserInput naming every bad field, ConflictError for a code already used.
    """
    problems = Problems("input")
    if task.code is not None:
        check_code(task.code, "code", problems)
        if GENERATED_CODE.match(task.code):
            problems.add("code", "codes TASK-<number> are reserved for generated codes")
    check_enum(task.task_type, "taskType", TASK_TYPES, problems)
    for asset in task.assets:
        check_enum(asset, "assets", ASSETS, problems)
    if (
        task.planned_start is not None
        and task.planned_end is not None
        and task.planned_end < task.planned_start
    ):
        problems.add("plannedEnd", "must not be before the planned start")
    if not await conn.fetchval(task_sql.ZONE_EXISTS, task.zone_id):
        problems.add("zoneId", "does not refer to an existing zone")
    team_ids = await check_teams(conn, task.team_ids, problems)
    problems.raise_if_any()
    assets = sorted(set(task.assets), key=ASSETS.index)
    async with write_transaction(conn):
        task_id = await conn.fetchval(
            task_sql.INSERT,
            task.code,
            task.zone_id,
            task.task_type,
            task.planned_start,
            task.planned_end,
            assets,
            team_ids,
        )
        row = await conn.fetchrow(task_sql.BY_ID, task_id)
    assert row is not None
    return row


def _move_problem(current: str, wanted: str) -> str | None:
    """Why a task cannot move from `current` to `wanted`, or None when it can."""
    allowed = MOVES[current]
    if wanted in allowed:
        return None
    if not allowed:
        return f"the task is {current} and can no longer change status"
    if wanted == current:
        return f"the task is already {current}"
    return f"a {current} task can move only to {' or '.join(allowed)}, not to {wanted}"


async def set_task_status(
    conn: Connection, task_id: int, status: str, on: date | None = None
) -> asyncpg.Record:
    """Move a task to `status` on the day `on` (default today) and return it.

    The first move to ONGOING records `on` as the start; COMPLETED records it as the completion.
    The zone follows (WORKED_ON while a task is ONGOING). Raise NotFoundError for an unknown
    task, BadUserInput for a move DOMAIN.md does not allow or a bad date.
    """
    problems = Problems("")
    check_enum(status, "status", TASK_STATUSES, problems)
    if on is not None and on > today():
        problems.add("on", "must not be in the future")
    problems.raise_if_any()
    async with write_transaction(conn):
        # Decided under the row lock: two concurrent moves cannot both pass the check.
        current = await conn.fetchrow(task_sql.LOCK, task_id)
        if current is None:
            raise NotFoundError(f"no task has id {task_id}")
        reason = _move_problem(current["status"], status)
        if reason is not None:
            problems.add("status", reason)
        started = current["started_on"]
        if status == "COMPLETED" and on is not None and started is not None and on < started:
            problems.add("on", f"must not be before the day the task started ({started})")
        problems.raise_if_any()
        row = await conn.fetchrow(task_sql.SET_STATUS, task_id, status, on)
    assert row is not None
    return row
