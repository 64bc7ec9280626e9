"""OGC items beyond Part 1's minimum: page sizes, Part 2 CRS, properties, skipGeometry, sortby
paging, CQL2 JSON; each parameter's 400s name it."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import asyncpg
import httpx
import pytest
from openapi_spec_validator import validate

from api.app import create_app
from api.settings import Settings, SettingsError
from db.pool import SingleConnectionSource
from tests.ogc_data import add_records

ZONES = "/ogc/collections/zones/items"
INCIDENTS = "/ogc/collections/incidents/items"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CRS84H = "http://www.opengis.net/def/crs/OGC/0/CRS84h"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
# A zone whose longitudes (10–10.5) and latitudes (50–50.2) differ, so that axis order shows.
AXIS_ZONE = """
INSERT INTO zones (code, name, hazard_type, contamination, geometry, priority, recorded_on)
VALUES ('OGC-Z-AXIS', 'Axis', 'SHA', '{UXO}', ST_Multi(ST_MakeEnvelope(10, 50, 10.5, 50.2, 4326)),
        3, DATE '2023-05-05')
"""


@pytest.fixture
async def records(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    await add_records(conn, zones=25, incidents=12)
    await conn.execute(AXIS_ZONE)


async def get(client: httpx.AsyncClient, url: str, **params: Any) -> httpx.Response:
    # No params at all keeps the URL's own query (httpx replaces it with any params given).
    response = await client.get(url, params=params or None)
    assert response.status_code == 200, response.text
    return response


async def codes(client: httpx.AsyncClient, url: str, **params: Any) -> list[str]:
    body = (await get(client, url, limit=1000, **params)).json()
    return [feature["id"] for feature in body["features"]]


async def refused(client: httpx.AsyncClient, url: str, **params: Any) -> dict[str, str]:
    """The fields (and their messages) of a 400 BAD_USER_INPUT answer."""
    response = await client.get(url, params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "BAD_USER_INPUT" and body["requestId"], body
    return {f["field"]: f["message"] for f in body["fields"]}


def positions(geometry: dict[str, Any]) -> list[float]:
    """Every coordinate of a MultiPolygon, flat."""
    return [float(v) for polygon in geometry["coordinates"] for ring in polygon
            for position in ring for v in position]  # fmt: skip


def first_position(feature: dict[str, Any]) -> list[float]:
    return [float(v) for v in feature["geometry"]["coordinates"][0][0][0]]


# ---------------------------------------------------------------------------------------------
# Page sizes


def app_client(settings: Settings, conn: asyncpg.Connection[asyncpg.Record]) -> httpx.AsyncClient:
    app = create_app(settings, db=SingleConnectionSource(conn))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mar.test")


async def test_the_openapi_limit_declares_the_page_sizes_served(client: httpx.AsyncClient) -> None:
    document = (await get(client, "/openapi.json")).json()
    limit = document["components"]["parameters"]["limit"]["schema"]
    assert (limit["default"], limit["maximum"]) == (1000, 10_000)
    params = document["paths"]["/ogc/collections/zones/items"]["get"]["parameters"]
    assert {"$ref": "#/components/parameters/limit"} in params


async def test_the_landing_pages_openapi_has_paths_relative_to_it(
    client: httpx.AsyncClient,
) -> None:
    landing = (await get(client, "/ogc")).json()
    desc = next(link for link in landing["links"] if link["rel"] == "service-desc")
    response = await get(client, desc["href"])
    assert response.headers["content-type"] == desc["type"]
    document = response.json()
    validate(document)
    assert document["servers"] == [{"url": "http://mar.test/ogc"}]
    assert {
        "/",
        "/conformance",
        "/collections/zones/items",
        "/collections/incidents/items/{featureId}",
    } <= set(document["paths"])
    assert not [path for path in document["paths"] if path.startswith(("/ogc", "/exports"))]
    params = document["paths"]["/collections/zones/items"]["get"]["parameters"]
    assert {"$ref": "#/components/parameters/limit"} in params
    assert document["components"]["parameters"]["limit"]["schema"]["maximum"] == 10_000
    # QGIS reads the queryables it may filter by from these parameters (form, not exploded).
    priority = next(p for p in params if p.get("name") == "priority")
    assert (priority["in"], priority["style"], priority["explode"]) == ("query", "form", False)


async def test_page_sizes_are_configurable(
    settings: Settings, conn: asyncpg.Connection[asyncpg.Record]
) -> None:
    await add_records(conn, zones=30, incidents=0)
    async with app_client(replace(settings, ogc_default_limit=4, ogc_max_limit=12), conn) as http:
        for url in ("/openapi.json", "/ogc/api"):
            limit = (await get(http, url)).json()["components"]["parameters"]["limit"]
            assert (limit["schema"]["default"], limit["schema"]["maximum"]) == (4, 12)
        assert (await get(http, ZONES)).json()["numberReturned"] == 4
        body = (await get(http, ZONES, limit=500)).json()
        assert body["numberReturned"] == 12
        next_link = next(link["href"] for link in body["links"] if link["rel"] == "next")
        assert "limit=12" in next_link and "offset=12" in next_link


@pytest.mark.parametrize(
    ("env", "message"),
    [({"MAR_OGC_DEFAULT_LIMIT": "20", "MAR_OGC_MAX_LIMIT": "10"}, "MAR_OGC_DEFAULT_LIMIT"),
     ({"MAR_OGC_MAX_LIMIT": "0"}, "MAR_OGC_MAX_LIMIT")],
)  # fmt: skip
def test_a_default_page_over_the_maximum_is_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)
    assert Settings.from_env({"MAR_OGC_MAX_LIMIT": "500"}).ogc_default_limit == 500


# ---------------------------------------------------------------------------------------------
# Part 2: crs, bbox-crs, Content-Crs


async def test_collections_list_the_crs_they_answer_in(client: httpx.AsyncClient) -> None:
    for collection in (await get(client, "/ogc/collections")).json()["collections"]:
        assert collection["crs"] == [CRS84, EPSG4326, EPSG3857]
        assert collection["storageCrs"] == CRS84


async def test_crs84_is_the_default_with_its_content_crs(
    client: httpx.AsyncClient, records: None
) -> None:
    response = await get(client, ZONES, filter="code = 'OGC-Z-AXIS'")
    assert response.headers["content-crs"] == f"<{CRS84}>"
    assert first_position(response.json()["features"][0]) == [10.0, 50.0]
    response = await get(client, ZONES, filter="code = 'OGC-Z-AXIS'", crs=CRS84)
    assert first_position(response.json()["features"][0]) == [10.0, 50.0]


async def test_epsg_4326_puts_latitude_first(client: httpx.AsyncClient, records: None) -> None:
    response = await get(client, ZONES, filter="code = 'OGC-Z-AXIS'", crs=EPSG4326)
    assert response.headers["content-crs"] == f"<{EPSG4326}>"
    ring = response.json()["features"][0]["geometry"]["coordinates"][0][0]
    assert {(lat, lon) for lat, lon in ring} == {(50, 10), (50.2, 10), (50.2, 10.5), (50, 10.5)}
    item = await get(client, f"{ZONES}/OGC-Z-AXIS", crs=EPSG4326)
    assert item.headers["content-crs"] == f"<{EPSG4326}>"
    assert first_position(item.json()) == [50.0, 10.0]


async def test_epsg_3857_is_what_postgis_transforms_to(
    client: httpx.AsyncClient, conn: asyncpg.Connection[asyncpg.Record], records: None
) -> None:
    expected = json.loads(
        await conn.fetchval(
            "SELECT ST_AsGeoJSON(ST_Transform(geometry, 3857)) FROM zones WHERE code = $1",
            "OGC-Z-AXIS",
        )
    )
    response = await get(client, ZONES, filter="code = 'OGC-Z-AXIS'", crs=EPSG3857)
    assert response.headers["content-crs"] == f"<{EPSG3857}>"
    got = response.json()["features"][0]["geometry"]
    assert positions(got) == pytest.approx(positions(expected), abs=1e-6)
    x, y = first_position(response.json()["features"][0])
    assert x == pytest.approx(1_113_194.9, abs=0.1) and y == pytest.approx(6_446_275.8, abs=0.1)
    item = await get(client, f"{ZONES}/OGC-Z-AXIS", crs=EPSG3857)
    assert item.headers["content-crs"] == f"<{EPSG3857}>"
    assert positions(item.json()["geometry"]) == pytest.approx(positions(expected), abs=1e-6)


async def test_bbox_crs_reads_the_bbox_in_that_crs_and_axis_order(
    client: httpx.AsyncClient, conn: asyncpg.Connection[asyncpg.Record], records: None
) -> None:
    # Around the axis zone: longitudes 9.9–10.1, latitudes 49.9–50.1.
    assert await codes(client, ZONES, bbox="9.9,49.9,10.1,50.1") == ["OGC-Z-AXIS"]
    assert await codes(client, ZONES, bbox="49.9,9.9,50.1,10.1") == []  # CRS84: lon first
    lat_first = {"bbox-crs": EPSG4326}
    assert await codes(client, ZONES, bbox="49.9,9.9,50.1,10.1", **lat_first) == ["OGC-Z-AXIS"]
    corners = await conn.fetchrow(
        "SELECT ST_X(a) AS x1, ST_Y(a) AS y1, ST_X(b) AS x2, ST_Y(b) AS y2 FROM"
        " (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(9.9, 49.9), 4326), 3857) AS a,"
        "         ST_Transform(ST_SetSRID(ST_MakePoint(10.1, 50.1), 4326), 3857) AS b) AS p"
    )
    metres = ",".join(str(corners[k]) for k in ("x1", "y1", "x2", "y2"))
    mercator = {"bbox-crs": EPSG3857}
    assert await codes(client, ZONES, bbox=metres, **mercator) == ["OGC-Z-AXIS"]
    # Just short of the zone's south-west corner (10, 50): nothing.
    below = await conn.fetchrow(
        "SELECT ST_X(p) AS x, ST_Y(p) AS y FROM"
        " (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(9.9999, 49.9999), 4326), 3857) AS p) AS q"
    )
    short = f"{corners['x1']},{corners['y1']},{below['x']},{below['y']}"
    assert await codes(client, ZONES, bbox=short, **mercator) == []
    heights = {"bbox-crs": CRS84H}
    assert await codes(client, ZONES, bbox="9.9,49.9,0,10.1,50.1,9", **heights) == ["OGC-Z-AXIS"]
    # The whole Web Mercator square is every zone.
    world = "-20037508.342789244,-20037508.342789244,20037508.342789244,20037508.342789244"
    assert len(await codes(client, ZONES, bbox=world, **mercator)) == 26


@pytest.mark.parametrize("url", [ZONES, f"{ZONES}/OGC-Z-001"])
@pytest.mark.parametrize(
    "crs", ["http://www.opengis.net/def/crs/EPSG/0/32633", "EPSG:4326", "", "CRS84"]
)
async def test_an_unsupported_crs_is_a_400_naming_crs(
    client: httpx.AsyncClient, records: None, url: str, crs: str
) -> None:
    fields = await refused(client, url, crs=crs)
    assert list(fields) == ["crs"] and EPSG3857 in fields["crs"]


@pytest.mark.parametrize(
    "bbox",
    [
        "-3e7,0,0,1",
        # y far outside the world: its conversion overflowed (found by schemathesis).
        "-1.3788e+308,-3.4028e+38,-1.3255e+308,-7.19e+16",
        "0,-3e7,1,0",
    ],
)
async def test_a_mercator_bbox_outside_the_world_is_a_400(
    client: httpx.AsyncClient, bbox: str
) -> None:
    fields = await refused(client, ZONES, bbox=bbox, **{"bbox-crs": EPSG3857})
    assert list(fields) == ["bbox"]


# ---------------------------------------------------------------------------------------------
# properties and skipGeometry


async def test_properties_selects_and_orders_the_properties(
    client: httpx.AsyncClient, records: None
) -> None:
    body = (await get(client, ZONES, properties="priority,code", limit=2)).json()
    for feature in body["features"]:
        assert list(feature["properties"]) == ["priority", "code"]
        assert feature["geometry"]["type"] == "MultiPolygon"
    item = (await get(client, f"{INCIDENTS}/OGC-I-003", properties="killed")).json()
    assert item["properties"] == {"killed": 1}
    empty = (await get(client, ZONES, properties="", limit=1)).json()
    assert empty["features"][0]["properties"] == {} and empty["features"][0]["id"] == "OGC-Z-001"


async def test_unknown_properties_are_a_400_naming_them(
    client: httpx.AsyncClient, records: None
) -> None:
    fields = await refused(client, ZONES, properties="code,nope,geometry")
    assert list(fields) == ["properties"]
    assert "'nope'" in fields["properties"] and "'geometry'" in fields["properties"]
    assert "'code'" not in fields["properties"]
    # A private property is unknown to the public.
    fields = await refused(client, INCIDENTS, properties="description")
    assert list(fields) == ["properties"]


async def test_skip_geometry_leaves_the_geometry_out(
    client: httpx.AsyncClient, records: None
) -> None:
    body = (await get(client, INCIDENTS, skipGeometry="true")).json()
    assert body["numberReturned"] == 12
    assert all(feature["geometry"] is None for feature in body["features"])
    assert body["features"][0]["properties"]["code"] == "OGC-I-001"
    item = (await get(client, f"{ZONES}/OGC-Z-001", skipGeometry="true")).json()
    assert item["geometry"] is None and item["id"] == "OGC-Z-001"
    kept = (await get(client, f"{ZONES}/OGC-Z-001", skipGeometry="false")).json()
    assert kept["geometry"]["type"] == "MultiPolygon"
    assert list(await refused(client, ZONES, skipGeometry="yes")) == ["skipGeometry"]


# ---------------------------------------------------------------------------------------------
# sortby paging


async def test_sortby_pages_walk_the_same_order_as_one_page(
    client: httpx.AsyncClient, records: None
) -> None:
    # status and priority repeat: the record id breaks ties, so pages neither repeat nor skip.
    whole = await codes(client, ZONES, sortby="status,-priority")
    assert whole[:3] == ["OGC-Z-004", "OGC-Z-024", "OGC-Z-008"]  # CLOSED, priority 5 then 4
    walked: list[str] = []
    url: str | None = f"{ZONES}?sortby=status,-priority&limit=4"
    while url is not None:
        body = (await get(client, url)).json()
        walked += [feature["id"] for feature in body["features"]]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    assert walked == whole and len(set(walked)) == 26
    newest = await codes(client, ZONES, sortby="-recorded_on,code")
    assert newest[:2] == ["OGC-Z-025", "OGC-Z-024"] and newest[-1] == "OGC-Z-AXIS"


async def test_page_links_keep_the_clients_parameters_as_it_wrote_them(
    client: httpx.AsyncClient, records: None
) -> None:
    # GDAL adds its own parameters to each URL unless it finds them there verbatim.
    url = f"{ZONES}?limit=4&sortby=-priority,code&properties=code&f=json"
    body = (await get(client, url)).json()
    links = {link["rel"]: link["href"] for link in body["links"]}
    assert links["next"] == (
        f"http://mar.test{ZONES}?sortby=-priority,code&properties=code&offset=4&limit=4"
    )
    body = (await get(client, links["next"])).json()
    links = {link["rel"]: link["href"] for link in body["links"]}
    assert links["prev"].endswith("?sortby=-priority,code&properties=code&offset=0&limit=4")


@pytest.mark.parametrize("value", ["geometry", "contamination", "wibble", "-recorded_on,nope"])
async def test_sortby_on_what_cannot_sort_is_a_400(client: httpx.AsyncClient, value: str) -> None:
    assert list(await refused(client, ZONES, sortby=value)) == ["sortby"]


# ---------------------------------------------------------------------------------------------
# CQL2 JSON

JSON_FILTER = {
    "op": "and",
    "args": [
        {"op": "=", "args": [{"property": "status"}, "OPEN"]},
        {"op": "<=", "args": [{"property": "priority"}, 2]},
        {"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": [0, 0, 0.1, 0.1]}]},
    ],
}


async def test_a_cql2_json_filter_answers_as_its_text_form(
    client: httpx.AsyncClient, records: None
) -> None:
    as_json = await codes(
        client, ZONES, filter=json.dumps(JSON_FILTER), **{"filter-lang": "cql2-json"}
    )
    text = "status = 'OPEN' AND priority <= 2 AND S_INTERSECTS(geometry, BBOX(0, 0, 0.1, 0.1))"
    assert as_json == await codes(client, ZONES, filter=text, **{"filter-lang": "cql2-text"})
    assert as_json == ["OGC-Z-001", "OGC-Z-005", "OGC-Z-006", "OGC-Z-010"]
    dated = {"op": ">=", "args": [{"property": "occurred_on"}, {"date": "2024-04-25"}]}
    assert await codes(
        client, INCIDENTS, filter=json.dumps(dated), **{"filter-lang": "cql2-json"}
    ) == ["OGC-I-012"]


@pytest.mark.parametrize(
    "text",
    ['{"op": "=", "args": [{"property": "nope"}, 1]}',
     '{"op": "=", "args": [{"property": "priority"}, "high"]}',
     '{"op": "=", "args": [{"property": "priority"}, NaN]}',
     '{"op": "frob", "args": []}',
     '{"op": "=", "args": [',
     "status = 'OPEN'",
     "5",
     "[" * 5000,
     '{"op":"not","args":[' * 900 + "true" + "]}" * 900,
     '{"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": [0, 10, 1, 5]}]}'],
)  # fmt: skip
async def test_a_bad_cql2_json_filter_is_a_400_naming_filter(
    client: httpx.AsyncClient, text: str
) -> None:
    fields = await refused(client, ZONES, filter=text, **{"filter-lang": "cql2-json"})
    assert list(fields) == ["filter"]
    assert "Traceback" not in fields["filter"] and "SELECT" not in fields["filter"]
