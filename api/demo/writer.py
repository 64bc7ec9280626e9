"""Writing a demo plan in an order the schema's triggers accept, checking every step's rows."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeAlias

import asyncpg
from tqdm import tqdm

from api.demo.dataset import DemoPlan
from api.demo.records import Task
from api.demo.result import SeedResult
from db.queries import demo as sql

Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record]"


class SeedError(RuntimeError):
    """A step wrote another number of rows than the plan holds (a code did not resolve)."""


def _joined(values: Sequence[str]) -> str:
    return ",".join(values)


async def _insert(conn: Connection, statement: str, columns: Sequence[Any], planned: int) -> int:
    """Run one batched insert and return its row count, or raise SeedError if it is not planned."""
    status = await conn.execute(statement, *columns)
    written = int(status.rsplit(" ", 1)[-1])
    if written != planned:
        raise SeedError(f"wrote {written} rows where the demo plan has {planned}: {status}")
    return written


async def _move(conn: Connection, status: str, tasks: Sequence[Task]) -> None:
    """Move the tasks to status, keeping their start and completion dates."""
    await _insert(
        conn,
        sql.MOVE_TASKS,
        [
            status,
            [t.code for t in tasks],
            [t.started_on for t in tasks],
            [t.completed_on for t in tasks],
        ],
        len(tasks),
    )


async def write_plan(conn: Connection, plan: DemoPlan, *, show_progress: bool) -> SeedResult:
    """Write the whole plan on conn (the caller owns the transaction) and return the counts."""
    d = plan.dataset
    pairs = [(t.code, team) for t in d.tasks for team in t.team_codes]
    tasks = d.tasks

    async def organisations() -> None:
        rows = d.organisations
        columns = [[r.code for r in rows], [r.name for r in rows], [r.org_type for r in rows]]
        await _insert(
            conn, sql.INSERT_ORGANISATIONS, [*columns, [r.country for r in rows]], len(rows)
        )

    async def teams() -> None:
        rows = d.teams
        columns: list[list[Any]] = [
            [r.code for r in rows],
            [r.name for r in rows],
            [r.organisation_code for r in rows],
            [_joined(r.capabilities) for r in rows],
            [r.size for r in rows],
            [r.status for r in rows],
            [r.accreditation_expires_on for r in rows],
        ]
        await _insert(conn, sql.INSERT_TEAMS, columns, len(rows))

    async def zones() -> None:
        rows = d.zones
        columns: list[list[Any]] = [
            [r.code for r in rows],
            [r.name for r in rows],
            [r.description for r in rows],
            [r.hazard_type for r in rows],
            [_joined(r.contamination) for r in rows],
            [r.geometry for r in rows],
            [r.priority for r in rows],
            [r.land_use for r in rows],
            [r.admin1 for r in rows],
            [r.admin2 for r in rows],
            [r.admin_pcode for r in rows],
            [r.recorded_on for r in rows],
        ]
        await _insert(conn, sql.INSERT_ZONES, columns, len(rows))

    async def planned_tasks() -> None:
        columns: list[list[Any]] = [
            [t.code for t in tasks],
            [t.zone_code for t in tasks],
            [t.task_type for t in tasks],
            [t.planned_start for t in tasks],
            [t.planned_end for t in tasks],
            [_joined(t.assets) for t in tasks],
        ]
        await _insert(conn, sql.INSERT_TASKS, columns, len(tasks))
        teams_of = [[code for code, _ in pairs], [team for _, team in pairs]]
        await _insert(conn, sql.INSERT_TASK_TEAMS, teams_of, len(pairs))

    async def start_tasks() -> None:
        await _move(conn, "ONGOING", [t for t in tasks if t.started_on is not None])

    async def progress_reports() -> None:
        rows = d.progress_reports
        columns: list[list[Any]] = [
            [r.task_code for r in rows],
            [r.report_date for r in rows],
            [r.area_searched_m2 for r in rows],
            [r.notes for r in rows],
        ]
        await _insert(conn, sql.INSERT_PROGRESS_REPORTS, columns, len(rows))

    async def device_finds() -> None:
        rows = d.device_finds
        columns: list[list[Any]] = [
            [r.task_code for r in rows],
            [r.report_date for r in rows],
            [r.category for r in rows],
            [r.quantity for r in rows],
            [r.disposal for r in rows],
            [r.location for r in rows],
        ]
        await _insert(conn, sql.INSERT_DEVICE_FINDS, columns, len(rows))

    async def finish_tasks() -> None:
        # Suspended first: a task cancelled after it started goes through SUSPENDED.
        await _move(conn, "SUSPENDED", [t for t in tasks if t.suspended_on is not None])
        await _move(conn, "CANCELLED", [t for t in tasks if t.status == "CANCELLED"])
        await _move(conn, "COMPLETED", [t for t in tasks if t.status == "COMPLETED"])

    async def land_releases() -> None:
        # After the tasks are done, in date order: a release that closes a zone comes last.
        rows = d.land_releases
        await conn.executemany(
            sql.INSERT_LAND_RELEASE,
            [(r.zone_code, r.task_code, r.method, r.fraction, r.released_on) for r in rows],
        )
        written = await conn.fetchval(sql.COUNT_LAND_RELEASES)
        if written != len(rows):
            raise SeedError(f"wrote {written} land releases where the demo plan has {len(rows)}")

    async def incidents() -> None:
        rows = d.incidents
        columns: list[list[Any]] = [
            [r.code for r in rows],
            [r.incident_type for r in rows],
            [r.occurred_on for r in rows],
            [r.location for r in rows],
            [r.zone_code for r in rows],
            [r.task_code for r in rows],
            [r.device_category for r in rows],
            [r.activity for r in rows],
            [r.admin1 for r in rows],
            [r.admin2 for r in rows],
            [r.admin_pcode for r in rows],
            [r.description for r in rows],
            [r.source for r in rows],
            [r.verified for r in rows],
        ]
        await _insert(conn, sql.INSERT_INCIDENTS, columns, len(rows))

    async def casualties() -> None:
        rows = d.casualties
        columns: list[list[Any]] = [
            [r.incident_code for r in rows],
            [r.outcome for r in rows],
            [r.category for r in rows],
            [r.sex for r in rows],
            [r.age for r in rows],
            [r.full_name for r in rows],
            [r.notes for r in rows],
        ]
        await _insert(conn, sql.INSERT_CASUALTIES, columns, len(rows))

    async def zone_status_dates() -> None:
        changes = plan.zone_status_changes
        columns = [[code for code, _ in changes], [day for _, day in changes]]
        await _insert(conn, sql.DATE_ZONE_STATUS_CHANGES, columns, len(changes))

    steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("organisations", organisations),
        ("teams", teams),
        ("zones", zones),
        ("tasks", planned_tasks),
        ("task starts", start_tasks),
        ("progress reports", progress_reports),
        ("device finds", device_finds),
        ("task outcomes", finish_tasks),
        ("land releases", land_releases),
        ("incidents", incidents),
        ("casualties", casualties),
        ("zone status dates", zone_status_dates),
    ]
    with tqdm(
        total=len(steps),
        desc="demo data",
        unit="step",
        file=sys.stderr,
        disable=not show_progress,
    ) as bar:
        for label, run in steps:
            bar.set_postfix_str(label)
            await run()
            bar.update(1)
    return SeedResult(
        created=True,
        organisations=len(d.organisations),
        teams=len(d.teams),
        zones=len(d.zones),
        tasks=len(d.tasks),
        task_teams=len(pairs),
        progress_reports=len(d.progress_reports),
        device_finds=len(d.device_finds),
        land_releases=len(d.land_releases),
        incidents=len(d.incidents),
        casualties=len(d.casualties),
    )
