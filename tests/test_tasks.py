"""Tasks: createTask, setTaskStatus (the allowed moves and the zone that follows), task, tasks."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import pytest

from api.services.rules import today
from db.pool import Connection as Conn
from db.pool import connect
from tests.helpers import GraphQLClient, error_fields
from tests.test_zones_graphql import create as create_zone
from tests.test_zones_graphql import square

CREATE_TASK = """
mutation($input: CreateTaskInput!) {
  createTask(input: $input) {
    id code taskType status assets plannedStart plannedEnd startedOn completedOn version
    zone { id code status }
  }
}
"""

SET_STATUS = """
mutation($id: ID!, $status: TaskStatus!, $on: Date) {
  setTaskStatus(id: $id, status: $status, on: $on) {
    id status startedOn completedOn version zone { status statusChangedOn }
  }
}
"""


async def make_team(
    conn: Conn, code: str, *, status: str = "ACTIVE", expires: date | None = None
) -> str:
    """A team (and its organisation, once) written directly: teams have their own tests."""
    org_id = await conn.fetchval(
        "INSERT INTO organisations (code, name, org_type) VALUES ('ORG-T', 'Testers', 'UN') "
        "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name RETURNING id"
    )
    team_id = await conn.fetchval(
        "INSERT INTO teams (code, name, organisation_id, size, status, accreditation_expires_on) "
        "VALUES ($1, $1, $2, 8, $3, $4) RETURNING id",
        code,
        org_id,
        status,
        expires,
    )
    return str(team_id)


async def make_zone(gql: GraphQLClient, code: str, lon: float = 10.0, lat: float = 10.0) -> str:
    zone = await create_zone(gql, code, geometry=square(lon, lat))
    return str(zone["id"])


async def make_task(
    gql: GraphQLClient, zone_id: str, team_ids: list[str], **overrides: Any
) -> dict[str, Any]:
    values: dict[str, Any] = {"zoneId": zone_id, "taskType": "CLEARANCE", "teamIds": team_ids}
    values.update(overrides)
    body = await gql(CREATE_TASK, {"input": values})
    assert "errors" not in body, body
    task: dict[str, Any] = body["data"]["createTask"]
    return task


async def move(
    gql: GraphQLClient, task_id: str, status: str, on: str | None = None
) -> dict[str, Any]:
    body = await gql(SET_STATUS, {"id": task_id, "status": status, "on": on})
    assert "errors" not in body, body
    task: dict[str, Any] = body["data"]["setTaskStatus"]
    return task


async def counts(conn: Conn) -> tuple[int, int]:
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM tasks) AS tasks, (SELECT count(*) FROM task_teams) AS teams"
    )
    assert row is not None
    return row["tasks"], row["teams"]


async def test_create_task_is_planned_with_a_generated_code(gql: GraphQLClient, conn: Conn) -> None:
    zone_id = await make_zone(gql, "HA-T1")
    team_a = await make_team(conn, "TM-A")
    team_b = await make_team(conn, "TM-B", expires=today())  # valid through today
    task = await make_task(
        gql,
        zone_id,
        [team_b, team_a, team_b],
        assets=["MECHANICAL", "MANUAL", "MANUAL"],
        plannedStart="2025-03-01",
        plannedEnd="2025-03-31",
    )
    assert task["code"] == f"TASK-{int(task['id']):06d}"
    assert (task["status"], task["taskType"], task["version"]) == ("PLANNED", "CLEARANCE", 1)
    assert task["assets"] == ["MANUAL", "MECHANICAL"]
    assert (task["startedOn"], task["completedOn"]) == (None, None)
    assert task["zone"] == {"id": zone_id, "code": "HA-T1", "status": "OPEN"}
    team_ids = await conn.fetch(
        "SELECT team_id FROM task_teams WHERE task_id = $1 ORDER BY team_id", int(task["id"])
    )
    assert sorted(str(r["team_id"]) for r in team_ids) == sorted([team_a, team_b])


async def test_a_given_code_is_kept_and_a_duplicate_is_a_conflict(
    gql: GraphQLClient, conn: Conn
) -> None:
    zone_id = await make_zone(gql, "HA-T2")
    team = await make_team(conn, "TM-C")
    task = await make_task(gql, zone_id, [team], code="CL-2025-001")
    assert task["code"] == "CL-2025-001"
    before = await counts(conn)
    body = await gql(
        CREATE_TASK,
        {"input": {"zoneId": zone_id, "taskType": "NTS", "teamIds": [team], "code": "CL-2025-001"}},
    )
    assert body["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert "input.code" in body["errors"][0]["message"]
    assert await counts(conn) == before


async def test_every_bad_field_of_a_new_task_is_named_and_nothing_is_written(
    gql: GraphQLClient, conn: Conn
) -> None:
    zone_id = await make_zone(gql, "HA-T3")
    active = await make_team(conn, "TM-OK")
    inactive = await make_team(conn, "TM-OFF", status="INACTIVE")
    expired = await make_team(conn, "TM-OLD", expires=today() - timedelta(days=1))
    before = await counts(conn)
    body = await gql(
        CREATE_TASK,
        {
            "input": {
                "zoneId": zone_id,
                "taskType": "TS",
                "teamIds": [active, inactive, expired, "999999"],
                "plannedStart": "2025-05-10",
                "plannedEnd": "2025-05-09",
                "code": "TASK-000777",
            }
        },
    )
    fields = {f["field"]: f["message"] for f in body["errors"][0]["extensions"]["fields"]}
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert set(fields) == {
        "input.teamIds[1]",
        "input.teamIds[2]",
        "input.teamIds[3]",
        "input.plannedEnd",
        "input.code",
    }
    assert "TM-OFF is INACTIVE" in fields["input.teamIds[1]"]
    assert "accreditation of team TM-OLD expired on" in fields["input.teamIds[2]"]
    assert "does not refer to an existing team" in fields["input.teamIds[3]"]
    assert "reserved" in fields["input.code"]

    no_teams = await gql(
        CREATE_TASK, {"input": {"zoneId": zone_id, "taskType": "TS", "teamIds": []}}
    )
    assert error_fields(no_teams) == ["input.teamIds"]
    no_zone = await gql(
        CREATE_TASK, {"input": {"zoneId": "999999", "taskType": "TS", "teamIds": [active]}}
    )
    assert error_fields(no_zone) == ["input.zoneId"]
    bad_ids = await gql(
        CREATE_TASK, {"input": {"zoneId": "z", "taskType": "TS", "teamIds": [active, "x"]}}
    )
    assert error_fields(bad_ids) == ["input.zoneId", "input.teamIds[1]"]
    bad_code = await gql(
        CREATE_TASK,
        {"input": {"zoneId": zone_id, "taskType": "TS", "teamIds": [active], "code": " x"}},
    )
    assert error_fields(bad_code) == ["input.code"]
    assert await counts(conn) == before


async def test_status_moves_date_the_task_and_the_zone_follows(
    gql: GraphQLClient, conn: Conn
) -> None:
    zone_id = await make_zone(gql, "HA-T4")
    team = await make_team(conn, "TM-D")
    task = await make_task(gql, zone_id, [team])
    other = await make_task(gql, zone_id, [team])
    started = (today() - timedelta(days=10)).isoformat()

    ongoing = await move(gql, task["id"], "ONGOING", started)
    assert (ongoing["status"], ongoing["startedOn"], ongoing["version"]) == (
        "ONGOING",
        started,
        2,
    )
    assert ongoing["zone"]["status"] == "WORKED_ON"
    assert ongoing["zone"]["statusChangedOn"] == today().isoformat()

    suspended = await move(gql, task["id"], "SUSPENDED")
    assert suspended["zone"]["status"] == "OPEN"
    resumed = await move(gql, task["id"], "ONGOING")  # resuming keeps the first start
    assert (resumed["startedOn"], resumed["zone"]["status"]) == (started, "WORKED_ON")

    # The zone stays WORKED_ON while any of its tasks is ONGOING.
    await move(gql, other["id"], "ONGOING")
    completed = await move(gql, task["id"], "COMPLETED")
    assert (completed["status"], completed["completedOn"]) == ("COMPLETED", today().isoformat())
    assert completed["zone"]["status"] == "WORKED_ON"
    done = await move(gql, other["id"], "COMPLETED", today().isoformat())
    assert done["zone"]["status"] == "OPEN"

    planned = await make_task(gql, zone_id, [team])
    cancelled = await move(gql, planned["id"], "CANCELLED")
    assert (cancelled["status"], cancelled["startedOn"]) == ("CANCELLED", None)


async def test_forbidden_moves_and_bad_dates_change_nothing(gql: GraphQLClient, conn: Conn) -> None:
    zone_id = await make_zone(gql, "HA-T5")
    team = await make_team(conn, "TM-E")
    task = await make_task(gql, zone_id, [team])

    async def refused(status: str, on: str | None = None) -> list[str]:
        before = await conn.fetchrow(
            "SELECT status, version, started_on, completed_on FROM tasks WHERE id = $1",
            int(task["id"]),
        )
        body = await gql(SET_STATUS, {"id": task["id"], "status": status, "on": on})
        after = await conn.fetchrow(
            "SELECT status, version, started_on, completed_on FROM tasks WHERE id = $1",
            int(task["id"]),
        )
        assert before == after
        return error_fields(body)

    assert await refused("COMPLETED") == ["status"]
    assert await refused("SUSPENDED") == ["status"]
    assert await refused("PLANNED") == ["status"]
    assert await refused("ONGOING", (today() + timedelta(days=1)).isoformat()) == ["on"]

    await move(gql, task["id"], "ONGOING", (today() - timedelta(days=3)).isoformat())
    assert await refused("ONGOING") == ["status"]
    assert await refused("CANCELLED") == ["status"]
    assert await refused("COMPLETED", (today() - timedelta(days=4)).isoformat()) == ["on"]
    assert await conn.fetchval("SELECT status FROM zones WHERE id = $1", int(zone_id)) == (
        "WORKED_ON"
    )

    await move(gql, task["id"], "COMPLETED")
    body = await gql(SET_STATUS, {"id": task["id"], "status": "ONGOING"})
    message = body["errors"][0]["extensions"]["fields"][0]["message"]
    assert "COMPLETED and can no longer change status" in message
    assert await refused("CANCELLED") == ["status"]

    missing = await gql(SET_STATUS, {"id": "999999", "status": "ONGOING"})
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    malformed = await gql(SET_STATUS, {"id": "abc", "status": "ONGOING"})
    assert error_fields(malformed) == ["id"]


TASK = "query($id: ID, $code: String) { task(id: $id, code: $code) { id code zone { code } } }"


async def test_task_by_id_or_code(gql: GraphQLClient, conn: Conn) -> None:
    zone_id = await make_zone(gql, "HA-T6")
    task = await make_task(gql, zone_id, [await make_team(conn, "TM-F")], code="T-BY")
    expected = {"id": task["id"], "code": "T-BY", "zone": {"code": "HA-T6"}}
    assert (await gql(TASK, {"id": task["id"]}))["data"]["task"] == expected
    assert (await gql(TASK, {"code": "T-BY"}))["data"]["task"] == expected
    assert (await gql(TASK, {"code": "nope"}))["data"]["task"] is None
    assert error_fields(await gql(TASK, {})) == ["id"]
    assert error_fields(await gql(TASK, {"id": "-1"})) == ["id"]


TASKS = """
query($filter: TaskFilter, $first: Int, $after: String) {
  tasks(filter: $filter, first: $first, after: $after) {
    totalCount
    nodes { code }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}
"""


async def test_tasks_filter_and_keyset_pages(gql: GraphQLClient, conn: Conn) -> None:
    zone_a = await make_zone(gql, "HA-T7")
    zone_b = await make_zone(gql, "HA-T8", lon=11)
    team_a = await make_team(conn, "TM-G")
    team_b = await make_team(conn, "TM-H")
    await make_task(gql, zone_a, [team_a], code="L-1", plannedStart="2025-01-01")
    await make_task(
        gql,
        zone_a,
        [team_b],
        code="L-2",
        taskType="NTS",
        plannedStart="2025-02-01",
        plannedEnd="2025-02-20",
    )
    t3 = await make_task(gql, zone_b, [team_a, team_b], code="L-3", plannedStart="2025-03-01")
    await make_task(gql, zone_b, [team_a], code="L-4")
    await move(gql, t3["id"], "ONGOING")

    async def codes(filter: dict[str, Any]) -> list[str]:
        body = await gql(TASKS, {"filter": filter})
        assert "errors" not in body, body
        page = body["data"]["tasks"]
        assert page["totalCount"] == len(page["nodes"])
        return [n["code"] for n in page["nodes"] if n["code"].startswith("L-")]

    assert await codes({}) == ["L-1", "L-2", "L-3", "L-4"]
    assert await codes({"status": ["ONGOING"]}) == ["L-3"]
    assert await codes({"status": ["PLANNED"], "taskType": ["CLEARANCE"]}) == ["L-1", "L-4"]
    assert await codes({"zoneId": zone_b}) == ["L-3", "L-4"]
    assert await codes({"teamId": team_b}) == ["L-2", "L-3"]
    assert await codes({"plannedFrom": "2025-02-10", "plannedTo": "2025-02-28"}) == ["L-2"]
    assert await codes({"plannedFrom": "2025-02-21"}) == ["L-3"]
    assert await codes({"plannedTo": "2025-01-31"}) == ["L-1"]

    seen: list[str] = []
    after = None
    while True:
        body = await gql(TASKS, {"first": 3, "after": after})
        page = body["data"]["tasks"]
        seen += [n["code"] for n in page["nodes"]]
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["L-1", "L-2", "L-3", "L-4"]

    zones_cursor = (await gql("{ zones(first: 1) { pageInfo { endCursor } } }"))["data"]
    other_list = await gql(TASKS, {"after": zones_cursor["zones"]["pageInfo"]["endCursor"]})
    assert error_fields(other_list) == ["after"]
    bad_filter = await gql(
        TASKS, {"filter": {"zoneId": "x", "plannedFrom": "2025-02-02", "plannedTo": "2025-02-01"}}
    )
    assert error_fields(bad_filter) == ["filter.zoneId", "filter.plannedTo"]
    assert (await gql(TASKS, {"first": 501}))["errors"][0]["extensions"]["code"] == (
        "QUERY_TOO_COMPLEX"
    )


async def test_zone_tasks_filtered_by_status(gql: GraphQLClient, conn: Conn) -> None:
    zone_id = await make_zone(gql, "HA-T9")
    team = await make_team(conn, "TM-I")
    first = await make_task(gql, zone_id, [team], code="Z-1")
    await make_task(gql, zone_id, [team], code="Z-2")
    await move(gql, first["id"], "ONGOING")
    query = """
    query($id: ID) {
      zone(id: $id) {
        all: tasks { code }
        ongoing: tasks(status: [ONGOING]) { code }
        idle: tasks(status: [PLANNED, SUSPENDED]) { code status }
        none: tasks(status: []) { code }
      }
    }
    """
    body = await gql(query, {"id": zone_id})
    zone = body["data"]["zone"]
    assert [t["code"] for t in zone["all"]] == ["Z-1", "Z-2"]
    assert zone["ongoing"] == [{"code": "Z-1"}]
    assert zone["idle"] == [{"code": "Z-2", "status": "PLANNED"}]
    assert zone["none"] == []


# Compiled, a read is one statement; executed, the page and one batch per nested level.
@pytest.mark.parametrize(("compiled_reads", "expected"), [(True, 1), (False, 4)])
async def test_nested_task_fields_cost_the_same_statements_for_3_and_30_zones(
    gql: GraphQLClient, conn: Conn, sql_log: list[str], expected: int
) -> None:
    team_a = await make_team(conn, "TM-N1")
    team_b = await make_team(conn, "TM-N2")
    query = """
    { zones(first: 50) { nodes { code tasks { teams { code } } releases { areaM2 } } } }
    """

    async def statements_for(zone_count: int, start: int) -> int:
        for i in range(start, start + zone_count):
            zone_id = await make_zone(gql, f"HA-N{i:03d}", lon=40 + i * 0.01)
            await make_task(gql, zone_id, [team_a, team_b])
            await make_task(gql, zone_id, [team_b])
        await asyncio.sleep(0)
        sql_log.clear()
        body = await gql(query)
        await asyncio.sleep(0)
        assert "errors" not in body, body
        nodes = body["data"]["zones"]["nodes"]
        assert all(
            [[t["code"] for t in task["teams"]] for task in n["tasks"]]
            == [["TM-N1", "TM-N2"], ["TM-N2"]]
            for n in nodes
        )
        return len(sql_log)

    few = await statements_for(3, 0)
    many = await statements_for(27, 3)
    assert few == many == expected, (few, many)


async def test_task_teams_and_team_tasks(gql: GraphQLClient, conn: Conn) -> None:
    zone_id = await make_zone(gql, "HA-TT")
    team_a = await make_team(conn, "TM-TA")
    team_b = await make_team(conn, "TM-TB")
    one = await make_task(gql, zone_id, [team_b, team_a], code="TT-1")
    await make_task(gql, zone_id, [team_b], code="TT-2")
    await move(gql, one["id"], "ONGOING")
    body = await gql(
        """
        query($a: ID, $b: ID) {
          task(code: "TT-1") { teams { id code } }
          a: team(id: $a) { tasks { code } }
          b: team(id: $b) {
            all: tasks { code }
            planned: tasks(status: [PLANNED]) { code }
            finished: tasks(status: [COMPLETED, CANCELLED]) { code }
          }
        }
        """,
        {"a": team_a, "b": team_b},
    )
    assert "errors" not in body, body
    data = body["data"]
    assert data["task"]["teams"] == [
        {"id": team_a, "code": "TM-TA"},
        {"id": team_b, "code": "TM-TB"},
    ]
    assert data["a"]["tasks"] == [{"code": "TT-1"}]
    assert data["b"] == {
        "all": [{"code": "TT-1"}, {"code": "TT-2"}],
        "planned": [{"code": "TT-2"}],
        "finished": [],
    }


@pytest.mark.commits
async def test_tasks_created_concurrently_on_one_zone_do_not_deadlock(fresh_db_url: str) -> None:
    first, second = await connect(fresh_db_url), await connect(fresh_db_url)
    try:
        zone_id = await first.fetchval(
            "INSERT INTO zones (code, name, hazard_type, contamination, geometry, "
            "estimated_area_m2, priority) VALUES ('HA-DL', 'DL', 'SHA', '{UXO}', "
            "ST_Multi(ST_GeomFromText('POLYGON((0 0, 0.001 0, 0.001 0.001, 0 0.001, 0 0))', "
            "4326)), 0, 1) RETURNING id"
        )
        team_id = await make_team(first, "TM-DL")
        insert = (
            "WITH t AS (INSERT INTO tasks (code, zone_id, task_type) VALUES ($1, $2, 'NTS') "
            "RETURNING id) INSERT INTO task_teams SELECT t.id, $3 FROM t"
        )
        transactions = [first.transaction(), second.transaction()]
        for conn, transaction in zip((first, second), transactions, strict=True):
            await transaction.start()
            # The lock a foreign-key check takes when a statement names the zone (an incident
            # recorded on it, a task planned on it) earlier in the same transaction.
            await conn.execute("SELECT 1 FROM zones WHERE id = $1 FOR KEY SHARE", zone_id)
        jobs = [
            asyncio.create_task(conn.execute(insert, code, zone_id, int(team_id)))
            for conn, code in ((first, "DL-1"), (second, "DL-2"))
        ]
        done, _ = await asyncio.wait(jobs, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        assert done, "neither insert finished"
        for job, transaction in zip(jobs, transactions, strict=True):
            if job in done and job.exception() is None:
                await transaction.commit()
        for job in jobs:
            await asyncio.wait_for(job, 10)  # raises DeadlockDetectedError today
    finally:
        await first.close()
        await second.close()
