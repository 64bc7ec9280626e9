"""landReleaseStatistics and deviceStatistics on small known data sets, checked exactly."""

from __future__ import annotations

from typing import Any

import pytest

from api.graphql.enums import DeviceCategory, Disposal, ReleaseMethod
from db.pool import Connection as Conn
from db.queries import statistics as statistics_sql
from tests.helpers import GraphQLClient, error_fields

LAND = """
query($filter: LandReleaseFilter, $groupBy: [LandReleaseDimension!]) {
  landReleaseStatistics(filter: $filter, groupBy: $groupBy) {
    cancelledM2 reducedM2 clearedM2 releasedM2 remainingM2 progress
    groups { method month year admin1 releases cancelledM2 reducedM2 clearedM2 releasedM2 }
  }
}
"""
DEVICES = """
query($filter: DeviceFilter, $groupBy: [DeviceDimension!]) {
  deviceStatistics(filter: $filter, groupBy: $groupBy) {
    total finds
    groups { category disposal month year admin1 count finds }
  }
}
"""

# code, admin1, hazard type, estimated m², releases (method, m², date)
ZONES: list[tuple[str, str | None, str, float, list[tuple[str, float, str]]]] = [
    (
        "Z1",
        "North",
        "SHA",
        10000,
        [
            ("CANCELLED", 1000, "2021-01-15"),
            ("REDUCED", 500.5, "2021-03-01"),
            ("CLEARED", 250.25, "2021-03-31"),
        ],
    ),
    ("Z2", "South", "CHA", 5000, [("CLEARED", 5000, "2021-02-10")]),  # closes the zone
    ("Z3", None, "CHA", 2000, []),
]


async def add_zone(conn: Conn, code: str, admin1: str | None, hazard: str, area: float) -> int:
    zone_id: int = await conn.fetchval(
        "INSERT INTO zones (code, name, hazard_type, contamination, geometry, priority, admin1) "
        "VALUES ($1, $1, $2, '{AP_MINE}', ST_Multi(ST_MakeEnvelope(30, 10, 30.01, 10.01, 4326)), "
        "1, $3) RETURNING id",
        code,
        hazard,
        admin1,
    )
    # A round estimate, so that every figure is exact (the trigger computes it from geometry).
    await conn.execute("UPDATE zones SET estimated_area_m2 = $2 WHERE id = $1", zone_id, area)
    return zone_id


@pytest.fixture
async def zones(conn: Conn) -> dict[str, int]:
    ids = {}
    for code, admin1, hazard, area, releases in ZONES:
        ids[code] = await add_zone(conn, code, admin1, hazard, area)
        for method, m2, day in releases:
            await conn.execute(
                "INSERT INTO land_releases (zone_id, method, area_m2, released_on) "
                "VALUES ($1, $2, $3, $4::text::date)",
                ids[code],
                method,
                m2,
                day,
            )
    return ids


async def land(gql: GraphQLClient, group_by: list[str], **filter: Any) -> dict[str, Any]:
    body = await gql(LAND, {"filter": filter or None, "groupBy": group_by})
    assert "errors" not in body, body
    answer: dict[str, Any] = body["data"]["landReleaseStatistics"]
    return answer


def rows(answer: dict[str, Any], *fields: str) -> list[tuple[Any, ...]]:
    return [tuple(g[f] for f in fields) for g in answer["groups"]]


async def test_released_by_method_remaining_and_progress(
    gql: GraphQLClient, zones: dict[str, int]
) -> None:
    answer = await land(gql, [])
    assert answer == {
        "cancelledM2": 1000.0,
        "reducedM2": 500.5,
        "clearedM2": 5250.25,
        "releasedM2": 6750.75,
        "remainingM2": 10249.25,  # Z1 8249.25 + Z2 0 + Z3 2000
        "progress": pytest.approx(6750.75 / 17000),
        "groups": [],
    }


async def test_release_groups(gql: GraphQLClient, zones: dict[str, int]) -> None:
    answer = await land(gql, ["METHOD"])
    assert rows(answer, "method", "releases", "releasedM2", "cancelledM2", "clearedM2") == [
        ("CANCELLED", 1, 1000.0, 1000.0, 0.0),
        ("REDUCED", 1, 500.5, 0.0, 0.0),
        ("CLEARED", 2, 5250.25, 0.0, 5250.25),
    ]
    assert {g["month"] for g in answer["groups"]} == {None}
    answer = await land(gql, ["MONTH"])
    assert rows(answer, "month", "releases", "releasedM2", "reducedM2", "clearedM2") == [
        ("2021-01", 1, 1000.0, 0.0, 0.0),
        ("2021-02", 1, 5000.0, 0.0, 5000.0),
        ("2021-03", 2, 750.75, 500.5, 250.25),
    ]
    answer = await land(gql, ["ADMIN1", "YEAR"])
    assert rows(answer, "admin1", "year", "releasedM2") == [
        ("North", 2021, 1750.75),
        ("South", 2021, 5000.0),
    ]


async def test_release_filters(gql: GraphQLClient, zones: dict[str, int]) -> None:
    answer = await land(gql, ["METHOD"], **{"from": "2021-02-01", "to": "2021-03-01"})
    assert rows(answer, "method", "releasedM2") == [("REDUCED", 500.5), ("CLEARED", 5000.0)]
    assert answer["remainingM2"] == 10249.25  # the date range does not change what remains
    answer = await land(gql, [], admin1="North")
    assert (answer["releasedM2"], answer["remainingM2"]) == (1750.75, 8249.25)
    assert answer["progress"] == pytest.approx(1750.75 / 10000)
    answer = await land(gql, [], hazardType=["CHA"])
    assert (answer["clearedM2"], answer["remainingM2"], answer["progress"]) == (
        5000.0,
        2000.0,
        pytest.approx(5000 / 7000),
    )
    answer = await land(gql, [], zoneId=str(zones["Z3"]))
    assert (answer["releasedM2"], answer["remainingM2"], answer["progress"]) == (0, 2000, 0)


async def test_release_series_has_no_holes(gql: GraphQLClient, zones: dict[str, int]) -> None:
    answer = await land(gql, ["MONTH"], **{"from": "2020-12-20", "to": "2021-04-01"})
    assert rows(answer, "month", "releases", "releasedM2") == [
        ("2020-12", 0, 0.0),
        ("2021-01", 1, 1000.0),
        ("2021-02", 1, 5000.0),
        ("2021-03", 2, 750.75),
        ("2021-04", 0, 0.0),
    ]


async def test_nothing_released_nor_remaining_is_progress_zero(gql: GraphQLClient) -> None:
    answer = await land(gql, ["METHOD"])
    assert answer == {
        "cancelledM2": 0.0,
        "reducedM2": 0.0,
        "clearedM2": 0.0,
        "releasedM2": 0.0,
        "remainingM2": 0.0,
        "progress": 0.0,
        "groups": [],
    }


# Device finds: zone code, report date, finds (category, quantity, disposal)
REPORTS: list[tuple[str, str, list[tuple[str, int, str]]]] = [
    ("Z1", "2021-01-10", [("AP_MINE", 3, "DESTROYED_IN_SITU"), ("UXO", 2, "RENDERED_SAFE")]),
    ("Z1", "2021-01-31", [("AP_MINE", 1, "REMOVED_AND_DESTROYED")]),
    ("Z2", "2021-03-05", [("CMR", 4, "DESTROYED_IN_SITU"), ("AP_MINE", 5, "DESTROYED_IN_SITU")]),
    ("Z3", "2021-03-06", [("OTHER", 1, "RENDERED_SAFE")]),
    ("Z3", "2021-03-07", []),  # a report without finds
]


@pytest.fixture
async def devices(conn: Conn) -> dict[str, int]:
    org = await conn.fetchval(
        "INSERT INTO organisations (code, name, org_type) VALUES ('O', 'O', 'UN') RETURNING id"
    )
    team = await conn.fetchval(
        "INSERT INTO teams (code, name, organisation_id, size) VALUES ('T', 'T', $1, 5) "
        "RETURNING id",
        org,
    )
    zone_ids = {}
    for code, admin1, hazard, area, _releases in ZONES:
        zone_ids[code] = await add_zone(conn, code, admin1, hazard, area)
        task = await conn.fetchval(
            "INSERT INTO tasks (code, zone_id, task_type) VALUES ($1, $2, 'CLEARANCE') "
            "RETURNING id",
            f"TK-{code}",
            zone_ids[code],
        )
        await conn.execute("INSERT INTO task_teams VALUES ($1, $2)", task, team)
        await conn.execute(
            "UPDATE tasks SET status = 'ONGOING', started_on = '2021-01-01' WHERE id = $1", task
        )
    for code, day, finds in REPORTS:
        report = await conn.fetchval(
            "INSERT INTO progress_reports (task_id, report_date) "
            "SELECT id, $2::text::date FROM tasks WHERE zone_id = $1 RETURNING id",
            zone_ids[code],
            day,
        )
        for category, quantity, disposal in finds:
            await conn.execute(
                "INSERT INTO device_finds (progress_report_id, category, quantity, disposal) "
                "VALUES ($1, $2, $3, $4)",
                report,
                category,
                quantity,
                disposal,
            )
    return zone_ids


async def found(gql: GraphQLClient, group_by: list[str], **filter: Any) -> dict[str, Any]:
    body = await gql(DEVICES, {"filter": filter or None, "groupBy": group_by})
    assert "errors" not in body, body
    answer: dict[str, Any] = body["data"]["deviceStatistics"]
    return answer


async def test_devices_total_and_groups(gql: GraphQLClient, devices: dict[str, int]) -> None:
    answer = await found(gql, [])
    assert answer == {"total": 16, "finds": 6, "groups": []}
    answer = await found(gql, ["CATEGORY"])
    assert rows(answer, "category", "count", "finds") == [
        ("AP_MINE", 9, 3),
        ("CMR", 4, 1),
        ("UXO", 2, 1),
        ("OTHER", 1, 1),
    ]
    assert {g["disposal"] for g in answer["groups"]} == {None}
    answer = await found(gql, ["DISPOSAL"])
    assert rows(answer, "disposal", "count") == [
        ("DESTROYED_IN_SITU", 12),
        ("REMOVED_AND_DESTROYED", 1),
        ("RENDERED_SAFE", 3),
    ]
    answer = await found(gql, ["ADMIN1", "MONTH"])
    assert rows(answer, "admin1", "month", "count") == [
        ("North", "2021-01", 6),
        ("South", "2021-03", 9),
        (None, "2021-03", 1),
    ]
    answer = await found(gql, ["YEAR", "CATEGORY", "DISPOSAL"])
    assert rows(answer, "year", "category", "disposal", "count") == [
        (2021, "AP_MINE", "DESTROYED_IN_SITU", 8),
        (2021, "AP_MINE", "REMOVED_AND_DESTROYED", 1),
        (2021, "CMR", "DESTROYED_IN_SITU", 4),
        (2021, "UXO", "RENDERED_SAFE", 2),
        (2021, "OTHER", "RENDERED_SAFE", 1),
    ]


async def test_device_filters_and_series(gql: GraphQLClient, devices: dict[str, int]) -> None:
    answer = await found(gql, ["CATEGORY"], admin1="North", **{"from": "2021-01-11"})
    assert answer["total"] == 1
    assert rows(answer, "category", "count") == [("AP_MINE", 1)]
    answer = await found(gql, [], zoneId=str(devices["Z2"]))
    assert (answer["total"], answer["finds"]) == (9, 2)
    answer = await found(gql, ["MONTH"], **{"from": "2020-12-31", "to": "2021-03-05"})
    assert rows(answer, "month", "count") == [
        ("2020-12", 0),
        ("2021-01", 6),
        ("2021-02", 0),
        ("2021-03", 9),
    ]


async def test_no_devices_is_zeros(gql: GraphQLClient) -> None:
    answer = await found(gql, ["CATEGORY", "MONTH"])
    assert answer == {"total": 0, "finds": 0, "groups": []}


async def test_bad_filters_are_named(gql: GraphQLClient) -> None:
    dates = {"from": "2021-03-01", "to": "2021-02-28"}
    body = await gql(LAND, {"filter": dates})
    assert error_fields(body) == ["filter.from", "filter.to"]
    body = await gql(DEVICES, {"filter": dates})
    assert error_fields(body) == ["filter.from", "filter.to"]
    body = await gql(LAND, {"filter": {"zoneId": "-1"}})
    assert error_fields(body) == ["filter.zoneId"]
    body = await gql(DEVICES, {"filter": {"zoneId": "x"}})
    assert error_fields(body) == ["filter.zoneId"]


def test_group_orders_follow_the_graphql_enumerations() -> None:
    assert tuple(e.value for e in ReleaseMethod) == statistics_sql.RELEASE_METHODS
    assert tuple(e.value for e in Disposal) == statistics_sql.DISPOSALS
    assert tuple(e.value for e in DeviceCategory) == statistics_sql.DEVICE_CATEGORIES
