"""casualtyStatistics on a small known data set: every figure and grouping, checked exactly.

The same questions are asked twice: as is (served by the summary tables) and with a bounding box
around the whole world (which only the records can answer); both must give the same answer.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from itertools import combinations
from typing import Any

import pytest

from api.app import create_app
from api.graphql.enums import (
    AgeGroup,
    CasualtyCategory,
    DeviceCategory,
    IncidentType,
    Outcome,
    Sex,
)
from api.settings import Settings
from db.pool import Connection as Conn
from db.pool import SingleConnectionSource
from db.queries import statistics as statistics_sql
from tests.helpers import GraphQLClient, error_fields

QUERY = """
query($filter: CasualtyFilter, $groupBy: [CasualtyDimension!]) {
  casualtyStatistics(filter: $filter, groupBy: $groupBy) {
    total killed injured
    groups {
      outcome category sex ageGroup month year admin1 incidentType deviceCategory count
    }
  }
}
"""
WORLD = {"west": -180, "south": -90, "east": 180, "north": 90}
DIMENSIONS = [
    "OUTCOME",
    "CATEGORY",
    "SEX",
    "AGE_GROUP",
    "MONTH",
    "YEAR",
    "ADMIN1",
    "INCIDENT_TYPE",
    "DEVICE_CATEGORY",
]
FIELD = {
    "OUTCOME": "outcome",
    "CATEGORY": "category",
    "SEX": "sex",
    "AGE_GROUP": "ageGroup",
    "MONTH": "month",
    "YEAR": "year",
    "ADMIN1": "admin1",
    "INCIDENT_TYPE": "incidentType",
    "DEVICE_CATEGORY": "deviceCategory",
}

# code, type, date, admin1, device category, casualties (outcome, category, sex, age)
INCIDENTS: list[tuple[str, str, str, str | None, str, list[tuple[str, str, str, int | None]]]] = [
    ("I1", "MINE_ACCIDENT", "2020-11-09", "North", "AP_MINE", [("KILLED", "CIVILIAN", "MALE", 30)]),
    (
        "I2",
        "MINE_ACCIDENT",
        "2020-11-10",
        "North",
        "AP_MINE",
        [
            ("KILLED", "CIVILIAN", "FEMALE", 9),
            ("INJURED", "CIVILIAN", "MALE", 12),
            ("INJURED", "MILITARY", "MALE", 40),
            ("UNKNOWN", "UNKNOWN", "UNKNOWN", None),
        ],
    ),
    (
        "I3",
        "DEMINING_ACCIDENT",
        "2020-12-31",
        "South",
        "AV_MINE",
        [("KILLED", "DEMINER", "MALE", 35), ("INJURED", "DEMINER", "FEMALE", 28)],
    ),
    (
        "I4",
        "UXO_AXO_ACCIDENT",
        "2021-02-01",
        None,
        "UNKNOWN",
        [("INJURED", "CIVILIAN", "UNKNOWN", None), ("INJURED", "UNKNOWN", "MALE", 16)],
    ),
    ("I5", "OTHER", "2021-02-28", "South", "UNKNOWN", []),
]


async def add_incident(
    conn: Conn,
    code: str,
    incident_type: str,
    day: str,
    admin1: str | None,
    device: str,
    casualties: list[tuple[str, str, str, int | None]],
) -> int:
    """An incident and its casualties (all in one statement, as a bulk writer would)."""
    incident_id: int = await conn.fetchval(
        "INSERT INTO incidents (code, incident_type, occurred_on, location, admin1, "
        "device_category) VALUES ($1, $2, $3::text::date, ST_SetSRID(ST_MakePoint(30, 10), 4326), "
        "$4, $5) RETURNING id",
        code,
        incident_type,
        day,
        admin1,
        device,
    )
    if casualties:
        await conn.execute(
            "INSERT INTO casualties (incident_id, outcome, category, sex, age) "
            "SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::smallint[])",
            incident_id,
            *(list(column) for column in zip(*casualties, strict=True)),
        )
    return incident_id


@pytest.fixture
def app(settings: Settings, conn: Conn) -> Any:
    """The application without its rate limit: these tests ask hundreds of questions."""
    return create_app(replace(settings, rate_limit_per_s=0), db=SingleConnectionSource(conn))


@pytest.fixture
async def known(conn: Conn) -> dict[str, int]:
    """The known data set; the incident ids by code."""
    return {i[0]: await add_incident(conn, *i) for i in INCIDENTS}


def people(since: str | None = None, until: str | None = None) -> list[dict[str, Any]]:
    """The known casualties as the groups would show them (the test's own oracle)."""
    out: list[dict[str, Any]] = []
    for _code, kind, day, admin1, device, casualties in INCIDENTS:
        if (since and day < since) or (until and day > until):
            continue
        for outcome, category, sex, age in casualties:
            age_group = "UNKNOWN" if age is None else ("CHILD" if age < 18 else "ADULT")
            out.append(
                {
                    "outcome": outcome,
                    "category": category,
                    "sex": sex,
                    "ageGroup": age_group,
                    "month": day[:7],
                    "year": int(day[:4]),
                    "admin1": admin1,
                    "incidentType": kind,
                    "deviceCategory": device,
                }
            )
    return out


async def ask(gql: GraphQLClient, group_by: list[str], **filter: Any) -> dict[str, Any]:
    """Ask through the summary tables and through the records; both must agree."""
    body = await gql(QUERY, {"filter": filter or None, "groupBy": group_by})
    assert "errors" not in body, body
    answer: dict[str, Any] = body["data"]["casualtyStatistics"]
    if "bbox" not in filter and "zoneId" not in filter:
        again = await gql(QUERY, {"filter": {**filter, "bbox": WORLD}, "groupBy": group_by})
        assert again["data"]["casualtyStatistics"] == answer, group_by
    return answer


def counts(answer: dict[str, Any], group_by: list[str]) -> list[tuple[Any, ...]]:
    """The groups as (values of the grouped dimensions..., count)."""
    return [(*(g[FIELD[d]] for d in group_by), g["count"]) for g in answer["groups"]]


async def test_the_reference_question_in_one_query(
    gql: GraphQLClient, known: dict[str, int]
) -> None:
    # "Since 10 November 2020, how many people were killed and how many injured, and how many
    # of each were civilians?"
    answer = await ask(gql, ["OUTCOME", "CATEGORY"], **{"from": "2020-11-10"})
    assert (answer["total"], answer["killed"], answer["injured"]) == (8, 2, 5)
    assert counts(answer, ["OUTCOME", "CATEGORY"]) == [
        ("KILLED", "CIVILIAN", 1),
        ("KILLED", "DEMINER", 1),
        ("INJURED", "CIVILIAN", 2),
        ("INJURED", "MILITARY", 1),
        ("INJURED", "DEMINER", 1),
        ("INJURED", "UNKNOWN", 1),
        ("UNKNOWN", "UNKNOWN", 1),
    ]
    # Dimensions not grouped by are null.
    assert {g["sex"] for g in answer["groups"]} == {None}
    assert {g["month"] for g in answer["groups"]} == {None}


async def test_totals_without_groups(gql: GraphQLClient, known: dict[str, int]) -> None:
    answer = await ask(gql, [])
    assert answer == {"total": 9, "killed": 3, "injured": 5, "groups": []}


async def test_each_dimension_alone_unknown_values_kept(
    gql: GraphQLClient, known: dict[str, int]
) -> None:
    answer = await ask(gql, ["OUTCOME"])
    assert counts(answer, ["OUTCOME"]) == [("KILLED", 3), ("INJURED", 5), ("UNKNOWN", 1)]
    answer = await ask(gql, ["CATEGORY"])
    assert counts(answer, ["CATEGORY"]) == [
        ("CIVILIAN", 4),
        ("MILITARY", 1),
        ("DEMINER", 2),
        ("UNKNOWN", 2),
    ]
    answer = await ask(gql, ["SEX"])
    assert counts(answer, ["SEX"]) == [("FEMALE", 2), ("MALE", 5), ("UNKNOWN", 2)]
    answer = await ask(gql, ["AGE_GROUP"])
    assert counts(answer, ["AGE_GROUP"]) == [("CHILD", 3), ("ADULT", 4), ("UNKNOWN", 2)]
    answer = await ask(gql, ["MONTH"])
    assert counts(answer, ["MONTH"]) == [("2020-11", 5), ("2020-12", 2), ("2021-02", 2)]
    answer = await ask(gql, ["YEAR"])
    assert counts(answer, ["YEAR"]) == [(2020, 7), (2021, 2)]
    answer = await ask(gql, ["ADMIN1"])
    assert counts(answer, ["ADMIN1"]) == [("North", 5), ("South", 2), (None, 2)]
    answer = await ask(gql, ["INCIDENT_TYPE"])
    assert counts(answer, ["INCIDENT_TYPE"]) == [
        ("DEMINING_ACCIDENT", 2),
        ("MINE_ACCIDENT", 5),
        ("UXO_AXO_ACCIDENT", 2),
    ]
    answer = await ask(gql, ["DEVICE_CATEGORY"])
    assert counts(answer, ["DEVICE_CATEGORY"]) == [
        ("AP_MINE", 5),
        ("AV_MINE", 2),
        ("UNKNOWN", 2),
    ]


ORDERS = {
    "outcome": [e.value for e in Outcome],
    "category": [e.value for e in CasualtyCategory],
    "sex": [e.value for e in Sex],
    "ageGroup": [e.value for e in AgeGroup],
    "incidentType": [e.value for e in IncidentType],
    "deviceCategory": [e.value for e in DeviceCategory],
}


def expected(group_by: list[str], rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The groups the oracle expects, in the documented order."""
    tally = Counter(tuple(r[FIELD[d]] for d in group_by) for r in rows)

    def rank(key: tuple[Any, ...]) -> tuple[Any, ...]:
        out: list[Any] = []
        for d, value in zip(group_by, key, strict=True):
            field = FIELD[d]
            if field in ORDERS:
                out.append(ORDERS[field].index(value))
            else:
                out.append((value is None, value or 0))
        return tuple(out)

    return [(*key, n) for key, n in sorted(tally.items(), key=lambda item: rank(item[0]))]


async def test_every_pair_of_dimensions_and_date_ranges(
    gql: GraphQLClient, known: dict[str, int]
) -> None:
    ranges = [
        (None, None),
        ("2020-11-10", None),
        (None, "2020-12-30"),
        ("2020-11-01", "2021-01-31"),  # whole months only
        ("2020-11-10", "2020-11-10"),  # inside one month
        ("2020-12-31", "2021-02-01"),  # the edges only
    ]
    pairs = [list(p) for p in combinations(DIMENSIONS, 2)]
    for index, (since, until) in enumerate(ranges):
        rows = people(since, until)
        filter = {k: v for k, v in (("from", since), ("to", until)) if v}
        # Every dimension alone in every range; each pair in one of the ranges.
        for group_by in [[d] for d in DIMENSIONS] + pairs[index :: len(ranges)]:
            if group_by == ["MONTH"] and since and until:
                continue  # the series: see test_a_month_series_has_no_holes
            answer = await ask(gql, group_by, **filter)
            assert counts(answer, group_by) == expected(group_by, rows), (group_by, filter)
            assert answer["total"] == len(rows)
            assert answer["killed"] == sum(r["outcome"] == "KILLED" for r in rows)
            assert answer["injured"] == sum(r["outcome"] == "INJURED" for r in rows)


async def test_all_dimensions_at_once(gql: GraphQLClient, known: dict[str, int]) -> None:
    answer = await ask(gql, DIMENSIONS)
    assert counts(answer, DIMENSIONS) == expected(DIMENSIONS, people())


async def test_filters_by_type_admin1_and_zone(
    gql: GraphQLClient, conn: Conn, known: dict[str, int]
) -> None:
    answer = await ask(gql, ["OUTCOME"], incidentType=["MINE_ACCIDENT", "UXO_AXO_ACCIDENT"])
    assert counts(answer, ["OUTCOME"]) == [("KILLED", 2), ("INJURED", 4), ("UNKNOWN", 1)]
    answer = await ask(gql, ["SEX"], admin1="North", **{"from": "2020-11-10"})
    assert counts(answer, ["SEX"]) == [("FEMALE", 1), ("MALE", 2), ("UNKNOWN", 1)]
    answer = await ask(gql, ["AGE_GROUP"], incidentType=[])
    assert answer == {"total": 0, "killed": 0, "injured": 0, "groups": []}
    zone_id = await conn.fetchval(
        "INSERT INTO zones (code, name, hazard_type, contamination, geometry, priority) "
        "VALUES ('Z', 'Z', 'CHA', '{AP_MINE}', "
        "ST_Multi(ST_MakeEnvelope(29, 9, 31, 11, 4326)), 1) RETURNING id"
    )
    await conn.execute("UPDATE incidents SET zone_id = $1 WHERE code = 'I3'", zone_id)
    answer = await ask(gql, ["CATEGORY"], zoneId=str(zone_id))
    assert counts(answer, ["CATEGORY"]) == [("DEMINER", 2)]
    box = {"west": 29, "south": 9, "east": 31, "north": 11}
    answer = await ask(gql, [], bbox=box, admin1="South")
    assert answer["total"] == 2
    elsewhere = {"west": 0, "south": 0, "east": 1, "north": 1}
    answer = await ask(gql, ["OUTCOME"], bbox=elsewhere)
    assert answer == {"total": 0, "killed": 0, "injured": 0, "groups": []}


async def test_a_month_series_has_no_holes(gql: GraphQLClient, known: dict[str, int]) -> None:
    answer = await ask(gql, ["MONTH"], **{"from": "2020-10-15", "to": "2021-03-02"})
    assert counts(answer, ["MONTH"]) == [
        ("2020-10", 0),
        ("2020-11", 5),
        ("2020-12", 2),
        ("2021-01", 0),
        ("2021-02", 2),
        ("2021-03", 0),
    ]
    assert {g["outcome"] for g in answer["groups"]} == {None}
    # A filter that matches nothing still gives every month, each with 0.
    answer = await ask(
        gql, ["MONTH"], admin1="Nowhere", **{"from": "2021-01-31", "to": "2021-02-01"}
    )
    assert answer["total"] == 0
    assert counts(answer, ["MONTH"]) == [("2021-01", 0), ("2021-02", 0)]
    # Without both ends, months without casualties are not listed.
    answer = await ask(gql, ["MONTH"], **{"from": "2020-10-15"})
    assert counts(answer, ["MONTH"]) == [("2020-11", 5), ("2020-12", 2), ("2021-02", 2)]


async def test_the_empty_case_is_zeros(gql: GraphQLClient) -> None:
    for group_by in ([], ["OUTCOME"], ["MONTH", "ADMIN1"]):
        answer = await ask(gql, group_by)
        assert answer == {"total": 0, "killed": 0, "injured": 0, "groups": []}


async def test_months_are_calendar_months_whatever_the_time_zone(
    gql: GraphQLClient, conn: Conn
) -> None:
    await conn.execute("SET TIME ZONE 'Pacific/Kiritimati'")  # UTC+14
    await add_incident(
        conn, "E", "OTHER", "2022-04-30", None, "SAA", [("KILLED", "CIVILIAN", "MALE", 20)]
    )
    await conn.execute("SET TIME ZONE 'Pacific/Pago_Pago'")  # UTC-11
    await add_incident(
        conn, "F", "OTHER", "2022-05-01", None, "SAA", [("KILLED", "CIVILIAN", "MALE", 20)]
    )
    answer = await ask(gql, ["MONTH"], **{"from": "2022-04-30", "to": "2022-05-01"})
    assert counts(answer, ["MONTH"]) == [("2022-04", 1), ("2022-05", 1)]
    answer = await ask(gql, ["MONTH", "YEAR"])
    assert counts(answer, ["MONTH", "YEAR"]) == [("2022-04", 2022, 1), ("2022-05", 2022, 1)]


async def test_a_repeated_dimension_counts_once(gql: GraphQLClient, known: dict[str, int]) -> None:
    answer = await ask(gql, ["OUTCOME", "OUTCOME"])
    assert counts(answer, ["OUTCOME"]) == [("KILLED", 3), ("INJURED", 5), ("UNKNOWN", 1)]


async def test_bad_filters_are_named(gql: GraphQLClient) -> None:
    body = await gql(QUERY, {"filter": {"from": "2021-02-01", "to": "2021-01-31"}})
    assert error_fields(body) == ["filter.from", "filter.to"]
    body = await gql(QUERY, {"filter": {"bbox": {"west": 10, "south": 0, "east": 5, "north": 1}}})
    assert error_fields(body) == ["filter.bbox"]
    body = await gql(QUERY, {"filter": {"zoneId": "zone-1"}})
    assert error_fields(body) == ["filter.zoneId"]
    body = await gql(QUERY, {"groupBy": ["WEEKDAY"]})
    assert body["errors"] and "data" not in body or body.get("data") is None


def test_group_orders_follow_the_graphql_enumerations() -> None:
    assert tuple(e.value for e in Outcome) == statistics_sql.OUTCOMES
    assert tuple(e.value for e in CasualtyCategory) == statistics_sql.CASUALTY_CATEGORIES
    assert tuple(e.value for e in Sex) == statistics_sql.SEXES
    assert tuple(e.value for e in AgeGroup) == statistics_sql.AGE_GROUPS
    assert tuple(e.value for e in IncidentType) == statistics_sql.INCIDENT_TYPES
    assert tuple(e.value for e in DeviceCategory) == statistics_sql.DEVICE_CATEGORIES
