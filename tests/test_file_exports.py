"""GeoPackage and KML exports, opened with GDAL (ogrinfo, ogr2ogr) and compared with PostGIS."""

from __future__ import annotations

import asyncio
import json
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.cli import main
from api.settings import Settings
from db.pool import Connection, SingleConnectionSource, connect
from tests.helpers import serving
from tests.test_gdal import run

ZONES = 30
RECORDS = """
INSERT INTO zones (code, name, hazard_type, status, contamination, geometry, priority, admin1,
                   admin2, admin_pcode, recorded_on)
SELECT format('FX-Z-%s', lpad(i::text, greatest(3, length(i::text)), '0')),
       format('Zone "%s" <&>', i), 'SHA', 'OPEN', ARRAY['UXO', 'AP_MINE'],
       ST_Multi(ST_MakeEnvelope((i % 1000) / 10.0 + 0.123456789012345, 0.1 + (i / 1000) * 0.2,
                                (i % 1000) / 10.0 + 0.15, 0.2 + (i / 1000) * 0.2, 4326)),
       (i % 5) + 1, 'North', 'Hills', 'ZZ0102', DATE '2024-01-01' + i
FROM generate_series(1, $1) AS i;
"""
INCIDENTS = """
INSERT INTO incidents (code, incident_type, occurred_on, location, description, source, verified)
VALUES ('FX-I-1', 'MINE_ACCIDENT', DATE '2024-05-01', ST_SetSRID(ST_MakePoint(1.5, 2.5), 4326),
        'Private description', 'Private source', true)
"""
ZONE_FIELDS = {
    "code": "String",
    "name": "String",
    "contamination": "String",
    "priority": "Integer",
    "admin_pcode": "String",
    "estimated_area_m2": "Real",
    "recorded_on": "Date",
    "updated_at": "DateTime",
}


@pytest.fixture
async def zones(conn: Connection) -> None:
    await conn.execute(RECORDS.replace("$1", str(ZONES)))
    await conn.execute(INCIDENTS)


@pytest.fixture(autouse=True)
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The exports' temporary directory, so that a test sees whether they leave files behind."""
    directory = tmp_path / "tmpdir"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


async def download(
    client: httpx.AsyncClient, path: str, target: Path, headers: dict[str, str] | None = None
) -> httpx.Response:
    response = await client.get(path, headers=headers or {})
    assert response.status_code == 200, response.text
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.headers["cache-control"] == "no-store"
    target.write_bytes(response.content)
    return response


def field_types(info: str) -> dict[str, str]:
    """`name: Type (width.precision)` lines of ogrinfo -so, as {name: Type}."""
    types = {}
    for line in info.splitlines():
        name, sep, rest = line.partition(": ")
        if sep and "(" in rest and " " not in name:
            types[name] = rest.split(" ")[0]
    return types


async def test_a_geopackage_opens_in_gdal_with_every_zone_field_and_geometry(
    zones: None, conn: Connection, client: httpx.AsyncClient, tmp_path: Path, private_tmp: Path
) -> None:
    target = tmp_path / "zones.gpkg"
    response = await download(client, "/exports/zones.gpkg", target)
    assert response.headers["content-type"] == "application/geopackage+sqlite3"
    assert 'filename="zones.gpkg"' in response.headers["content-disposition"]
    info = await run("ogrinfo", "-ro", "-so", str(target), "zones")
    assert f"Feature Count: {ZONES}" in info
    assert "Geometry: Multi Polygon" in info
    assert 'ID["EPSG",4326]' in info or 'AUTHORITY["EPSG","4326"]' in info
    types = field_types(info)
    assert {name: types.get(name) for name in ZONE_FIELDS} == ZONE_FIELDS
    # GDAL's reading of every geometry and value equals PostGIS's record.
    as_json = tmp_path / "zones.json"
    await run(
        "ogr2ogr", "-f", "GeoJSON", "-lco", "SIGNIFICANT_FIGURES=17", str(as_json), str(target)
    )
    features = json.loads(as_json.read_text())["features"]
    assert len(features) == ZONES
    for feature in features:
        props = feature["properties"]
        row = await conn.fetchrow(
            "SELECT name, priority, recorded_on::text AS recorded_on, estimated_area_m2::float8 AS "
            "area, ST_Equals(geometry, ST_SetSRID(ST_GeomFromGeoJSON($2), 4326)) AS same "
            "FROM zones WHERE code = $1",
            props["code"],
            json.dumps(feature["geometry"]),
        )
        assert row is not None
        assert row["same"], props["code"]
        assert (props["name"], props["priority"], props["recorded_on"]) == (
            row["name"], row["priority"], row["recorded_on"],
        )  # fmt: skip
        assert props["estimated_area_m2"] == pytest.approx(row["area"])
        assert props["contamination"] == "UXO;AP_MINE"
    assert list(private_tmp.iterdir()) == []  # the temporary file is gone


async def test_filters_choose_the_rows_and_paging_is_refused(
    zones: None, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    target = tmp_path / "some.gpkg"
    await download(client, "/exports/zones.gpkg?bbox=0,0,0.55,1&sortby=-code", target)
    info = await run("ogrinfo", "-ro", "-al", "-q", str(target))
    codes = [
        line.split("= ")[1]
        for line in info.splitlines()
        if line.strip().startswith("code (String) =")
    ]
    assert codes == ["FX-Z-004", "FX-Z-003", "FX-Z-002", "FX-Z-001"]
    refused = await client.get("/exports/zones.gpkg?limit=10")
    assert refused.status_code == 400
    assert refused.json()["code"] == "BAD_USER_INPUT"
    assert "limit" in refused.text
    assert (await client.get("/exports/teams.gpkg")).status_code == 404


async def test_incidents_show_private_fields_only_to_roles_that_read_them(
    zones: None, client: httpx.AsyncClient, editor_key: str, tmp_path: Path
) -> None:
    public, editor = tmp_path / "public.gpkg", tmp_path / "editor.gpkg"
    await download(client, "/exports/incidents.gpkg", public)
    await download(
        client, "/exports/incidents.gpkg", editor, {"Authorization": f"Bearer {editor_key}"}
    )
    public_info = await run("ogrinfo", "-ro", "-al", str(public))
    editor_info = await run("ogrinfo", "-ro", "-al", str(editor))
    assert "Geometry: Point" in public_info and "POINT (1.5 2.5)" in public_info
    assert "Private" not in public_info and "description" not in public_info
    assert "description (String) = Private description" in editor_info
    assert "verified (Integer(Boolean)) = 1" in editor_info


async def test_kml_lists_every_zone_as_a_placemark_gdal_reads(
    zones: None, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    target = tmp_path / "zones.kml"
    response = await download(client, "/exports/zones.kml", target)
    assert response.headers["content-type"].startswith("application/vnd.google-earth.kml+xml")
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    root = ET.fromstring(response.content)  # well-formed: names with " < & > are escaped
    placemarks = root.findall(".//k:Placemark", ns)
    assert len(placemarks) == ZONES
    first = placemarks[0]
    assert first.findtext("k:name", namespaces=ns) == "FX-Z-001"
    data = {
        d.get("name"): d.findtext("k:value", namespaces=ns) for d in first.iterfind(".//k:Data", ns)
    }
    assert data["name"] == 'Zone "1" <&>' and data["admin_pcode"] == "ZZ0102"
    info = await run("ogrinfo", "-ro", "-so", "-al", str(target))
    assert f"Feature Count: {ZONES}" in info


async def test_an_export_over_the_file_limit_is_refused_and_leaves_nothing(
    zones: None, settings: Settings, conn: Connection, private_tmp: Path
) -> None:
    app = create_app(replace(settings, export_file_max_bytes=4096), db=SingleConnectionSource(conn))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://mar.test"
    ) as http:
        for path in ("/exports/zones.gpkg", "/exports/zones.kml"):
            response = await http.get(path)
            assert response.status_code == 400, path
            body: dict[str, Any] = response.json()
            assert body["code"] == "QUERY_TOO_COMPLEX"
            assert "MAR_EXPORT_FILE_MAX_BYTES" in body["detail"]
            assert list(private_tmp.iterdir()) == []


@pytest.mark.commits
async def test_mar_export_writes_a_geopackage_and_kml(
    fresh_db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    conn = await connect(fresh_db_url)
    try:
        await conn.execute(RECORDS.replace("$1", "7"))
    finally:
        await conn.close()
    monkeypatch.setenv("DATABASE_URL", fresh_db_url)
    gpkg, kml = tmp_path / "out" / "zones.gpkg", tmp_path / "out" / "zones.kml"
    gpkg.parent.mkdir()
    assert (
        await asyncio.to_thread(main, ["export", "zones", "--format", "gpkg", "-o", str(gpkg)]) == 0
    )
    assert "7 zones written" in capsys.readouterr().err
    assert "Feature Count: 7" in await run("ogrinfo", "-ro", "-so", str(gpkg), "zones")
    assert (
        await asyncio.to_thread(main, ["export", "zones", "--format", "kml", "-o", str(kml)]) == 0
    )
    assert "Feature Count: 7" in await run("ogrinfo", "-ro", "-so", "-al", str(kml))
    assert sorted(p.name for p in gpkg.parent.iterdir()) == ["zones.gpkg", "zones.kml"]


SLOW_CLIENT_ZONES = 20_000  # files of several MB: more than the sockets' buffers hold


@pytest.mark.commits
async def test_a_client_that_does_not_read_holds_no_connection(fresh_db_url: str) -> None:
    """With a pool of one connection, a GeoPackage and a KML download whose bodies nobody reads
    leave the connection free: other requests are answered meanwhile."""
    conn = await connect(fresh_db_url)
    try:
        await conn.execute(RECORDS.replace("$1", str(SLOW_CLIENT_ZONES)))
    finally:
        await conn.close()
    settings = {"MAR_POOL_MAX_SIZE": "1", "MAR_POOL_ACQUIRE_TIMEOUT": "2", "MAR_RATE_LIMIT": "0"}
    query = {"query": "{ zones(first: 1) { totalCount } }"}
    async with (
        serving(fresh_db_url, **settings) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=60) as http,
    ):
        for path in ("/exports/zones.gpkg", "/exports/zones.kml"):
            async with http.stream("GET", path) as stalled:
                assert stalled.status_code == 200
                size = int(stalled.headers.get("content-length", 0))
                assert size > 4_000_000, size
                # The body is not read: the server is stuck sending it.
                other = await http.post("/graphql", json=query)
                assert other.status_code == 200, other.text
                assert other.json()["data"]["zones"]["totalCount"] == SLOW_CLIENT_ZONES
                body = b"".join([chunk async for chunk in stalled.aiter_raw()])
                assert len(body) == size


@pytest.mark.commits
async def test_one_export_file_more_than_allowed_at_once_is_rate_limited(
    fresh_db_url: str,
) -> None:
    """With MAR_EXPORTS_MAX=1, a second export while the first is being written (held here by a
    lock on the zones table) is 429; the first finishes once the lock goes."""
    conn = await connect(fresh_db_url)
    try:
        await conn.execute(RECORDS.replace("$1", "3"))
        settings = {
            "MAR_EXPORTS_MAX": "1",
            "MAR_RATE_LIMIT": "0",
            "MAR_STATEMENT_TIMEOUT_MS": "0",  # the first export waits on the lock as long as held
        }
        async with (
            serving(fresh_db_url, **settings) as base_url,
            httpx.AsyncClient(base_url=base_url, timeout=60) as http,
        ):
            transaction = conn.transaction()
            await transaction.start()
            await conn.execute("LOCK TABLE zones IN ACCESS EXCLUSIVE MODE")
            first = asyncio.create_task(http.get("/exports/zones.gpkg"))
            try:
                for _ in range(200):  # until the first export waits on the lock (20 s at most)
                    # pg_stat_activity is read once per transaction unless told to read it again.
                    await conn.execute("SELECT pg_stat_clear_snapshot()")
                    waiting = await conn.fetchval(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                    )
                    if waiting:
                        break
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError("the first export never reached the database")
                second = await http.get("/exports/zones.kml")
                assert second.status_code == 429, second.text
                assert second.json()["code"] == "RATE_LIMITED"
                assert "at most 1" in second.json()["detail"]
                assert int(second.headers["retry-after"]) >= 1
            finally:
                await transaction.rollback()
            assert (await first).status_code == 200
            assert (await http.get("/exports/zones.kml")).status_code == 200
    finally:
        await conn.close()
