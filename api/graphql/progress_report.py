"""The ProgressReport and DeviceFind types, and the submitProgressReport mutation."""

from __future__ import annotations

from datetime import date, datetime

import asyncpg
import strawberry

from api.graphql.context import Info
from api.graphql.enums import DeviceCategory, Disposal
from api.graphql.ids import parse_id
from api.graphql.loaders import many_per_key
from api.graphql.node_interface import Node
from api.graphql.scalars import GeoJSON
from api.graphql.task import Task, tasks_by_id
from api.services import progress_reports as report_service
from db.pool import ConnectionSource
from db.queries import progress_reports as report_sql


@strawberry.type(description="Explosive ordnance of one category found during a task.")
class DeviceFind:
    category: DeviceCategory
    quantity: int
    disposal: Disposal
    location: GeoJSON | None = strawberry.field(description="Where it was found: a Point.")

    @classmethod
    def from_record(cls, row: asyncpg.Record) -> DeviceFind:
        """Build a DeviceFind from a row of report_sql.DEVICE_COLUMNS."""
        return cls(
            category=DeviceCategory(row["category"]),
            quantity=row["quantity"],
            disposal=Disposal(row["disposal"]),
            location=row["location"],
        )


async def devices_of_reports(db: ConnectionSource, keys: list[int]) -> list[list[DeviceFind]]:
    """Batch: the device finds of each report, in the order reported, in one statement."""
    async with db.acquire() as conn:
        rows = await conn.fetch(report_sql.DEVICES_BY_REPORT_IDS, keys)
    return [
        [DeviceFind.from_record(r) for r in group]
        for group in many_per_key(rows, keys, "progress_report_id")
    ]


async def _task(root: ProgressReport, info: Info) -> Task:
    task: Task | None = await info.context.loaders.get(tasks_by_id).load(root.task_id)
    assert task is not None  # progress_reports.task_id is a foreign key
    return task


async def _devices(root: ProgressReport, info: Info) -> list[DeviceFind]:
    devices: list[DeviceFind] = await info.context.loaders.get(devices_of_reports).load(
        int(root.id)
    )
    return devices


@strawberry.type(description="What a task searched and found over a period.")
class ProgressReport(Node):
    id: strawberry.ID
    report_date: date
    area_searched_m2: float = strawberry.field(
        description="Area processed in the period, in m² (not yet released)."
    )
    notes: str | None
    created_at: datetime
    task_id: strawberry.Private[int]
    task: Task = strawberry.field(resolver=_task)
    devices: list[DeviceFind] = strawberry.field(resolver=_devices)

    @classmethod
    def from_record(cls, row: asyncpg.Record) -> ProgressReport:
        """Build a ProgressReport from a row of report_sql.COLUMNS."""
        return cls(
            id=strawberry.ID(str(row["id"])),
            report_date=row["report_date"],
            area_searched_m2=float(row["area_searched_m2"]),
            notes=row["notes"],
            created_at=row["created_at"],
            task_id=row["task_id"],
        )


async def reports_of_tasks(db: ConnectionSource, keys: list[int]) -> list[list[ProgressReport]]:
    """Batch: the reports of each task, oldest report date first, in one statement."""
    async with db.acquire() as conn:
        rows = await conn.fetch(report_sql.BY_TASK_IDS, keys)
    return [
        [ProgressReport.from_record(r) for r in group]
        for group in many_per_key(rows, keys, "task_id")
    ]


@strawberry.input(description="Devices of one category found, and what was done with them.")
class DeviceFindInput:
    category: DeviceCategory = strawberry.field(description="Any category except UNKNOWN.")
    quantity: int = strawberry.field(description="1 or more.")
    disposal: Disposal
    location: GeoJSON | None = strawberry.field(
        default=None, description="Where they were found: a GeoJSON Point."
    )


@strawberry.input(description="A progress report on an ONGOING task.")
class ProgressReportInput:
    task_id: strawberry.ID
    report_date: date = strawberry.field(
        description="Not in the future, not before the task started."
    )
    area_searched_m2: float = strawberry.field(default=0.0, description="0 or more, in m².")
    devices: list[DeviceFindInput] = strawberry.field(default_factory=list)
    notes: str | None = None


async def submit_progress_report(info: Info, input: ProgressReportInput) -> ProgressReport:
    """Record a report with its device finds; the task must be ONGOING."""
    report = report_service.NewProgressReport(
        task_id=parse_id(input.task_id, "input.taskId"),
        report_date=input.report_date,
        area_searched_m2=input.area_searched_m2,
        devices=[
            report_service.DeviceFind(
                category=d.category.value,
                quantity=d.quantity,
                disposal=d.disposal.value,
                location=d.location,
            )
            for d in input.devices
        ],
        notes=input.notes,
    )
    async with info.context.db.acquire() as conn:
        row = await report_service.submit_progress_report(conn, report)
    return ProgressReport.from_record(row)


@strawberry.type
class ProgressReportMutations:
    submit_progress_report: ProgressReport = strawberry.field(
        resolver=submit_progress_report,
        description="Record what an ONGOING task searched and found; devices in one go.",
    )
