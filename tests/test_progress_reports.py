"""submitProgressReport: reports only on ONGOING tasks, dated between the start and today."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from api.services.rules import today
from db.pool import Connection as Conn
from tests.helpers import GraphQLClient, error_fields
from tests.test_tasks import make_task, make_team, make_zone, move

SUBMIT = """
mutation($input: ProgressReportInput!) {
  submitProgressReport(input: $input) {
    id reportDate areaSearchedM2 notes
    task { id code status }
    devices { category quantity disposal location }
  }
}
"""


async def ongoing_task(
    gql: GraphQLClient, conn: Conn, code: str, started_days_ago: int = 5
) -> dict[str, Any]:
    zone_id = await make_zone(gql, f"HA-{code}")
    task = await make_task(gql, zone_id, [await make_team(conn, f"TM-{code}")], code=code)
    started = (today() - timedelta(days=started_days_ago)).isoformat()
    await move(gql, task["id"], "ONGOING", started)
    return task


async def counts(conn: Conn) -> tuple[int, int]:
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM progress_reports) AS reports, "
        "(SELECT count(*) FROM device_finds) AS devices"
    )
    assert row is not None
    return row["reports"], row["devices"]


def report(task_id: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "taskId": task_id,
        "reportDate": today().isoformat(),
        "areaSearchedM2": 1250.5,
    }
    values.update(overrides)
    return {"input": values}


async def test_a_report_with_its_device_finds(gql: GraphQLClient, conn: Conn) -> None:
    task = await ongoing_task(gql, conn, "PR-1")
    point = {"type": "Point", "coordinates": [10.0005, 10.0005]}
    devices = [
        {"category": "AP_MINE", "quantity": 3, "disposal": "DESTROYED_IN_SITU", "location": point},
        {"category": "UXO", "quantity": 1, "disposal": "REMOVED_AND_DESTROYED"},
    ]
    body = await gql(SUBMIT, report(task["id"], devices=devices, notes="north strip"))
    assert "errors" not in body, body
    created = body["data"]["submitProgressReport"]
    assert created["reportDate"] == today().isoformat()
    assert (created["areaSearchedM2"], created["notes"]) == (1250.5, "north strip")
    assert created["task"] == {"id": task["id"], "code": "PR-1", "status": "ONGOING"}
    assert created["devices"] == [
        {
            "category": "AP_MINE",
            "quantity": 3,
            "disposal": "DESTROYED_IN_SITU",
            "location": {"type": "Point", "coordinates": [10.0005, 10.0005]},
        },
        {"category": "UXO", "quantity": 1, "disposal": "REMOVED_AND_DESTROYED", "location": None},
    ]
    # A report without devices; the task's start day is a valid report date.
    first_day = (today() - timedelta(days=5)).isoformat()
    body = await gql(SUBMIT, report(task["id"], reportDate=first_day, areaSearchedM2=0))
    assert body["data"]["submitProgressReport"]["devices"] == []

    listed = await gql(
        "query($id: ID) { task(id: $id) { progressReports { reportDate devices { quantity } } } }",
        {"id": task["id"]},
    )
    reports = listed["data"]["task"]["progressReports"]
    assert [r["reportDate"] for r in reports] == [first_day, today().isoformat()]
    assert [len(r["devices"]) for r in reports] == [0, 2]


async def test_reports_only_for_ongoing_tasks_and_nothing_is_written(
    gql: GraphQLClient, conn: Conn
) -> None:
    zone_id = await make_zone(gql, "HA-PR-2")
    task = await make_task(gql, zone_id, [await make_team(conn, "TM-PR-2")])
    before = await counts(conn)

    async def refused_because(status: str) -> str:
        body = await gql(
            SUBMIT,
            report(
                task["id"],
                devices=[{"category": "CMR", "quantity": 1, "disposal": "RENDERED_SAFE"}],
            ),
        )
        assert error_fields(body) == ["input.taskId"], status
        assert await counts(conn) == before
        message: str = body["errors"][0]["extensions"]["fields"][0]["message"]
        return message

    assert "the task is PLANNED" in await refused_because("PLANNED")
    await move(gql, task["id"], "ONGOING")
    await move(gql, task["id"], "SUSPENDED")
    assert "the task is SUSPENDED" in await refused_because("SUSPENDED")
    await move(gql, task["id"], "ONGOING")
    await move(gql, task["id"], "COMPLETED")
    assert "the task is COMPLETED" in await refused_because("COMPLETED")

    missing = await gql(SUBMIT, report("999999"))
    assert error_fields(missing) == ["input.taskId"]
    malformed = await gql(SUBMIT, report("t-1"))
    assert error_fields(malformed) == ["input.taskId"]
    assert await counts(conn) == before


async def test_report_dates_between_the_start_and_today(gql: GraphQLClient, conn: Conn) -> None:
    task = await ongoing_task(gql, conn, "PR-3", started_days_ago=2)
    before = await counts(conn)
    future = await gql(
        SUBMIT, report(task["id"], reportDate=(today() + timedelta(days=1)).isoformat())
    )
    assert error_fields(future) == ["input.reportDate"]
    assert "future" in future["errors"][0]["message"]
    early = await gql(
        SUBMIT, report(task["id"], reportDate=(today() - timedelta(days=3)).isoformat())
    )
    assert error_fields(early) == ["input.reportDate"]
    assert "before the day the task started" in early["errors"][0]["message"]
    assert await counts(conn) == before


async def test_every_bad_device_and_area_is_named_and_nothing_is_written(
    gql: GraphQLClient, conn: Conn
) -> None:
    task = await ongoing_task(gql, conn, "PR-4")
    before = await counts(conn)
    devices = [
        {"category": "UNKNOWN", "quantity": 1, "disposal": "RENDERED_SAFE"},
        {"category": "IED", "quantity": 0, "disposal": "RENDERED_SAFE"},
        {
            "category": "SAA",
            "quantity": 2,
            "disposal": "RENDERED_SAFE",
            "location": {"type": "Point", "coordinates": [200, 0]},
        },
        {
            "category": "AXO",
            "quantity": 1,
            "disposal": "RENDERED_SAFE",
            "location": {"type": "Polygon", "coordinates": []},
        },
        {"category": "AV_MINE", "quantity": 1, "disposal": "DESTROYED_IN_SITU"},
    ]
    body = await gql(SUBMIT, report(task["id"], devices=devices, areaSearchedM2=-1))
    fields = {f["field"]: f["message"] for f in body["errors"][0]["extensions"]["fields"]}
    assert set(fields) == {
        "input.areaSearchedM2",
        "input.devices[0].category",
        "input.devices[1].quantity",
        "input.devices[2].location",
        "input.devices[3].location",
    }
    assert "use OTHER" in fields["input.devices[0].category"]
    assert fields["input.devices[1].quantity"] == "must be 1 or more"
    assert "outside -180..180" in fields["input.devices[2].location"]
    assert "must be a Point" in fields["input.devices[3].location"]
    huge = await gql(SUBMIT, report(task["id"], areaSearchedM2=1e13, notes="x" * 10_001))
    assert error_fields(huge) == ["input.areaSearchedM2", "input.notes"]
    assert await counts(conn) == before


# Compiled, a read is one statement; executed, the page and one batch per nested level.
@pytest.mark.parametrize(("compiled_reads", "expected"), [(True, 1), (False, 4)])
async def test_nested_reports_and_devices_cost_constant_statements(
    gql: GraphQLClient, conn: Conn, sql_log: list[str], expected: int
) -> None:
    query = """
    { tasks(first: 20) { nodes { code progressReports { task { code } devices { quantity } } } } }
    """
    device = {"category": "UXO", "quantity": 2, "disposal": "RENDERED_SAFE"}

    async def statements_for(task_count: int, start: int) -> int:
        for i in range(start, start + task_count):
            task = await ongoing_task(gql, conn, f"PN-{i:03d}")
            for _ in range(2):
                body = await gql(SUBMIT, report(task["id"], devices=[device, device]))
                assert "errors" not in body, body
        await asyncio.sleep(0)
        sql_log.clear()
        body = await gql(query)
        await asyncio.sleep(0)
        assert "errors" not in body, body
        for node in body["data"]["tasks"]["nodes"]:
            assert len(node["progressReports"]) == 2
            assert all(len(r["devices"]) == 2 for r in node["progressReports"])
        return len(sql_log)

    assert await statements_for(2, 0) == await statements_for(10, 2) == expected
