"""The first GraphQL slice: zone, zones (filters, keyset pages), createZone and its validation."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import pytest

from tests.helpers import GraphQLClient, error_fields

CREATE = """
mutation($input: CreateZoneInput!) {
  createZone(input: $input) {
    id code name hazardType status contamination priority estimatedAreaM2 releasedAreaM2
    remainingAreaM2 geometry version recordedOn createdAt
  }
}
"""


def square(lon: float, lat: float, size: float = 0.001) -> dict[str, Any]:
    """A closed square ring polygon with its south-west corner at (lon, lat)."""
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def zone_input(code: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "code": code,
        "name": f"Zone {code}",
        "hazardType": "SHA",
        "contamination": ["AP_MINE"],
        "geometry": square(10.0, 10.0),
        "priority": 2,
    }
    values.update(overrides)
    return values


async def create(gql: GraphQLClient, code: str, **overrides: Any) -> dict[str, Any]:
    body = await gql(CREATE, {"input": zone_input(code, **overrides)})
    assert "errors" not in body, body
    zone: dict[str, Any] = body["data"]["createZone"]
    return zone


async def zone_count(conn: asyncpg.Connection[asyncpg.Record]) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM zones"))


async def test_create_zone_promotes_polygon_and_computes_area_on_the_spheroid(
    gql: GraphQLClient, conn: asyncpg.Connection[asyncpg.Record]
) -> None:
    zone = await create(gql, "HA-000001")
    assert zone["geometry"]["type"] == "MultiPolygon"
    assert zone["status"] == "OPEN"
    assert zone["version"] == 1
    # 0.001° × 0.001° at 10°N is about 111.3 m × 109.6 m on the spheroid.
    expected = await conn.fetchval(
        "SELECT round(ST_Area(ST_GeomFromGeoJSON($1)::geography)::numeric, 2)",
        '{"type":"Polygon","coordinates":[[[10,10],[10.001,10],[10.001,10.001],[10,10.001],[10,10]]]}',
    )
    assert zone["estimatedAreaM2"] == float(expected)
    assert 12_000 < zone["estimatedAreaM2"] < 12_400
    assert zone["remainingAreaM2"] == zone["estimatedAreaM2"]
    assert zone["releasedAreaM2"] == 0


async def test_zone_by_id_and_by_code(gql: GraphQLClient) -> None:
    created = await create(gql, "HA-000002")
    query = "query($id: ID, $code: String) { zone(id: $id, code: $code) { id code } }"
    by_id = await gql(query, {"id": created["id"]})
    by_code = await gql(query, {"code": "HA-000002"})
    assert (
        by_id["data"]["zone"]
        == by_code["data"]["zone"]
        == {"id": created["id"], "code": "HA-000002"}
    )
    missing = await gql(query, {"code": "HA-404"})
    assert missing == {"data": {"zone": None}}
    bad = await gql(query, {"id": "abc"})
    assert error_fields(bad) == ["id"]


async def test_duplicate_code_is_a_conflict_and_writes_nothing(
    gql: GraphQLClient, conn: asyncpg.Connection[asyncpg.Record]
) -> None:
    await create(gql, "HA-000003")
    before = await zone_count(conn)
    body = await gql(CREATE, {"input": zone_input("HA-000003", geometry=square(11, 11))})
    assert body["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert "code" in body["errors"][0]["message"]
    assert await zone_count(conn) == before


async def test_every_bad_field_is_named_and_nothing_is_written(
    gql: GraphQLClient, conn: asyncpg.Connection[asyncpg.Record]
) -> None:
    before = await zone_count(conn)
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    body = await gql(
        CREATE,
        {"input": zone_input("bad code!", name=" ", priority=6, geometry=bowtie, contamination=[])},
    )
    fields = error_fields(body)
    assert set(fields) == {
        "input.code",
        "input.name",
        "input.priority",
        "input.geometry",
        "input.contamination",
    }
    messages = {f["field"]: f["message"] for f in body["errors"][0]["extensions"]["fields"]}
    assert "Self-intersection" in messages["input.geometry"]
    assert await zone_count(conn) == before


async def test_geometry_must_be_an_area_inside_wgs84(gql: GraphQLClient) -> None:
    cases = {
        "wrong type": (
            {"type": "Point", "coordinates": [1, 1]},
            "must be a Polygon or MultiPolygon",
        ),
        "longitude": (square(180.5, 0), "outside -180..180"),
        "latitude": (square(0, 90.5), "outside -90..90"),
        "open ring": (
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]},
            "end where it starts",
        ),
        "not an object": ("nonsense", "not GeoJSON"),
        "numbers": (
            {"type": "Polygon", "coordinates": [[["a", 0], [1, 0], [1, 1], ["a", 0]]]},
            "must be numbers",
        ),
    }
    for name, (geometry, reason) in cases.items():
        body = await gql(CREATE, {"input": zone_input("HA-G", geometry=geometry)})
        assert error_fields(body) == ["input.geometry"], name
        assert reason in body["errors"][0]["extensions"]["fields"][0]["message"], name


async def test_multipolygon_is_accepted(gql: GraphQLClient) -> None:
    multi = {
        "type": "MultiPolygon",
        "coordinates": [square(1, 1)["coordinates"], square(1.01, 1.01)["coordinates"]],
    }
    zone = await create(gql, "HA-MULTI", geometry=multi)
    assert len(zone["geometry"]["coordinates"]) == 2


ZONES = """
query($filter: ZoneFilter, $orderBy: ZoneOrder, $first: Int, $after: String) {
  zones(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    totalCount
    nodes { code priority }
    edges { cursor node { code } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


async def seed_zones(gql: GraphQLClient) -> None:
    specs = [
        ("HA-A1", 1, "SHA", 20.0, "Alpha field"),
        ("HA-A2", 2, "CHA", 20.01, "Bravo slope"),
        ("HA-A3", 2, "SHA", 20.02, "Charlie orchard"),
        ("HA-A4", 3, "CHA", 30.0, "Delta ridge"),
        ("HA-A5", 5, "SHA", 30.01, "Echo alpha"),
    ]
    for code, priority, hazard, lon, name in specs:
        await create(
            gql, code, priority=priority, hazardType=hazard, geometry=square(lon, 5), name=name
        )


async def test_keyset_pages_walk_every_zone_once_in_order(gql: GraphQLClient) -> None:
    await seed_zones(gql)
    seen: list[str] = []
    after = None
    while True:
        body = await gql(ZONES, {"first": 2, "after": after, "filter": {"search": "HA-A"}})
        page = body["data"]["zones"]
        assert page["totalCount"] == 5
        seen += [n["code"] for n in page["nodes"]]
        assert [e["node"]["code"] for e in page["edges"]] == [n["code"] for n in page["nodes"]]
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["HA-A1", "HA-A2", "HA-A3", "HA-A4", "HA-A5"]

    body = await gql(ZONES, {"first": 3, "orderBy": "PRIORITY_DESC", "filter": {"search": "HA-A"}})
    assert [n["code"] for n in body["data"]["zones"]["nodes"]] == ["HA-A5", "HA-A4", "HA-A3"]


async def test_filters_status_hazard_type_bbox_and_search(gql: GraphQLClient) -> None:
    await seed_zones(gql)

    async def codes(filter: dict[str, Any]) -> list[str]:
        body = await gql(ZONES, {"filter": filter, "orderBy": "CODE_ASC"})
        assert "errors" not in body, body
        return [n["code"] for n in body["data"]["zones"]["nodes"]]

    assert await codes({"hazardType": ["CHA"], "search": "ha-a"}) == ["HA-A2", "HA-A4"]
    assert await codes({"status": ["OPEN"], "search": "HA-A"}) == [
        "HA-A1",
        "HA-A2",
        "HA-A3",
        "HA-A4",
        "HA-A5",
    ]
    assert await codes({"status": ["CLOSED"], "search": "HA-A"}) == []
    bbox = {"west": 19.9, "south": 4.9, "east": 20.015, "north": 5.1}
    assert await codes({"bbox": bbox}) == ["HA-A1", "HA-A2"]
    # Search matches code or name, case-insensitively, and takes % and _ literally.
    assert await codes({"search": "ALPHA"}) == ["HA-A1", "HA-A5"]
    assert await codes({"search": "%"}) == []


async def test_bad_cursor_page_size_and_bbox(gql: GraphQLClient) -> None:
    await seed_zones(gql)
    body = await gql(ZONES, {"first": 1})
    cursor = body["data"]["zones"]["pageInfo"]["endCursor"]

    other_order = await gql(ZONES, {"first": 1, "after": cursor, "orderBy": "CODE_ASC"})
    assert error_fields(other_order) == ["after"]
    tampered = await gql(ZONES, {"first": 1, "after": cursor[:-3] + "xyz"})
    assert error_fields(tampered) == ["after"]
    garbage = await gql(ZONES, {"first": 1, "after": "!!!"})
    assert error_fields(garbage) == ["after"]

    too_many = await gql(ZONES, {"first": 501})
    assert too_many["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    negative = await gql(ZONES, {"first": -1})
    assert error_fields(negative) == ["first"]

    inverted = {"west": 10, "south": 0, "east": 5, "north": 1}
    body = await gql(ZONES, {"filter": {"bbox": inverted}})
    assert error_fields(body) == ["filter.bbox"]


async def test_total_count_is_not_computed_unless_asked(
    gql: GraphQLClient, sql_log: list[str]
) -> None:
    await seed_zones(gql)
    await asyncio.sleep(0)
    sql_log.clear()
    body = await gql("{ zones(first: 2) { nodes { code } } }")
    await asyncio.sleep(0)
    assert len(body["data"]["zones"]["nodes"]) == 2
    assert len(sql_log) == 1 and "count(*)" not in sql_log[0]
    await asyncio.sleep(0)
    sql_log.clear()
    body = await gql("{ zones(first: 2) { totalCount } }")
    await asyncio.sleep(0)  # asyncpg hands log records to the logger on the next loop turn
    assert body["data"]["zones"]["totalCount"] == 5
    assert sum("count(*)" in statement for statement in sql_log) == 1, sql_log


UPDATE = """
mutation($id: ID!, $version: Int!, $input: UpdateZoneInput!) {
  updateZone(id: $id, version: $version, input: $input) {
    id code name hazardType description priority version estimatedAreaM2 updatedAt
  }
}
"""


async def test_update_zone_changes_only_what_is_sent_and_bumps_the_version(
    gql: GraphQLClient,
) -> None:
    zone = await create(gql, "HA-U1", description="kept")
    smaller = square(10.0, 10.0, size=0.0005)
    body = await gql(
        UPDATE,
        {
            "id": zone["id"],
            "version": 1,
            "input": {"hazardType": "CHA", "geometry": smaller, "name": "Confirmed"},
        },
    )
    updated = body["data"]["updateZone"]
    assert updated["version"] == 2
    assert (updated["hazardType"], updated["name"], updated["description"]) == (
        "CHA",
        "Confirmed",
        "kept",
    )
    assert updated["estimatedAreaM2"] < zone["estimatedAreaM2"] / 3
    cleared = await gql(UPDATE, {"id": zone["id"], "version": 2, "input": {"description": None}})
    assert cleared["data"]["updateZone"]["description"] is None
    assert cleared["data"]["updateZone"]["version"] == 3


async def test_stale_version_is_a_conflict_and_changes_nothing(
    gql: GraphQLClient, conn: asyncpg.Connection[asyncpg.Record]
) -> None:
    zone = await create(gql, "HA-U2")
    await gql(UPDATE, {"id": zone["id"], "version": 1, "input": {"priority": 4}})
    stale = await gql(UPDATE, {"id": zone["id"], "version": 1, "input": {"priority": 1}})
    assert stale["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert await conn.fetchval("SELECT priority FROM zones WHERE code = 'HA-U2'") == 4


async def test_update_refuses_bad_values_and_unknown_zones(
    gql: GraphQLClient, conn: asyncpg.Connection[asyncpg.Record]
) -> None:
    zone = await create(gql, "HA-U3")
    bad = await gql(
        UPDATE,
        {
            "id": zone["id"],
            "version": 1,
            "input": {"priority": 0, "name": None, "contamination": []},
        },
    )
    assert set(error_fields(bad)) == {"input.priority", "input.name", "input.contamination"}
    assert await conn.fetchval("SELECT version FROM zones WHERE code = 'HA-U3'") == 1
    missing = await gql(UPDATE, {"id": "999999", "version": 1, "input": {"priority": 2}})
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"


INTERSECTING = """query($g: GeoJSON!) {
  zones(filter: {intersects: $g}, orderBy: CODE_ASC, first: 100) { totalCount nodes { code } }
}"""
# Four 0.01° squares: A and B side by side with a gap, C north of A, D far away.
IX_ZONES = {
    "HA-IX-A": [[20.0, 20.0], [20.01, 20.0], [20.01, 20.01], [20.0, 20.01], [20.0, 20.0]],
    "HA-IX-B": [[20.02, 20.0], [20.03, 20.0], [20.03, 20.01], [20.02, 20.01], [20.02, 20.0]],
    "HA-IX-C": [[20.0, 20.02], [20.01, 20.02], [20.01, 20.03], [20.0, 20.03], [20.0, 20.02]],
    "HA-IX-D": [[30.0, 30.0], [30.01, 30.0], [30.01, 30.01], [30.0, 30.01], [30.0, 30.0]],
}


def box(west: float, south: float, east: float, north: float) -> list[list[float]]:
    return [[west, south], [east, south], [east, north], [west, north], [west, south]]


@pytest.mark.parametrize("compiled_reads", [True, False], ids=["compiled", "executed"])
async def test_intersects_lists_the_zones_postgis_says_the_geometry_meets(
    gql: GraphQLClient, conn: asyncpg.Connection[asyncpg.Record]
) -> None:
    for code, ring in IX_ZONES.items():
        await create(gql, code, geometry={"type": "Polygon", "coordinates": [ring]})
    cases: list[tuple[dict[str, Any], list[str]]] = [
        # Across the gap: A and B, not C above them.
        ({"type": "Polygon", "coordinates": [box(20.005, 20.005, 20.025, 20.008)]}, ["A", "B"]),
        ({"type": "Point", "coordinates": [20.005, 20.025]}, ["C"]),
        # One part in A, the other in D.
        (
            {
                "type": "MultiPolygon",
                "coordinates": [
                    [box(20.001, 20.001, 20.002, 20.002)],
                    [box(30.001, 30.001, 30.002, 30.002)],
                ],
            },
            ["A", "D"],
        ),
        # Sharing only A's eastern edge still meets it.
        ({"type": "Polygon", "coordinates": [box(20.01, 20.002, 20.015, 20.004)]}, ["A"]),
        # Wholly inside the gap between A and B: none.
        ({"type": "Polygon", "coordinates": [box(20.012, 20.001, 20.018, 20.009)]}, []),
        # A geometry around all four.
        ({"type": "Polygon", "coordinates": [box(19.0, 19.0, 31.0, 31.0)]}, ["A", "B", "C", "D"]),
    ]
    for geometry, letters in cases:
        expected = [f"HA-IX-{letter}" for letter in letters]
        met = await conn.fetch(
            "SELECT code FROM zones WHERE code LIKE 'HA-IX-%' AND ST_Intersects(geometry, "
            "ST_SetSRID(ST_GeomFromGeoJSON($1), 4326)) ORDER BY code",
            json.dumps(geometry),
        )
        assert [r["code"] for r in met] == expected, geometry  # the fixture is what we think
        body = await gql(INTERSECTING, {"g": geometry})
        assert "errors" not in body, body
        zones = body["data"]["zones"]
        assert [n["code"] for n in zones["nodes"]] == expected, geometry
        assert zones["totalCount"] == len(expected)
    # Only points and areas: anything else is the client's mistake, named.
    line = {"type": "LineString", "coordinates": [[20.0, 20.0], [20.03, 20.0]]}
    assert error_fields(await gql(INTERSECTING, {"g": line})) == ["filter.intersects"]
