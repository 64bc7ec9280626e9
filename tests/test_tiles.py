"""Vector tiles: ST_AsMVT in one statement, ETag and 304, Cache-Control, TileJSON, bad z/x/y."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from db.pool import Connection as Conn
from tests.test_exports import seed

# Zone HA-1 lies at 30.0-30.01 E, 10.0-10.01 N; at zoom 8 that is tile x=149, y=120.
TILE = "/tiles/zones/8/149/120.pbf"


async def test_a_tile_holds_the_features_inside_it(client: httpx.AsyncClient, conn: Conn) -> None:
    await seed(conn)
    response = await client.get(TILE)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert response.headers["cache-control"] == "max-age=60"
    assert response.headers["etag"].startswith('"')
    assert b"zones" in response.content and b"HA-1" in response.content
    assert b"HA-2" not in response.content
    world = await client.get("/tiles/incidents/0/0/0.pbf")
    assert b"IN-1" in world.content and b"IN-3" in world.content
    assert b"private description" not in world.content


async def test_an_empty_tile_is_empty(client: httpx.AsyncClient, conn: Conn) -> None:
    await seed(conn)
    response = await client.get("/tiles/zones/8/0/0.pbf")
    assert response.status_code == 200 and response.content == b""


async def test_one_statement_per_tile(
    client: httpx.AsyncClient, conn: Conn, sql_log: list[str]
) -> None:
    await seed(conn)
    await asyncio.sleep(0)
    sql_log.clear()
    await client.get(TILE)
    await asyncio.sleep(0)
    assert len(sql_log) == 1 and "ST_AsMVT" in sql_log[0]


async def test_etag_gives_304_until_the_layer_changes_in_the_tile(
    client: httpx.AsyncClient, conn: Conn
) -> None:
    await seed(conn)
    first = await client.get(TILE)
    etag = first.headers["etag"]
    again = await client.get(TILE, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    weak = await client.get(TILE, headers={"If-None-Match": f'"other", W/{etag}'})
    assert weak.status_code == 304
    assert (await client.get(TILE, headers={"If-None-Match": "*"})).status_code == 304
    # A change elsewhere keeps the tag; a change of a zone in the tile moves it.
    await conn.execute("UPDATE zones SET priority = 2 WHERE code = 'HA-2'")
    assert (await client.get(TILE, headers={"If-None-Match": etag})).status_code == 304
    await conn.execute("UPDATE zones SET priority = 2 WHERE code = 'HA-1'")
    changed = await client.get(TILE, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


async def test_tilejson_per_layer(client: httpx.AsyncClient, conn: Conn) -> None:
    empty = (await client.get("/tiles/zones.json")).json()
    assert empty["bounds"] == [-180.0, -85.0511, 180.0, 85.0511]
    await seed(conn)
    response = await client.get("/tiles/incidents.json")
    assert response.status_code == 200
    document = response.json()
    assert document["tilejson"] == "3.0.0"
    assert document["tiles"] == ["http://mar.test/tiles/incidents/{z}/{x}/{y}.pbf"]
    assert document["bounds"] == [30.005, 10.005, 36.0, 12.0]
    (layer,) = document["vector_layers"]
    assert layer["id"] == "incidents" and layer["fields"]["code"] == "String"


@pytest.mark.parametrize(
    ("url", "fields"),
    [
        ("/tiles/zones/a/0/0.pbf", ["z"]),
        ("/tiles/zones/23/0/0.pbf", ["z"]),
        ("/tiles/zones/-1/0/0.pbf", ["z"]),
        ("/tiles/zones/1/2/0.pbf", ["x"]),
        ("/tiles/zones/1/0/2.pbf", ["y"]),
        ("/tiles/zones/0/1/1.pbf", ["x", "y"]),
        ("/tiles/zones/3/x/1.5.pbf", ["x", "y"]),
        ("/tiles/zones/99999999999/0/0.pbf", ["z"]),
        ("/tiles/incidents/1/%D9%A1/0.pbf", ["x"]),
    ],
)
async def test_bad_tile_addresses_name_the_parameter(
    client: httpx.AsyncClient, url: str, fields: list[str]
) -> None:
    response = await client.get(url)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "BAD_USER_INPUT"
    assert [f["field"] for f in problem["fields"]] == fields


@pytest.mark.parametrize("url", ["/tiles/teams/0/0/0.pbf", "/tiles/teams.json"])
async def test_unknown_layers_are_not_found(client: httpx.AsyncClient, url: str) -> None:
    response = await client.get(url)
    assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"
