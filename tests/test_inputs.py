"""Values out of range are refused where they come in, naming the field, never a 500.

Date-times are sent to PostgreSQL in UTC: one whose UTC time lies outside the years 1-9999 used to
fail deep in the driver (an internal error, and a connection left mid-statement).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from tests.helpers import GraphQLClient

BEFORE_YEAR_ONE = "0001-01-01T00:00:00+14:00"  # 31 December of year 0 in UTC
AFTER_YEAR_9999 = "9999-12-31T23:00:00-14:00"  # 1 January 10000 in UTC


def bad_input(body: dict[str, Any]) -> list[str]:
    """The fields a BAD_USER_INPUT answer names (one error)."""
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert "Internal" not in error["message"]
    return [f["field"] for f in error["extensions"]["fields"]]


@pytest.mark.parametrize("instant", [BEFORE_YEAR_ONE, AFTER_YEAR_9999])
async def test_updated_since_out_of_range_is_bad_user_input(
    gql: GraphQLClient, instant: str
) -> None:
    by_variable = await gql(
        "query($since: DateTime) { zones(filter: {updatedSince: $since}) { nodes { code } } }",
        {"since": instant},
    )
    assert bad_input(by_variable) == ["since"]
    assert "in UTC" in by_variable["errors"][0]["message"]
    in_filter = await gql(
        "query($filter: ZoneFilter) { zones(filter: $filter) { nodes { code } } }",
        {"filter": {"updatedSince": instant}},
    )
    assert bad_input(in_filter) == ["filter.updatedSince"]
    literal = await gql(
        f'{{ zones(filter: {{updatedSince: "{instant}"}}) {{ nodes {{ code }} }} }}'
    )
    assert bad_input(literal) == ["filter.updatedSince"]


async def test_updated_since_at_the_edges_of_the_range_is_accepted(gql: GraphQLClient) -> None:
    query = "query($since: DateTime) { zones(filter: {updatedSince: $since}) { nodes { code } } }"
    for instant in ("0001-01-01T00:00:00Z", "0001-01-01T10:00:00+10:00", "9999-12-31T23:59:59Z"):
        body = await gql(query, {"since": instant})
        assert body == {"data": {"zones": {"nodes": []}}}, instant


async def test_a_graphql_request_error_names_the_variable_field(gql: GraphQLClient) -> None:
    body = await gql(
        "query($filter: ZoneFilter) { zones(filter: $filter) { nodes { code } } }",
        {"filter": {"priorityAtMost": "high"}},
    )
    assert bad_input(body) == ["filter.priorityAtMost"]


async def test_a_forged_cursor_out_of_range_is_not_a_cursor(gql: GraphQLClient) -> None:
    query = (
        "query($after: String) { zones(orderBy: UPDATED_AT_ASC, after: $after) { nodes { code } } }"
    )
    for value in (BEFORE_YEAR_ONE, AFTER_YEAR_9999):
        payload = json.dumps(["zones", "UPDATED_AT_ASC", value, 1]).encode()
        cursor = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        assert bad_input(await gql(query, {"after": cursor})) == ["after"]
    deep = base64.urlsafe_b64encode(b"[" * 100_000).decode()
    assert bad_input(await gql(query, {"after": deep})) == ["after"]
    area_query = query.replace("UPDATED_AT_ASC", "REMAINING_AREA_ASC")
    for number in ("NaN", "1e999999"):
        payload = json.dumps(["zones", "REMAINING_AREA_ASC", number, 1]).encode()
        cursor = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        assert bad_input(await gql(area_query, {"after": cursor})) == ["after"]


def problem_fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "BAD_USER_INPUT"
    return [f["field"] for f in body["fields"]]


@pytest.mark.parametrize(
    "path",
    [
        "/ogc/collections/zones/items",
        "/ogc/collections/incidents/items",
        "/exports/zones.geojson",
        "/exports/incidents.csv",
    ],
)
async def test_ogc_datetime_out_of_range_is_a_400_naming_it(
    client: httpx.AsyncClient, path: str
) -> None:
    for value in (BEFORE_YEAR_ONE, f"{BEFORE_YEAR_ONE}/..", f"../{AFTER_YEAR_9999}"):
        response = await client.get(path, params={"datetime": value})
        assert problem_fields(response) == ["datetime"]
        assert "in UTC" in response.json()["detail"]


async def test_cql2_timestamp_out_of_range_is_a_400_naming_the_filter(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        "/ogc/collections/zones/items",
        params={"filter": f"updated_at > TIMESTAMP('{BEFORE_YEAR_ONE}')"},
    )
    assert problem_fields(response) == ["filter"]


async def test_the_last_day_is_a_usable_end_of_an_interval(client: httpx.AsyncClient) -> None:
    for path in ("/ogc/collections/zones/items", "/ogc/collections/incidents/items"):
        response = await client.get(path, params={"datetime": "2000-01-01/9999-12-31"})
        assert response.status_code == 200, response.text
