"""OGC API – Features under /ogc: documents, items with every parameter, errors, roles, HTML."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest

from tests.ogc_data import SECRETS, add_records

ZONES = "/ogc/collections/zones/items"
INCIDENTS = "/ogc/collections/incidents/items"


@pytest.fixture
async def records(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    await add_records(conn, zones=25, incidents=12)


async def get_json(client: httpx.AsyncClient, url: str, **params: Any) -> Any:
    response = await client.get(url, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def codes(client: httpx.AsyncClient, url: str, **params: Any) -> list[str]:
    body = await get_json(client, url, limit=1000, **params)
    return [feature["id"] for feature in body["features"]]


async def problem(client: httpx.AsyncClient, url: str, status: int = 400, **params: Any) -> Any:
    response = await client.get(url, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()


def bad_fields(body: Any) -> list[str]:
    assert body["code"] == "BAD_USER_INPUT", body
    return [f["field"] for f in body["fields"]]


async def test_landing_page_links_to_openapi_conformance_and_data(
    client: httpx.AsyncClient,
) -> None:
    body = await get_json(client, "/ogc")
    rels = {link["rel"]: link["href"] for link in body["links"]}
    assert rels["self"] == "http://mar.test/ogc"
    assert rels["service-desc"] == "http://mar.test/ogc/api"
    assert rels["conformance"] == "http://mar.test/ogc/conformance"
    assert rels["data"] == "http://mar.test/ogc/collections"


async def test_conformance_lists_the_classes_implemented(client: httpx.AsyncClient) -> None:
    body = await get_json(client, "/ogc/conformance")
    # Each is exercised: core, geojson, html, oas30, the queryables here and in test_openapi.py;
    # crs and cql2-json in test_ogc_output.py; the filter classes in test_ogc_filters.py and below;
    # the Tiles classes in test_ogc_tiles.py.
    features = [c for c in body["conformsTo"] if "ogcapi-tiles" not in c and "/tms/" not in c]
    assert {c.rsplit("/", 1)[1] for c in features} == {
        "core", "geojson", "html", "oas30", "crs", "queryables", "queryables-query-parameters",
        "filter", "features-filter", "cql2-text", "cql2-json", "basic-cql2",
        "basic-spatial-operators",
    }  # fmt: skip


async def test_collections_carry_the_extent_of_the_data(
    client: httpx.AsyncClient, records: None
) -> None:
    body = await get_json(client, "/ogc/collections")
    assert [c["id"] for c in body["collections"]] == ["zones", "incidents"]
    zones = await get_json(client, "/ogc/collections/zones")
    west, south, east, north = zones["extent"]["spatial"]["bbox"][0]
    assert (west, south) == (0.01, 0.01)
    assert east == pytest.approx(0.255) and north == pytest.approx(0.255)
    incidents = await get_json(client, "/ogc/collections/incidents")
    assert incidents["extent"]["temporal"]["interval"] == [
        ["2024-01-11T00:00:00Z", "2024-04-30T00:00:00Z"]
    ]
    rels = {link["rel"] for link in zones["links"]}
    assert {"self", "items", "http://www.opengis.net/def/rel/ogc/1.0/queryables"} <= rels


async def test_an_unknown_collection_is_a_404_problem(client: httpx.AsyncClient) -> None:
    for url in ("/ogc/collections/tasks", "/ogc/collections/tasks/items",
                "/ogc/collections/tasks/queryables", "/ogc/collections/tasks/items/X"):  # fmt: skip
        body = await problem(client, url, 404)
        assert body["code"] == "NOT_FOUND" and "tasks" in body["detail"]


async def test_an_unknown_feature_is_a_404_problem(
    client: httpx.AsyncClient, records: None
) -> None:
    body = await problem(client, f"{ZONES}/NOPE-1", 404)
    assert "NOPE-1" in body["detail"]


async def test_queryables_are_a_json_schema_without_private_fields_for_the_public(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/ogc/collections/incidents/queryables")
    assert response.headers["content-type"] == "application/schema+json"
    schema = response.json()
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["properties"]["occurred_on"] == {
        "type": "string", "format": "date", "title": "Occurred on", "x-ogc-role": "primary-instant",
    }  # fmt: skip
    assert "MINE_ACCIDENT" in schema["properties"]["incident_type"]["enum"]
    assert "description" not in schema["properties"] and "source" not in schema["properties"]
    zones = await get_json(client, "/ogc/collections/zones/queryables")
    assert zones["properties"]["geometry"]["format"] == "geometry-multipolygon"
    assert zones["properties"]["contamination"]["items"]["enum"][0] == "AP_MINE"


async def test_items_are_geojson_with_counts_and_links(
    client: httpx.AsyncClient, records: None
) -> None:
    response = await client.get(ZONES, params={"limit": 10, "offset": 10})
    assert response.headers["content-type"] == "application/geo+json"
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert (body["numberMatched"], body["numberReturned"]) == (25, 10)
    feature = body["features"][0]
    assert feature["id"] == "OGC-Z-011" and feature["geometry"]["type"] == "MultiPolygon"
    assert feature["properties"]["contamination"] == ["UXO"]
    assert feature["properties"]["recorded_on"] == "2024-01-12"
    links = {link["rel"]: link["href"] for link in body["links"]}
    assert "offset=20" in links["next"] and "limit=10" in links["next"]
    assert "offset=0" in links["prev"]


async def test_default_limit_is_1000_and_a_larger_limit_is_capped_at_10000(
    client: httpx.AsyncClient, conn: asyncpg.Connection[asyncpg.Record]
) -> None:
    # More than the maximum page (ogc_data's codes have 3 digits: these are written here).
    await conn.execute(
        "INSERT INTO zones (code, name, hazard_type, contamination, geometry, priority)"
        " SELECT 'BIG-' || i, 'Big ' || i, 'SHA', '{UXO}',"
        " ST_Multi(ST_MakeEnvelope(i / 1e4, 0, i / 1e4 + 1e-5, 1e-5, 4326)), 1"
        " FROM generate_series(1, 10050) AS i"
    )
    body = await get_json(client, ZONES)
    assert (body["numberMatched"], body["numberReturned"]) == (10_050, 1000)
    links = {link["rel"]: link["href"] for link in body["links"]}
    assert "limit=1000" in links["next"] and "offset=1000" in links["next"]
    body = await get_json(client, ZONES, limit=50_000, skipGeometry="true", properties="")
    assert body["numberReturned"] == 10_000
    links = {link["rel"]: link["href"] for link in body["links"]}
    assert "limit=10000" in links["next"] and "offset=10000" in links["next"]


async def test_next_links_walk_every_zone_exactly_once(
    client: httpx.AsyncClient, records: None
) -> None:
    seen: list[str] = []
    url: str | None = f"{ZONES}?limit=7&sortby=-priority"
    pages = 0
    while url is not None:
        response = await client.get(url)
        body = response.json()
        seen += [feature["id"] for feature in body["features"]]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
        pages += 1
    assert pages == 4
    assert sorted(seen) == [f"OGC-Z-{i:03d}" for i in range(1, 26)]


async def test_bbox_selects_what_it_touches(client: httpx.AsyncClient, records: None) -> None:
    assert await codes(client, ZONES, bbox="0.05,0.05,0.0701,0.0701") == [
        "OGC-Z-005", "OGC-Z-006", "OGC-Z-007",
    ]  # fmt: skip
    assert await codes(client, ZONES, bbox="0.05,0.05,0,0.0701,0.0701,100") == [
        "OGC-Z-005", "OGC-Z-006", "OGC-Z-007",
    ]  # fmt: skip
    # West > east crosses the antimeridian: from 0.245 east to 180, and from -180 to -170.
    assert await codes(client, ZONES, bbox="0.245,-90,-170,90") == ["OGC-Z-024", "OGC-Z-025"]


@pytest.mark.parametrize(
    "bbox",
    ["1,2,3", "a,b,c,d", "0,0,1,1,1", "0,95,1,96", "0,10,1,5", "-200,0,1,1", "nan,0,1,1", ""],
)
async def test_a_bad_bbox_is_a_400_naming_bbox(client: httpx.AsyncClient, bbox: str) -> None:
    assert bad_fields(await problem(client, ZONES, bbox=bbox)) == ["bbox"]


async def test_an_unsupported_bbox_crs_is_a_400_naming_it(client: httpx.AsyncClient) -> None:
    body = await problem(
        client, ZONES, bbox="0,0,1,1", **{"bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/32633"}
    )
    assert bad_fields(body) == ["bbox-crs"]


async def test_datetime_instants_and_intervals_on_occurred_on(
    client: httpx.AsyncClient, records: None
) -> None:
    assert await codes(client, INCIDENTS, datetime="2024-01-31") == ["OGC-I-003"]
    assert await codes(client, INCIDENTS, datetime="2024-01-31T12:00:00Z") == ["OGC-I-003"]
    assert await codes(client, INCIDENTS, datetime="2024-01-25/2024-02-10") == [
        "OGC-I-003", "OGC-I-004",
    ]  # fmt: skip
    assert await codes(client, INCIDENTS, datetime="2024-04-25/..") == ["OGC-I-012"]
    assert await codes(client, INCIDENTS, datetime="/2024-01-11") == ["OGC-I-001"]
    assert len(await codes(client, INCIDENTS, datetime="../..")) == 12


async def test_datetime_on_recorded_on_of_zones_not_their_last_edit(
    client: httpx.AsyncClient, conn: asyncpg.Connection[asyncpg.Record], records: None
) -> None:
    # Recorded in 2020, edited in 2025: the zone belongs to 2020.
    await conn.execute(
        "INSERT INTO zones (code, name, hazard_type, contamination, geometry, priority,"
        " recorded_on, updated_at)"
        " VALUES ('OGC-Z-OLD', 'Old', 'SHA', '{UXO}', ST_Multi(ST_MakeEnvelope(1, 1, 2, 2, 4326)),"
        " 1, DATE '2020-06-01', TIMESTAMPTZ '2025-03-01 10:00Z')"
    )
    assert await codes(client, ZONES, datetime="2020-06-01") == ["OGC-Z-OLD"]
    assert await codes(client, ZONES, datetime="2020-06-01T23:30:00Z") == ["OGC-Z-OLD"]
    assert await codes(client, ZONES, datetime="2025-03-01") == []
    assert await codes(client, ZONES, datetime="2024-01-02/2024-01-03") == [
        "OGC-Z-001", "OGC-Z-002",
    ]  # fmt: skip
    assert len(await codes(client, ZONES, datetime="2020-06-02/..")) == 25
    assert await codes(client, ZONES, datetime="../2020-06-01") == ["OGC-Z-OLD"]
    zones = await get_json(client, "/ogc/collections/zones")
    assert zones["extent"]["temporal"]["interval"] == [
        ["2020-06-01T00:00:00Z", "2024-01-26T00:00:00Z"]
    ]


@pytest.mark.parametrize(
    "value", ["yesterday", "2024-13-01", "2024-02-01/2024-01-01", "2024-01-01/2/3", "..", "2024"]
)
async def test_a_bad_datetime_is_a_400_naming_datetime(
    client: httpx.AsyncClient, value: str
) -> None:
    assert bad_fields(await problem(client, INCIDENTS, datetime=value)) == ["datetime"]


async def test_sortby_orders_features(client: httpx.AsyncClient, records: None) -> None:
    ordered = await codes(client, ZONES, sortby="-priority,code")
    assert ordered[:5] == ["OGC-Z-004", "OGC-Z-009", "OGC-Z-014", "OGC-Z-019", "OGC-Z-024"]
    assert (await codes(client, INCIDENTS, sortby="+occurred_on"))[0] == "OGC-I-001"
    assert (await codes(client, INCIDENTS, sortby="-killed,-occurred_on"))[0] == "OGC-I-012"


@pytest.mark.parametrize("value", ["nope", "geometry", "contamination", "-", "code,,name"])
async def test_a_bad_sortby_is_a_400_naming_sortby(client: httpx.AsyncClient, value: str) -> None:
    assert bad_fields(await problem(client, ZONES, sortby=value)) == ["sortby"]


async def test_queryables_as_parameters(client: httpx.AsyncClient, records: None) -> None:
    assert len(await codes(client, ZONES, priority=1)) == 5
    assert len(await codes(client, ZONES, status="CLOSED")) == 6
    assert len(await codes(client, ZONES, contamination="UXO", admin1="North")) == 5
    assert await codes(client, INCIDENTS, killed=1, verified="true") == ["OGC-I-006", "OGC-I-012"]


async def test_bad_parameters_are_named_together(client: httpx.AsyncClient) -> None:
    body = await problem(
        client, ZONES, priority="high", limit=0, offset=-1, bbox="x", wibble="1", datetime="x"
    )
    assert sorted(bad_fields(body)) == ["bbox", "datetime", "limit", "offset", "priority", "wibble"]


@pytest.mark.parametrize(("limit", "offset"), [("0", "0"), ("-5", "0"), ("ten", "0"), ("1", "x")])
async def test_a_bad_limit_or_offset_is_a_400(
    client: httpx.AsyncClient, limit: str, offset: str
) -> None:
    fields = bad_fields(await problem(client, ZONES, limit=limit, offset=offset))
    assert fields == (["offset"] if offset == "x" else ["limit"])


async def test_cql2_text_filter(client: httpx.AsyncClient, records: None) -> None:
    query = "status = 'OPEN' AND priority <= 2 AND S_INTERSECTS(geometry, BBOX(0, 0, 0.1, 0.1))"
    assert await codes(client, ZONES, filter=query, **{"filter-lang": "cql2-text"}) == [
        "OGC-Z-001", "OGC-Z-005", "OGC-Z-006", "OGC-Z-010",
    ]  # fmt: skip
    query = "killed > 0 AND occurred_on >= DATE('2024-03-31')"
    assert await codes(client, INCIDENTS, filter=query) == ["OGC-I-009", "OGC-I-012"]


@pytest.mark.parametrize(
    "text",
    ["status = ", "nope = 1", "priority = 'high'", "S_INTERSECTS(geometry, POINT(500 1))",
     "description = 'x'", "priority + 1 > 2"],
)  # fmt: skip
async def test_a_bad_filter_is_a_400_naming_filter(client: httpx.AsyncClient, text: str) -> None:
    body = await problem(client, ZONES if "description" not in text else INCIDENTS, filter=text)
    assert bad_fields(body) == ["filter"]


async def test_only_cql2_text_and_json_are_accepted(client: httpx.AsyncClient) -> None:
    body = await problem(client, ZONES, filter="priority = 1", **{"filter-lang": "ecql"})
    assert bad_fields(body) == ["filter-lang"]


async def test_filter_values_travel_as_parameters(
    client: httpx.AsyncClient, sql_log: list[str], records: None
) -> None:
    hostile = "x' OR 1=1; DROP TABLE zones; --"
    query = f"name = '{hostile.replace(chr(39), chr(39) * 2)}'"
    assert await codes(client, ZONES, filter=query, admin1=hostile) == []
    await asyncio.sleep(0)
    statements = [s for s in sql_log if "FeatureCollection" in s or "json_agg" in s]
    assert len(statements) == 1, "a page is one statement"
    assert "DROP TABLE" not in statements[0] and "1=1" not in statements[0]
    assert len(await codes(client, ZONES)) == 25


async def test_the_public_sees_no_private_or_personal_data(
    client: httpx.AsyncClient, records: None
) -> None:
    texts = [
        (await client.get(url)).text
        for url in (INCIDENTS, f"{INCIDENTS}/OGC-I-003", f"{INCIDENTS}?f=html",
                    "/ogc/collections/incidents/queryables")
    ]  # fmt: skip
    for text in texts:
        assert not any(secret in text for secret in SECRETS), text[:200]
    feature = await get_json(client, f"{INCIDENTS}/OGC-I-003")
    assert feature["properties"]["killed"] == 1 and feature["properties"]["injured"] == 1
    assert "description" not in feature["properties"]
    assert bad_fields(await problem(client, INCIDENTS, source="x")) == ["source"]


async def test_html_for_a_browser_or_f_html(client: httpx.AsyncClient, records: None) -> None:
    browser = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    # The HTML conformance class: landing, conformance, collections, collection, items, item.
    pages = ("/ogc", "/ogc/conformance", "/ogc/collections", "/ogc/collections/zones",
             f"{ZONES}?limit=5", f"{ZONES}/OGC-Z-001",
             "/ogc/collections/zones/queryables")  # fmt: skip
    for url in pages:
        response = await client.get(url, headers=browser)
        assert response.headers["content-type"].startswith("text/html"), url
        assert response.text.startswith("<!DOCTYPE html>")
    page = (await client.get(ZONES, params={"f": "html", "limit": 5})).text
    assert "OGC-Z-005" in page and "5 of 25 features" in page and ">next<" in page
    assert (await client.get(ZONES, params={"f": "json"})).headers["content-type"] == (
        "application/geo+json"
    )
    assert bad_fields(await problem(client, ZONES, f="xml")) == ["f"]
