"""Values out of range are refused where they come in, naming the field, never a 500.

Date-times are sent to PostgreSQL in UTC: one whose UTC time lies outside the years 1-9999 used to
fail deep in the driver (an internal error, and a connection left mid-statement).
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.settings import Settings
from db.pool import Connection as Conn
from db.pool import SingleConnectionSource
from tests.helpers import GraphQLClient
from tests.test_incidents import RECORD as RECORD_INCIDENT
from tests.test_incidents import incident_input
from tests.test_land_releases import RECORD as RECORD_RELEASE
from tests.test_tasks import make_task, make_team, make_zone, move
from tests.test_zones_graphql import zone_input

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


# ---------------------------------------------------------------------------------------------
# Bounds of the records: dates from 1900, releases after their task started, casualties per
# incident, a zone's area, the antimeridian. Each is refused by the API naming the field (the
# database holds the same rules: tests/test_constraints.py).

CREATE_ZONE = (
    "mutation($input: CreateZoneInput!) { createZone(input: $input) { id estimatedAreaM2 } }"
)
UPDATE_ZONE = """
mutation($id: ID!, $version: Int!, $input: UpdateZoneInput!) {
  updateZone(id: $id, version: $version, input: $input) { id version estimatedAreaM2 }
}
"""


def polygon(*ring: tuple[float, float]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[list(p) for p in (*ring, ring[0])]]}


def box(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    return polygon((west, south), (east, south), (east, north), (west, north))


async def test_event_dates_before_1900_are_refused(gql: GraphQLClient, conn: Conn) -> None:
    zone = await gql(CREATE_ZONE, {"input": zone_input("HA-1899", recordedOn="1899-12-31")})
    assert bad_input(zone) == ["input.recordedOn"]
    assert "1900-01-01" in zone["errors"][0]["message"]
    accepted = await gql(CREATE_ZONE, {"input": zone_input("HA-1900", recordedOn="1900-01-01")})
    assert "errors" not in accepted, accepted
    moved = await gql(
        UPDATE_ZONE,
        {"id": accepted["data"]["createZone"]["id"], "version": 1,
         "input": {"recordedOn": "0024-05-01"}},
    )  # fmt: skip
    assert bad_input(moved) == ["input.recordedOn"]
    incident = await gql(
        RECORD_INCIDENT, {"input": incident_input("ACC-0024", occurredOn="0024-05-01")}
    )
    assert bad_input(incident) == ["input.occurredOn"]
    released = await gql(
        RECORD_RELEASE,
        {"input": {"zoneId": accepted["data"]["createZone"]["id"], "method": "REDUCED",
                   "areaM2": 1.0, "releasedOn": "1899-12-31"}},
    )  # fmt: skip
    assert bad_input(released) == ["input.releasedOn"]
    assert await conn.fetchval("SELECT count(*) FROM land_releases") == 0


async def test_a_release_before_its_task_started_is_refused(gql: GraphQLClient, conn: Conn) -> None:
    zone_id = await make_zone(gql, "HA-TASKDAY")
    team_id = await make_team(conn, "TM-TASKDAY")
    task = await make_task(gql, zone_id, [team_id])
    await move(gql, task["id"], "ONGOING", "2024-03-10")
    values = {"zoneId": zone_id, "taskId": task["id"], "method": "CLEARED", "areaM2": 10.0}
    early = await gql(RECORD_RELEASE, {"input": {**values, "releasedOn": "2024-03-09"}})
    assert bad_input(early) == ["input.releasedOn"]
    assert "2024-03-10" in early["errors"][0]["message"]
    on_the_day = await gql(RECORD_RELEASE, {"input": {**values, "releasedOn": "2024-03-10"}})
    assert "errors" not in on_the_day, on_the_day


@pytest.fixture
async def capped_gql(
    settings: Settings, conn: Conn, editor_key: str
) -> AsyncIterator[Callable[[int], Awaitable[GraphQLClient]]]:
    """A GraphQL client of an app whose incidents may have at most `cap` casualties (API and
    database alike)."""
    clients: list[httpx.AsyncClient] = []

    async def make(cap: int) -> GraphQLClient:
        await conn.execute(f"SET LOCAL mar.max_casualties_per_incident = {cap}")
        app = create_app(
            replace(settings, max_casualties_per_incident=cap), db=SingleConnectionSource(conn)
        )
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mar.test")
        clients.append(http)
        return GraphQLClient(http, headers={"Authorization": f"Bearer {editor_key}"})

    yield make
    for http in clients:
        await http.aclose()


async def test_casualties_per_incident_are_capped(
    capped_gql: Callable[[int], Awaitable[GraphQLClient]], conn: Conn
) -> None:
    gql = await capped_gql(3)
    four = [{"outcome": "INJURED"}] * 4
    refused = await gql(RECORD_INCIDENT, {"input": incident_input("ACC-FOUR", casualties=four)})
    assert bad_input(refused) == ["input.casualties"]
    assert "at most 3 casualties" in refused["errors"][0]["message"]
    three = await gql(RECORD_INCIDENT, {"input": incident_input("ACC-THREE", casualties=four[:3])})
    assert "errors" not in three, three
    incident_id = three["data"]["recordIncident"]["id"]
    add = "mutation($id: ID!) { addCasualty(incidentId: $id, input: {outcome: KILLED}) { id } }"
    fourth = await gql(add, {"id": incident_id})
    assert bad_input(fourth) == ["incidentId"]
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM casualties WHERE incident_id = $1", int(incident_id)
        )
        == 3
    )


async def test_a_zone_of_10_to_the_12_square_metres_or_more_is_refused(
    gql: GraphQLClient,
) -> None:
    huge = await gql(CREATE_ZONE, {"input": zone_input("HA-HUGE", geometry=box(0, 0, 20, 60))})
    assert bad_input(huge) == ["input.geometry"]
    assert "10^12" in huge["errors"][0]["message"]
    large = await gql(CREATE_ZONE, {"input": zone_input("HA-LARGE", geometry=box(0, 0, 5, 5))})
    assert "errors" not in large, large
    assert 3e11 < large["data"]["createZone"]["estimatedAreaM2"] < 1e12
    grown = await gql(
        UPDATE_ZONE,
        {"id": large["data"]["createZone"]["id"], "version": 1,
         "input": {"geometry": box(0, 0, 20, 60)}},
    )  # fmt: skip
    assert bad_input(grown) == ["input.geometry"]


async def test_an_edge_of_180_degrees_or_more_is_refused_and_a_split_area_is_stored(
    gql: GraphQLClient,
) -> None:
    band = polygon((170, 0), (-170, 0), (-170, 1), (170, 1))
    antipodal = polygon((-90, 0), (90, 0), (90, 1), (-90, 1))
    for n, geometry in enumerate((band, antipodal)):
        body = await gql(CREATE_ZONE, {"input": zone_input(f"HA-BAND-{n}", geometry=geometry)})
        assert bad_input(body) == ["input.geometry"]
        assert "antimeridian" in body["errors"][0]["message"]
    listed = await gql(
        "query($g: GeoJSON) { zones(filter: {intersects: $g}) { nodes { code } } }", {"g": band}
    )
    assert bad_input(listed) == ["filter.intersects"]
    split = {
        "type": "MultiPolygon",
        "coordinates": [box(170, 0, 180, 1)["coordinates"], box(-180, 0, -170, 1)["coordinates"]],
    }
    stored = await gql(CREATE_ZONE, {"input": zone_input("HA-SPLIT", geometry=split)})
    assert "errors" not in stored, stored
    one_part = await gql(CREATE_ZONE, {"input": zone_input("HA-PART", geometry=box(0, 0, 10, 1))})
    area = stored["data"]["createZone"]["estimatedAreaM2"]
    assert abs(area - 2 * one_part["data"]["createZone"]["estimatedAreaM2"]) < 1


async def test_update_zone_may_not_shrink_below_the_released_area(
    gql: GraphQLClient, conn: Conn
) -> None:
    created = await gql(
        CREATE_ZONE, {"input": zone_input("HA-SHRINK", geometry=box(10, 10, 10.01, 10.01))}
    )
    zone = created["data"]["createZone"]
    released = zone["estimatedAreaM2"] * 0.6
    body = await gql(
        RECORD_RELEASE,
        {"input": {"zoneId": zone["id"], "method": "REDUCED", "areaM2": round(released, 2),
                   "releasedOn": "2024-05-01"}},
    )  # fmt: skip
    assert "errors" not in body, body
    # The release moved the zone on (released area, version): shrink the current version.
    version = await conn.fetchval("SELECT version FROM zones WHERE id = $1", int(zone["id"]))
    smaller = await gql(
        UPDATE_ZONE,
        {"id": zone["id"], "version": version, "input": {"geometry": box(10, 10, 10.005, 10.01)}},
    )
    assert bad_input(smaller) == ["input.geometry"]
    message = smaller["errors"][0]["message"]
    assert "already released" in message and f"{round(released, 2):.2f}" in message
    larger = await gql(
        UPDATE_ZONE,
        {"id": zone["id"], "version": version, "input": {"geometry": box(10, 10, 10.008, 10.01)}},
    )
    assert "errors" not in larger, larger
