"""Progress-report use-case: what an ONGOING task searched and found over a period."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import asyncpg

from api.errors import Problems
from api.services.geometry import structure_problem
from api.services.rules import check_enum, today
from api.services.transaction import write_transaction
from db.pool import Connection
from db.queries import progress_reports as report_sql

# UNKNOWN exists for incidents only: whoever found a device saw what it was.
DEVICE_CATEGORIES = ("AP_MINE", "AV_MINE", "CMR", "UXO", "AXO", "IED", "SAA", "OTHER")
DISPOSALS = ("DESTROYED_IN_SITU", "REMOVED_AND_DESTROYED", "RENDERED_SAFE")
# numeric(14, 2): the largest area a column holds.
MAX_AREA_M2 = Decimal("999999999999.99")
CENT = Decimal("0.01")
MAX_NOTES = 10_000


@dataclass(frozen=True)
class DeviceFind:
    """One kind of device found, how many, and what was done with them."""

    category: str
    quantity: int
    disposal: str
    location: Any = None  # a GeoJSON Point, or None


@dataclass(frozen=True)
class NewProgressReport:
    """What a client supplies to report on a task."""

    task_id: int
    report_date: date
    area_searched_m2: float = 0.0
    devices: list[DeviceFind] = field(default_factory=list)
    notes: str | None = None


def area_m2(value: float, field: str, problems: Problems, *, positive: bool) -> Decimal | None:
    """Return an area rounded to the stored 2 decimals, or record why it cannot be stored."""
    if not math.isfinite(value):
        problems.add(field, "must be a finite number")
        return None
    if value > MAX_AREA_M2:
        problems.add(field, f"must be at most {MAX_AREA_M2} m²")
        return None
    # Rounded as PostgreSQL rounds numeric: half away from zero.
    rounded = Decimal(repr(value)).quantize(CENT, rounding=ROUND_HALF_UP)
    if positive and rounded <= 0:
        problems.add(field, "must be more than 0 (at least 0.01 m²)")
    elif rounded < 0:
        problems.add(field, "must be 0 or more")
    else:
        return rounded
    return None


def _check_device(device: DeviceFind, place: str, problems: Problems) -> str | None:
    """Record what is wrong with one device find; return its location as GeoJSON text."""
    if device.category == "UNKNOWN":
        problems.add(f"{place}.category", "must be known for a device find; use OTHER")
    else:
        check_enum(device.category, f"{place}.category", DEVICE_CATEGORIES, problems)
    if device.quantity < 1:
        problems.add(f"{place}.quantity", "must be 1 or more")
    elif device.quantity > 2**31 - 1:
        problems.add(f"{place}.quantity", f"must be at most {2**31 - 1}")
    check_enum(device.disposal, f"{place}.disposal", DISPOSALS, problems)
    if device.location is None:
        return None
    reason = structure_problem(device.location, ("Point",))
    if reason is not None:
        problems.add(f"{place}.location", reason)
        return None
    return device.location if isinstance(device.location, str) else json.dumps(device.location)


async def submit_progress_report(conn: Connection, report: NewProgressReport) -> asyncpg.Record:
    """Record a report with its device finds and return it.

    Reports are accepted only for ONGOING tasks, dated neither in the future nor before the
    task started. Raise BadUserInput naming every bad field; nothing is written then.
    """
    problems = Problems("input")
    area = area_m2(report.area_searched_m2, "areaSearchedM2", problems, positive=False)
    if report.report_date > today():
        problems.add("reportDate", "must not be in the future")
    if report.notes is not None and len(report.notes) > MAX_NOTES:
        problems.add("notes", f"must be at most {MAX_NOTES} characters")
    locations = [
        _check_device(device, f"devices[{i}]", problems) for i, device in enumerate(report.devices)
    ]
    async with write_transaction(conn):
        # Checked under a share lock: the task cannot change status until the report is in.
        task = await conn.fetchrow(report_sql.TASK_FOR_REPORT, report.task_id)
        if task is None:
            problems.add("taskId", "does not refer to an existing task")
        elif task["status"] != "ONGOING":
            problems.add(
                "taskId",
                f"the task is {task['status']}; reports are accepted only for ONGOING tasks",
            )
        elif task["started_on"] is not None and report.report_date < task["started_on"]:
            problems.add(
                "reportDate", f"must not be before the day the task started ({task['started_on']})"
            )
        problems.raise_if_any()
        row = await conn.fetchrow(
            report_sql.INSERT, report.task_id, report.report_date, area, report.notes
        )
        assert row is not None
        if report.devices:
            await conn.execute(
                report_sql.INSERT_DEVICES,
                row["id"],
                [d.category for d in report.devices],
                [d.quantity for d in report.devices],
                [d.disposal for d in report.devices],
                locations,
            )
    return row
