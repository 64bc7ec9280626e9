"""Incidents over GraphQL: recordIncident (with casualties, all or nothing), the auto-link to a
zone, the rules with their bad inputs, filters, keyset pages, updateIncident and Zone.incidents.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest

from api.services import casualties as casualty_service
from api.services import rules
from db.pool import Connection as Conn
from tests.helpers import GraphQLClient, error_fields

RECORD = """
mutation($input: RecordIncidentInput!) {
  recordIncident(input: $input) {
    id code incidentType occurredOn location deviceCategory activity admin1 verified version
    zone { id code } task { id code } killed injured
    casualties { id outcome category sex age ageGroup }
  }
}
"""

CREATE_ZONE = """
mutation($input: CreateZoneInput!) { createZone(input: $input) { id code } }
"""

TODAY = date.today()


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def square(lon: float, lat: float, size: float = 0.01) -> dict[str, Any]:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def incident_input(code: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "code": code,
        "incidentType": "MINE_ACCIDENT",
        "occurredOn": "2024-03-01",
        "location": point(40.0, 40.0),
    }
    values.update(overrides)
    return values


async def record(gql: GraphQLClient, code: str, **overrides: Any) -> dict[str, Any]:
    body = await gql(RECORD, {"input": incident_input(code, **overrides)})
    assert "errors" not in body, body
    incident: dict[str, Any] = body["data"]["recordIncident"]
    return incident


async def create_zone(gql: GraphQLClient, code: str, lon: float, lat: float) -> str:
    """A zone covering the 0.01° square whose south-west corner is (lon, lat); its id."""
    zone_input = {
        "code": code,
        "name": f"Zone {code}",
        "hazardType": "CHA",
        "contamination": ["AP_MINE"],
        "geometry": square(lon, lat),
    }
    body = await gql(CREATE_ZONE, {"input": zone_input})
    assert "errors" not in body, body
    zone_id: str = body["data"]["createZone"]["id"]
    return zone_id


async def create_task(conn: Conn, code: str, zone_id: str) -> str:
    """A planned clearance task on the zone, with one team (written directly: no task API yet)."""
    org = await conn.fetchval(
        "INSERT INTO organisations (code, name, org_type) VALUES ($1, $1, 'NATIONAL_NGO') "
        "RETURNING id",
        f"ORG-{code}",
    )
    team = await conn.fetchval(
        "INSERT INTO teams (code, name, organisation_id, size) VALUES ($1, $1, $2, 8) RETURNING id",
        f"TEAM-{code}",
        org,
    )
    task = await conn.fetchval(
        "INSERT INTO tasks (code, zone_id, task_type) VALUES ($1, $2, 'CLEARANCE') RETURNING id",
        code,
        int(zone_id),
    )
    await conn.execute("INSERT INTO task_teams (task_id, team_id) VALUES ($1, $2)", task, team)
    return str(task)


async def counts(conn: Conn) -> tuple[int, int]:
    """(incidents, casualties) stored."""
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM incidents) AS i, (SELECT count(*) FROM casualties) AS c"
    )
    assert row is not None
    return int(row["i"]), int(row["c"])


def only_error(body: dict[str, Any]) -> dict[str, Any]:
    (error,) = body["errors"]
    assert isinstance(error, dict)
    return error


# --- recordIncident ---------------------------------------------------------------------------


async def test_record_incident_with_casualties_links_the_zone_the_point_lies_in(
    gql: GraphQLClient,
) -> None:
    zone_id = await create_zone(gql, "HA-I1", 40.0, 40.0)
    casualties = [
        {"outcome": "KILLED", "category": "CIVILIAN", "sex": "MALE", "age": 12},
        {"outcome": "INJURED", "category": "CIVILIAN", "sex": "FEMALE", "age": 18},
        {"outcome": "INJURED", "fullName": "A. Person"},
    ]
    incident = await record(
        gql,
        "ACC-0001",
        location=point(40.005, 40.005),
        deviceCategory="AP_MINE",
        activity="FARMING",
        admin1="North",
        casualties=casualties,
    )
    assert incident["zone"] == {"id": zone_id, "code": "HA-I1"}
    assert incident["location"] == point(40.005, 40.005)
    assert (incident["killed"], incident["injured"]) == (1, 2)
    assert incident["version"] == 1 and incident["verified"] is False
    assert [(c["outcome"], c["age"], c["ageGroup"]) for c in incident["casualties"]] == [
        ("KILLED", 12, "CHILD"),
        ("INJURED", 18, "ADULT"),
        ("INJURED", None, "UNKNOWN"),
    ]
    assert incident["casualties"][2]["category"] == "UNKNOWN"
    assert incident["casualties"][2]["sex"] == "UNKNOWN"


async def test_a_given_zone_is_kept_and_a_point_outside_every_zone_links_none(
    gql: GraphQLClient,
) -> None:
    inside = await create_zone(gql, "HA-I2", 41.0, 41.0)
    other = await create_zone(gql, "HA-I3", 42.0, 42.0)
    given = await record(gql, "ACC-0002", location=point(41.005, 41.005), zoneId=other)
    assert given["zone"]["id"] == other
    outside = await record(gql, "ACC-0003", location=point(43.5, 43.5))
    assert outside["zone"] is None
    assert inside != other


async def test_a_bad_casualty_names_its_index_and_nothing_is_written(
    gql: GraphQLClient, conn: Conn
) -> None:
    before = await counts(conn)
    casualties = [{"age": 30}, {"age": 5}, {"age": 130}, {"age": -1}]
    body = await gql(RECORD, {"input": incident_input("ACC-0004", casualties=casualties)})
    assert error_fields(body) == ["input.casualties[2].age", "input.casualties[3].age"]
    assert await counts(conn) == before


async def test_the_database_backs_the_casualty_rule_with_the_same_field(
    gql: GraphQLClient, conn: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With the service's own check loosened, the CHECK constraint still refuses, and the field
    # keeps its index; the incident inserted before it is rolled back.
    monkeypatch.setattr(casualty_service, "MAX_AGE", 200)
    before = await counts(conn)
    casualties = [{"age": 30}, {"age": 5}, {"age": 130}]
    body = await gql(RECORD, {"input": incident_input("ACC-0005", casualties=casualties)})
    assert error_fields(body) == ["input.casualties[2].age"]
    assert await counts(conn) == before


async def test_the_database_backs_the_date_rule(
    gql: GraphQLClient, conn: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rules, "today", lambda: date(9999, 1, 1))
    before = await counts(conn)
    tomorrow = (TODAY + timedelta(days=2)).isoformat()
    body = await gql(RECORD, {"input": incident_input("ACC-0006", occurredOn=tomorrow)})
    assert error_fields(body) == ["input.occurredOn"]
    assert await counts(conn) == before


async def test_every_broken_rule_is_named_and_nothing_is_written(
    gql: GraphQLClient, conn: Conn
) -> None:
    before = await counts(conn)
    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    body = await gql(
        RECORD,
        {
            "input": incident_input(
                "bad code!",
                occurredOn=tomorrow,
                location=point(200.0, 10.0),
                zoneId="999999",
                taskId="999998",
                casualties=[{"age": 121}],
            )
        },
    )
    messages = {f["field"]: f["message"] for f in only_error(body)["extensions"]["fields"]}
    assert set(messages) == {
        "input.code",
        "input.occurredOn",
        "input.location",
        "input.zoneId",
        "input.taskId",
        "input.casualties[0].age",
    }
    assert "future" in messages["input.occurredOn"]
    assert "-180..180" in messages["input.location"]
    assert await counts(conn) == before


async def test_location_must_be_a_point_in_range(gql: GraphQLClient, conn: Conn) -> None:
    before = await counts(conn)
    cases = {
        "polygon": (square(1, 1), "must be a Point"),
        "latitude": (point(10, 91), "outside -90..90"),
        "not numbers": ({"type": "Point", "coordinates": ["a", 1]}, "must be numbers"),
        "not GeoJSON": ("nonsense", "not GeoJSON"),
    }
    for name, (location, reason) in cases.items():
        body = await gql(RECORD, {"input": incident_input("ACC-LOC", location=location)})
        assert error_fields(body) == ["input.location"], name
        assert reason in only_error(body)["extensions"]["fields"][0]["message"], name
    assert await counts(conn) == before


async def test_duplicate_code_is_a_conflict_and_writes_nothing(
    gql: GraphQLClient, conn: Conn
) -> None:
    await record(gql, "ACC-0007")
    before = await counts(conn)
    body = await gql(
        RECORD, {"input": incident_input("ACC-0007", casualties=[{"outcome": "KILLED"}])}
    )
    error = only_error(body)
    assert error["extensions"]["code"] == "CONFLICT"
    assert "input.code" in error["message"]
    assert await counts(conn) == before


async def test_a_task_only_for_a_demining_accident_and_it_gives_its_zone(
    gql: GraphQLClient, conn: Conn
) -> None:
    zone_id = await create_zone(gql, "HA-I4", 44.0, 44.0)
    other_zone = await create_zone(gql, "HA-I5", 45.0, 45.0)
    task_id = await create_task(conn, "TASK-I4", zone_id)
    before = await counts(conn)

    wrong_type = await gql(RECORD, {"input": incident_input("ACC-0008", taskId=task_id)})
    assert error_fields(wrong_type) == ["input.taskId"]
    assert "DEMINING_ACCIDENT" in only_error(wrong_type)["extensions"]["fields"][0]["message"]
    other = await gql(
        RECORD,
        {
            "input": incident_input(
                "ACC-0008", incidentType="DEMINING_ACCIDENT", taskId=task_id, zoneId=other_zone
            )
        },
    )
    assert error_fields(other) == ["input.taskId"]
    assert await counts(conn) == before

    # Away from any zone, the task still gives the incident its zone.
    accident = await record(
        gql,
        "ACC-0008",
        incidentType="DEMINING_ACCIDENT",
        taskId=task_id,
        activity="DEMINING",
        location=point(46.5, 46.5),
    )
    assert accident["zone"]["id"] == zone_id
    assert accident["task"] == {"id": task_id, "code": "TASK-I4"}


async def test_the_schema_refuses_a_task_on_another_accident_type(conn: Conn) -> None:
    # The second line of defence: the CHECK holds for every writer, not only the API.
    zone = await conn.fetchval(
        "INSERT INTO zones (code, name, hazard_type, contamination, geometry, priority, "
        "estimated_area_m2) VALUES ('HA-DB', 'db', 'SHA', '{AP_MINE}', "
        "ST_Multi(ST_Buffer(ST_MakePoint(1, 1)::geography, 10)::geometry), 1, 0) RETURNING id"
    )
    task = await create_task(conn, "TASK-DB", str(zone))
    with pytest.raises(asyncpg.CheckViolationError) as refused:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO incidents (code, incident_type, occurred_on, location, task_id) "
                "VALUES ('ACC-DB', 'MINE_ACCIDENT', current_date, ST_MakePoint(1, 1), $1)",
                int(task),
            )
    assert refused.value.constraint_name == "incidents_task_only_for_demining"


# --- incident, incidents ----------------------------------------------------------------------

ONE = "query($id: ID, $code: String) { incident(id: $id, code: $code) { id code } }"


async def test_incident_by_id_and_by_code(gql: GraphQLClient) -> None:
    created = await record(gql, "ACC-0010")
    by_id = await gql(ONE, {"id": created["id"]})
    by_code = await gql(ONE, {"code": "ACC-0010"})
    expected = {"id": created["id"], "code": "ACC-0010"}
    assert by_id["data"]["incident"] == by_code["data"]["incident"] == expected
    assert await gql(ONE, {"code": "ACC-404"}) == {"data": {"incident": None}}
    assert error_fields(await gql(ONE, {"id": "abc"})) == ["id"]
    assert error_fields(await gql(ONE, {})) == ["id"]
    assert error_fields(await gql(ONE, {"id": created["id"], "code": "ACC-0010"})) == ["id"]


LIST = """
query($filter: IncidentFilter, $orderBy: IncidentOrder, $first: Int, $after: String) {
  incidents(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    totalCount
    nodes { code occurredOn }
    edges { cursor node { code } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


async def seed(gql: GraphQLClient) -> dict[str, str]:
    """Five incidents around (50, 50); B2 and B3 share a date; returns the zone id by code."""
    zone_id = await create_zone(gql, "HA-B", 50.0, 50.0)
    specs = [
        ("B1", "2023-01-10", "MINE_ACCIDENT", "AP_MINE", "East", point(50.005, 50.005), 1),
        ("B2", "2023-02-20", "UXO_AXO_ACCIDENT", "UXO", "East", point(50.5, 50.5), 0),
        ("B3", "2023-02-20", "MINE_ACCIDENT", "AV_MINE", "West", point(51.0, 50.0), 2),
        ("B4", "2023-05-01", "IED_ACCIDENT", "IED", "West", point(50.008, 50.002), 0),
        ("B5", "2024-01-01", "OTHER", "UNKNOWN", None, point(60.0, 10.0), 1),
    ]
    for code, on, kind, device, admin1, where, victims in specs:
        await record(
            gql,
            code,
            occurredOn=on,
            incidentType=kind,
            deviceCategory=device,
            admin1=admin1,
            location=where,
            casualties=[{"outcome": "INJURED"}] * victims,
        )
    return {"HA-B": zone_id}


async def codes(gql: GraphQLClient, filter: dict[str, Any], order: str = "CODE_ASC") -> list[str]:
    body = await gql(LIST, {"filter": filter, "orderBy": order})
    assert "errors" not in body, body
    return [n["code"] for n in body["data"]["incidents"]["nodes"]]


async def test_filters(gql: GraphQLClient) -> None:
    zones = await seed(gql)
    assert await codes(gql, {}) == ["B1", "B2", "B3", "B4", "B5"]
    # from and to are inclusive, on occurredOn.
    assert await codes(gql, {"from": "2023-02-20", "to": "2023-05-01"}) == ["B2", "B3", "B4"]
    assert await codes(gql, {"from": "2023-02-21"}) == ["B4", "B5"]
    assert await codes(gql, {"to": "2023-01-10"}) == ["B1"]
    assert await codes(gql, {"incidentType": ["MINE_ACCIDENT", "OTHER"]}) == ["B1", "B3", "B5"]
    assert await codes(gql, {"deviceCategory": ["UXO", "IED"]}) == ["B2", "B4"]
    assert await codes(gql, {"zoneId": zones["HA-B"]}) == ["B1", "B4"]
    assert await codes(gql, {"admin1": "West"}) == ["B3", "B4"]
    bbox = {"west": 49.9, "south": 49.9, "east": 50.6, "north": 50.6}
    assert await codes(gql, {"bbox": bbox}) == ["B1", "B2", "B4"]
    assert await codes(gql, {"hasCasualties": True}) == ["B1", "B3", "B5"]
    assert await codes(gql, {"hasCasualties": False}) == ["B2", "B4"]
    assert await codes(gql, {"hasCasualties": True, "admin1": "East"}) == ["B1"]


async def test_near_is_measured_in_metres_on_the_spheroid(gql: GraphQLClient, conn: Conn) -> None:
    await seed(gql)
    # B4 lies about 0.003° of longitude and 0.003° of latitude from B1.
    metres = await conn.fetchval(
        "SELECT ST_Distance(ST_MakePoint(50.005, 50.005)::geography, "
        "ST_MakePoint(50.008, 50.002)::geography)"
    )
    assert 350 < metres < 450
    here = {"lon": 50.005, "lat": 50.005}
    assert await codes(gql, {"near": {**here, "meters": metres - 1}}) == ["B1"]
    assert await codes(gql, {"near": {**here, "meters": metres + 1}}) == ["B1", "B4"]


async def test_bad_filters_are_named(gql: GraphQLClient) -> None:
    inverted = {"west": 10, "south": 0, "east": 5, "north": 1}
    body = await gql(LIST, {"filter": {"bbox": inverted, "from": "2024-02-01", "to": "2024-01-01"}})
    assert set(error_fields(body)) == {"filter.bbox", "filter.to"}
    far = await gql(LIST, {"filter": {"near": {"lon": 0, "lat": 0, "meters": -1}}})
    assert error_fields(far) == ["filter.near"]
    bad_zone = await gql(LIST, {"filter": {"zoneId": "zone-1"}})
    assert error_fields(bad_zone) == ["filter.zoneId"]


async def test_keyset_pages_in_every_order(gql: GraphQLClient) -> None:
    await seed(gql)

    async def walk(order: str | None) -> list[str]:
        seen: list[str] = []
        after = None
        while True:
            variables: dict[str, Any] = {"first": 2, "after": after}
            if order:
                variables["orderBy"] = order
            page = (await gql(LIST, variables))["data"]["incidents"]
            assert page["totalCount"] == 5
            assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
            seen += [e["node"]["code"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                return seen
            after = page["pageInfo"]["endCursor"]

    # Default: most recent first; B2 and B3 share a date and fall back on id, in the same direction.
    assert await walk(None) == ["B5", "B4", "B3", "B2", "B1"]
    assert await walk("OCCURRED_ON_ASC") == ["B1", "B2", "B3", "B4", "B5"]
    assert await walk("CODE_DESC") == ["B5", "B4", "B3", "B2", "B1"]
    assert await walk("CODE_ASC") == ["B1", "B2", "B3", "B4", "B5"]


async def test_bad_cursor_and_page_size(gql: GraphQLClient) -> None:
    await seed(gql)
    cursor = (await gql(LIST, {"first": 1}))["data"]["incidents"]["pageInfo"]["endCursor"]
    other_order = await gql(LIST, {"first": 1, "after": cursor, "orderBy": "CODE_ASC"})
    assert error_fields(other_order) == ["after"]
    zone_cursor = await gql(
        "{ zones(first: 1) { pageInfo { endCursor } } }",
    )
    foreign = zone_cursor["data"]["zones"]["pageInfo"]["endCursor"]
    assert error_fields(await gql(LIST, {"after": foreign})) == ["after"]
    too_many = await gql(LIST, {"first": 501})
    assert only_error(too_many)["extensions"]["code"] == "QUERY_TOO_COMPLEX"


# --- updateIncident ---------------------------------------------------------------------------

UPDATE = """
mutation($id: ID!, $version: Int!, $input: UpdateIncidentInput!) {
  updateIncident(id: $id, version: $version, input: $input) {
    id code incidentType occurredOn location description verified version zone { code }
  }
}
"""


async def test_update_changes_only_what_is_sent_and_bumps_the_version(gql: GraphQLClient) -> None:
    incident = await record(gql, "ACC-U1", description="first report")
    body = await gql(
        UPDATE,
        {
            "id": incident["id"],
            "version": 1,
            "input": {"verified": True, "occurredOn": "2024-02-28", "incidentType": "IED_ACCIDENT"},
        },
    )
    updated = body["data"]["updateIncident"]
    assert updated["version"] == 2
    assert (updated["verified"], updated["occurredOn"], updated["incidentType"]) == (
        True,
        "2024-02-28",
        "IED_ACCIDENT",
    )
    assert updated["description"] == "first report"
    cleared = await gql(
        UPDATE, {"id": incident["id"], "version": 2, "input": {"description": None}}
    )
    assert cleared["data"]["updateIncident"]["description"] is None
    assert cleared["data"]["updateIncident"]["version"] == 3


async def test_stale_version_is_a_conflict_and_changes_nothing(
    gql: GraphQLClient, conn: Conn
) -> None:
    incident = await record(gql, "ACC-U2")
    await gql(UPDATE, {"id": incident["id"], "version": 1, "input": {"admin1": "North"}})
    stale = await gql(UPDATE, {"id": incident["id"], "version": 1, "input": {"admin1": "South"}})
    assert only_error(stale)["extensions"]["code"] == "CONFLICT"
    row = await conn.fetchrow("SELECT admin1, version FROM incidents WHERE code = 'ACC-U2'")
    assert row is not None and (row["admin1"], row["version"]) == ("North", 2)


async def test_update_refuses_bad_values_and_unknown_incidents(
    gql: GraphQLClient, conn: Conn
) -> None:
    incident = await record(gql, "ACC-U3")
    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    bad = await gql(
        UPDATE,
        {
            "id": incident["id"],
            "version": 1,
            "input": {
                "occurredOn": tomorrow,
                "location": square(1, 1),
                "incidentType": None,
                "verified": None,
                "zoneId": "999999",
            },
        },
    )
    assert set(error_fields(bad)) == {
        "input.occurredOn",
        "input.location",
        "input.incidentType",
        "input.verified",
        "input.zoneId",
    }
    assert await conn.fetchval("SELECT version FROM incidents WHERE code = 'ACC-U3'") == 1
    missing = await gql(UPDATE, {"id": "999999", "version": 1, "input": {"admin1": "x"}})
    assert only_error(missing)["extensions"]["code"] == "NOT_FOUND"
    assert error_fields(await gql(UPDATE, {"id": "x", "version": 1, "input": {}})) == ["id"]


async def test_update_keeps_the_task_rule(gql: GraphQLClient, conn: Conn) -> None:
    zone_id = await create_zone(gql, "HA-U4", 47.0, 47.0)
    task_id = await create_task(conn, "TASK-U4", zone_id)
    accident = await record(gql, "ACC-U4", incidentType="DEMINING_ACCIDENT", taskId=task_id)
    changed_type = await gql(
        UPDATE, {"id": accident["id"], "version": 1, "input": {"incidentType": "MINE_ACCIDENT"}}
    )
    assert error_fields(changed_type) == ["input.incidentType"]
    plain = await record(gql, "ACC-U5")
    given_task = await gql(UPDATE, {"id": plain["id"], "version": 1, "input": {"taskId": task_id}})
    assert error_fields(given_task) == ["input.taskId"]
    # Both together are accepted: the task leaves as the type changes.
    both = await gql(
        UPDATE,
        {
            "id": accident["id"],
            "version": 1,
            "input": {"incidentType": "MINE_ACCIDENT", "taskId": None},
        },
    )
    assert both["data"]["updateIncident"]["incidentType"] == "MINE_ACCIDENT"


async def test_moving_an_incident_with_zone_null_links_the_zone_of_its_new_place(
    gql: GraphQLClient,
) -> None:
    await create_zone(gql, "HA-M1", 48.0, 48.0)
    await create_zone(gql, "HA-M2", 49.0, 49.0)
    incident = await record(gql, "ACC-M1", location=point(48.005, 48.005))
    assert incident["zone"]["code"] == "HA-M1"
    moved = await gql(
        UPDATE,
        {
            "id": incident["id"],
            "version": 1,
            "input": {"location": point(49.005, 49.005), "zoneId": None},
        },
    )
    assert moved["data"]["updateIncident"]["zone"] == {"code": "HA-M2"}
    assert moved["data"]["updateIncident"]["location"] == point(49.005, 49.005)


# --- statement counts and Zone.incidents ------------------------------------------------------


# Compiled, a read is one statement; executed, the page and one batch per nested level.
@pytest.mark.parametrize(("compiled_reads", "expected"), [(True, 1), (False, 4)])
async def test_nested_fields_cost_the_same_statements_for_5_and_60_incidents(
    gql: GraphQLClient, conn: Conn, sql_log: list[str], expected: int
) -> None:
    query = "{ incidents(first: 100) { nodes { zone { code } casualties { outcome } killed } } }"
    zone_ids = [int(await create_zone(gql, f"HA-S{n}", 30.0 + n, 30.0)) for n in range(3)]

    async def statements_for(total: int) -> int:
        have = int(await conn.fetchval("SELECT count(*) FROM incidents"))
        for n in range(have, total):
            incident = await conn.fetchval(
                "INSERT INTO incidents (code, incident_type, occurred_on, location) "
                "VALUES ($1, 'MINE_ACCIDENT', '2024-01-01', ST_SetSRID(ST_MakePoint($2, 30.005), "
                "4326)) RETURNING id",
                f"ACC-S{n:03}",
                30.005 + n % 3,
            )
            await conn.execute(
                "INSERT INTO casualties (incident_id, outcome) VALUES ($1, 'KILLED')", incident
            )
        await asyncio.sleep(0)
        sql_log.clear()
        body = await gql(query)
        await asyncio.sleep(0)
        nodes = body["data"]["incidents"]["nodes"]
        assert len(nodes) == total
        assert all(n["zone"] is not None and n["killed"] == 1 for n in nodes)
        return len(sql_log)

    await statements_for(5)  # the first run also has asyncpg introspect the types it meets
    few = await statements_for(5)
    many = await statements_for(60)
    # Executed: the page, then one statement each for the zones, the casualties and their counts.
    assert few == many == expected, sql_log
    assert len(zone_ids) == 3


ZONE_INCIDENTS = """
query($first: Int, $after: String) {
  zones(orderBy: CODE_ASC, filter: {search: "HA-Z"}) {
    nodes {
      code
      incidents(first: $first, after: $after) {
        totalCount
        nodes { code }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
}
"""


async def test_zone_incidents_pages_per_zone_in_one_statement(
    gql: GraphQLClient, sql_log: list[str]
) -> None:
    await create_zone(gql, "HA-Z1", 20.0, 20.0)
    await create_zone(gql, "HA-Z2", 21.0, 21.0)
    await create_zone(gql, "HA-Z3", 22.0, 22.0)
    for n, on in enumerate(["2024-01-01", "2024-03-01", "2024-02-01"]):
        await record(gql, f"Z1-{n}", occurredOn=on, location=point(20.005, 20.005))
    await record(gql, "Z2-0", location=point(21.005, 21.005))

    await asyncio.sleep(0)
    sql_log.clear()
    body = await gql(ZONE_INCIDENTS, {"first": 2})
    await asyncio.sleep(0)
    zones = {z["code"]: z["incidents"] for z in body["data"]["zones"]["nodes"]}
    assert [n["code"] for n in zones["HA-Z1"]["nodes"]] == ["Z1-1", "Z1-2"]
    assert zones["HA-Z1"]["pageInfo"]["hasNextPage"] is True
    assert zones["HA-Z1"]["totalCount"] == 3
    assert [n["code"] for n in zones["HA-Z2"]["nodes"]] == ["Z2-0"]
    assert zones["HA-Z2"]["totalCount"] == 1
    assert zones["HA-Z3"] == {
        "totalCount": 0,
        "nodes": [],
        "pageInfo": {"hasNextPage": False, "endCursor": None},
    }
    # zones, the incident pages of all three zones, and their counts: three statements.
    assert len(sql_log) == 3, sql_log

    one_zone = """
    query($id: ID, $after: String) {
      zone(id: $id) { incidents(first: 2, after: $after) { nodes { code } } }
    }
    """
    cursor = zones["HA-Z1"]["pageInfo"]["endCursor"]
    z1 = (await gql('{ zone(code: "HA-Z1") { id } }'))["data"]["zone"]["id"]
    z2 = (await gql('{ zone(code: "HA-Z2") { id } }'))["data"]["zone"]["id"]
    rest = await gql(one_zone, {"id": z1, "after": cursor})
    assert [n["code"] for n in rest["data"]["zone"]["incidents"]["nodes"]] == ["Z1-0"]
    # A cursor of one zone's list is refused on another zone's.
    refused = await gql(one_zone, {"id": z2, "after": cursor})
    assert error_fields(refused) == ["after"]
