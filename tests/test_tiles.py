"""Vector tiles: ST_AsMVT in one statement, ETag and 304, Cache-Control, TileJSON, bad z/x/y;
every zoom shows every record, features carry their record's id, gzip."""

from __future__ import annotations

import asyncio
import gzip
import math
from dataclasses import replace
from datetime import date
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.services.incidents import NewIncident, record_incident
from api.services.zones import NewZone, create_zone
from api.settings import Settings
from db.pool import Connection as Conn
from db.pool import SingleConnectionSource
from tests import mvt
from tests.helpers import make_key
from tests.test_exports import seed, square

# Zone HA-1 lies at 30.0-30.01 E, 10.0-10.01 N; at zoom 8 that is tile x=149, y=120.
TILE = "/tiles/zones/8/149/120.pbf"


async def test_a_tile_holds_the_features_inside_it(client: httpx.AsyncClient, conn: Conn) -> None:
    await seed(conn)
    response = await client.get(TILE)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert response.headers["cache-control"] == "public, max-age=60, stale-while-revalidate=300"
    assert response.headers["etag"].startswith('W/"')
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
    strong = etag.removeprefix("W/")  # If-None-Match compares weakly: W/"x" matches "x"
    weak = await client.get(TILE, headers={"If-None-Match": f'"other", {strong}'})
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


def tile_of(lon: float, lat: float, zoom: int) -> tuple[int, int]:
    """x, y of the XYZ tile holding lon/lat at `zoom`."""
    n = 2**zoom
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2
    return int((lon + 180) / 360 * n), int(y * n)


async def seed_with_a_large_zone(conn: Conn) -> dict[str, int]:
    """The export seed plus a zone of 2 x 2 degrees; the ids of every record by code."""
    await seed(conn)
    large = NewZone(
        code="HA-BIG", name="Plain", hazard_type="SHA", geometry=square(20.0, 0.0, 2.0),
        contamination=["UXO"], recorded_on=date(2024, 1, 1),
    )  # fmt: skip
    await create_zone(conn, large)
    rows = await conn.fetch("SELECT code, id FROM zones UNION ALL SELECT code, id FROM incidents")
    return {row["code"]: row["id"] for row in rows}


async def identity(client: httpx.AsyncClient, url: str, **headers: str) -> httpx.Response:
    """GET without compression (httpx otherwise asks for gzip and decodes it)."""
    return await client.get(url, headers={"Accept-Encoding": "identity", **headers})


# Where each record is drawn from: a point inside it.
PLACES = {
    "HA-1": (30.005, 10.005), "HA-2": (31.005, 11.005), "HA-BIG": (21.0, 1.0),
    "IN-1": (30.005, 10.005), "IN-2": (35.0, 12.0), "IN-3": (36.0, 12.0),
}  # fmt: skip


@pytest.mark.parametrize("zoom", range(15))
async def test_every_zoom_shows_every_record_with_its_id(
    client: httpx.AsyncClient, conn: Conn, zoom: int
) -> None:
    ids = await seed_with_a_large_zone(conn)
    for code, (lon, lat) in PLACES.items():
        layer = "zones" if code.startswith("HA") else "incidents"
        x, y = tile_of(lon, lat, zoom)
        response = await identity(client, f"/tiles/{layer}/{zoom}/{x}/{y}.pbf")
        assert response.status_code == 200
        features = mvt.decode(response.content)[layer].features
        found = {f.properties["code"]: f for f in features}
        assert code in found, f"{code} missing from {layer} {zoom}/{x}/{y}"
        feature = found[code]
        assert feature.id == ids[code]
        assert "id" not in feature.properties  # the id is the feature's, not an attribute
        if layer == "incidents":
            assert feature.type == mvt.POINT
        elif code == "HA-BIG" or zoom >= 8:
            # Pixels of a 256-pixel tile: 2 degrees are 1.4 of them at zoom 0; 0.01 degree is
            # 0.9 at zoom 7 and 1.8 at zoom 8.
            assert feature.type == mvt.POLYGON, (code, zoom)
        else:
            assert feature.type == mvt.POINT, (code, zoom)


async def test_the_tiles_at_the_edges_of_the_world_hold_their_features(
    client: httpx.AsyncClient, conn: Conn
) -> None:
    # The buffered tile reached past 180 degrees and wrapped round: x=1 at zoom 1 held nothing.
    await seed(conn)
    east = mvt.decode((await identity(client, "/tiles/incidents/1/1/0.pbf")).content)
    assert {f.properties["code"] for f in east["incidents"].features} == {"IN-1", "IN-2", "IN-3"}
    west = await identity(client, "/tiles/incidents/1/0/0.pbf")
    assert west.content == b""


async def test_gdal_reads_the_ids_and_the_attributes(
    client: httpx.AsyncClient, conn: Conn, tmp_path: Any
) -> None:
    ids = await seed_with_a_large_zone(conn)
    response = await client.get("/tiles/zones/0/0/0.pbf")  # gzip: GDAL reads it as it comes
    path = tmp_path / "0.pbf"
    path.write_bytes(gzip.compress(response.content))
    process = await asyncio.create_subprocess_exec(
        "ogrinfo", "-ro", "-al", "-oo", "X=0", "-oo", "Y=0", "-oo", "Z=0", str(path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output = (await asyncio.wait_for(process.communicate(), 60))[0].decode()
    assert process.returncode == 0, output
    assert "Feature Count: 3" in output
    for code in ("HA-1", "HA-2", "HA-BIG"):
        assert f"mvt_id (Integer64) = {ids[code]}\n  code (String) = {code}" in output


async def many_zones(conn: Conn) -> str:
    """Forty zones in one zoom-8 tile: a tile large enough to compress; its URL."""
    for i in range(40):
        zone = NewZone(
            code=f"HA-{100 + i}", name=f"Zone {i}", hazard_type="CHA",
            geometry=square(30.0 + (i % 8) * 0.02, 10.0 + (i // 8) * 0.02),
            contamination=["UXO"], recorded_on=date(2024, 1, 1),
        )  # fmt: skip
        await create_zone(conn, zone)
    return TILE


async def test_gzip_when_the_client_takes_it(client: httpx.AsyncClient, conn: Conn) -> None:
    url = await many_zones(conn)
    plain = await identity(client, url)
    assert "content-encoding" not in plain.headers
    assert plain.headers["vary"] == "Accept-Encoding"
    async with client.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
        headers = response.headers
    assert headers["content-encoding"] == "gzip" and headers["vary"] == "Accept-Encoding"
    assert int(headers["content-length"]) == len(raw) < len(plain.content) / 2
    assert gzip.decompress(raw) == plain.content
    assert headers["etag"] == plain.headers["etag"]  # one weak tag for both encodings
    for accept in ("gzip;q=0", "br", "identity, *;q=0"):
        other = await client.get(url, headers={"Accept-Encoding": accept})
        assert "content-encoding" not in other.headers, accept
        assert other.content == plain.content
    star = await client.get(url, headers={"Accept-Encoding": "br;q=1, *;q=0.5"})
    assert star.headers["content-encoding"] == "gzip"


async def test_a_small_tile_is_not_worth_compressing(client: httpx.AsyncClient, conn: Conn) -> None:
    await seed(conn)
    response = await client.get(TILE, headers={"Accept-Encoding": "gzip"})
    assert len(response.content) < 512 and "content-encoding" not in response.headers
    assert response.headers["vary"] == "Accept-Encoding"


async def test_etag_and_304_across_encodings(client: httpx.AsyncClient, conn: Conn) -> None:
    await many_zones(conn)
    zipped = await client.get(TILE, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    etag = zipped.headers["etag"]
    assert etag.startswith('W/"')
    for accept in ("gzip", "identity"):
        again = await client.get(TILE, headers={"Accept-Encoding": accept, "If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        # A 304 says what the 200 would have said about caching (RFC 9110, 15.4.5).
        assert again.headers["etag"] == etag
        assert again.headers["vary"] == "Accept-Encoding"
        assert again.headers["cache-control"] == zipped.headers["cache-control"]
        assert "content-encoding" not in again.headers


async def test_tiles_are_the_same_for_every_role(
    client: httpx.AsyncClient, conn: Conn, editor_key: str
) -> None:
    # Which is why a CDN may keep them (public) and need not vary on Authorization.
    await seed(conn)
    anonymous = await identity(client, "/tiles/incidents/0/0/0.pbf")
    keyed = await identity(
        client, "/tiles/incidents/0/0/0.pbf", Authorization=f"Bearer {editor_key}"
    )
    assert keyed.content == anonymous.content and keyed.headers["etag"] == anonymous.headers["etag"]
    assert keyed.headers["cache-control"] == "public, max-age=60, stale-while-revalidate=300"
    assert "authorization" not in keyed.headers["vary"].lower()


async def test_tiles_are_private_when_a_key_is_required(settings: Settings, conn: Conn) -> None:
    # A shared cache must not hand a tile to a caller without a key.
    await seed(conn)
    key = await make_key(conn, "tile reader", "partner")
    app = create_app(replace(settings, anonymous_access=False), db=SingleConnectionSource(conn))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mar.test") as http:
        assert (await http.get(TILE)).status_code == 401
        response = await http.get(TILE, headers={"Authorization": f"Bearer {key}"})
        tilejson = await http.get("/tiles/zones.json", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, max-age=60"
    assert tilejson.headers["cache-control"] == "private, max-age=60"


async def test_records_sharing_a_pixel_are_drawn_once_until_they_part(
    client: httpx.AsyncClient, conn: Conn
) -> None:
    # A tile is bounded by its pixels: of five incidents a metre apart, a map at zoom 10 can show
    # one dot; the tile keeps the lowest id. At zoom 20 (7 cm a pixel) each has its own.
    for i in range(5):
        incident = NewIncident(
            code=f"IN-P{i}", incident_type="OTHER", occurred_on=date(2024, 4, 1),
            location={"type": "Point", "coordinates": [30.5003 + i * 1e-5, 10.5]}, admin1="A",
        )  # fmt: skip
        await record_incident(conn, incident)
    ids = [r["id"] for r in await conn.fetch("SELECT id FROM incidents ORDER BY id")]
    for zoom, expected in ((0, ids[:1]), (10, ids[:1]), (20, ids)):
        x, y = tile_of(30.5003, 10.5, zoom)
        url = f"/tiles/incidents/{zoom}/{x}/{y}.pbf"
        features = mvt.decode((await identity(client, url)).content)["incidents"].features
        assert sorted(f.id for f in features) == expected, zoom
    # The tag still covers the records not drawn: a change to one of them moves it.
    x, y = tile_of(30.5003, 10.5, 10)
    url = f"/tiles/incidents/10/{x}/{y}.pbf"
    etag = (await client.get(url)).headers["etag"]
    await conn.execute("UPDATE incidents SET verified = true WHERE id = $1", ids[-1])
    assert (await client.get(url, headers={"If-None-Match": etag})).status_code == 200
