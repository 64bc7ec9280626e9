"""GDAL's OGC API – Features driver (OAPIF) against the real server: counts, bbox, CQL2, paging,
CRS, properties, sortby. Debian's ogrinfo/ogr2ogr (GDAL 3.6) and pyogrio's GDAL (3.12)."""

from __future__ import annotations

import asyncio
import json
import os
import struct
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest
from pyogrio import raw

from db.pool import connect
from tests.helpers import serving
from tests.ogc_data import add_records
from tests.ogc_server import INCIDENT_COUNT, ZONE_COUNT, ogc_server

__all__ = ["ogc_server"]
EPSG3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"


async def run(*args: str) -> str:
    """Run a GDAL command; fail with its output when it fails."""
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text
    return text


async def export(source: str, target: Path, *options: str) -> list[str]:
    """ogr2ogr `source` to a GeoJSON file; return the codes of its features."""
    await run("ogr2ogr", "-f", "GeoJSON", str(target), source, *options)
    features = json.loads(target.read_text())["features"]
    return [feature["properties"]["code"] for feature in features]


async def test_ogrinfo_lists_both_collections_with_their_counts(ogc_server: str) -> None:
    source = f"OAPIF:{ogc_server}/ogc"
    listing = await run("ogrinfo", "-ro", "-q", source)
    assert "zones (title: Hazardous areas (zones)) (Multi Polygon)" in listing
    assert "incidents (title: Mine and ERW incidents) (Point)" in listing
    zones = await run("ogrinfo", "-ro", "-so", source, "zones")
    assert f"Feature Count: {ZONE_COUNT}" in zones
    assert "Extent: (0.010000, 0.010000) - (0.255000, 0.255000)" in zones
    incidents = await run("ogrinfo", "-ro", "-so", source, "incidents")
    assert f"Feature Count: {INCIDENT_COUNT}" in incidents


async def test_a_bbox_query(ogc_server: str, tmp_path: Path) -> None:
    codes = await export(
        f"OAPIF:{ogc_server}/ogc", tmp_path / "bbox.json", "zones",
        "-spat", "0.05", "0.05", "0.0701", "0.0701",
    )  # fmt: skip
    assert sorted(codes) == ["OGC-Z-005", "OGC-Z-006", "OGC-Z-007"]


async def test_a_cql2_filter(ogc_server: str, tmp_path: Path) -> None:
    cql2 = "status = 'OPEN' AND priority <= 2 AND S_INTERSECTS(geometry, BBOX(0, 0, 0.1, 0.1))"
    url = f"{ogc_server}/ogc/collections/zones?filter={quote(cql2)}&filter-lang=cql2-text"
    codes = await export(f"OAPIF:{url}", tmp_path / "cql2.json")
    assert sorted(codes) == ["OGC-Z-001", "OGC-Z-005", "OGC-Z-006", "OGC-Z-010"]


async def test_paging_through_next_links_reads_every_zone_once(
    ogc_server: str, tmp_path: Path
) -> None:
    codes = await export(
        f"OAPIF:{ogc_server}/ogc", tmp_path / "all.json", "zones", "-oo", "PAGE_SIZE=7"
    )
    assert sorted(codes) == [f"OGC-Z-{i:03d}" for i in range(1, ZONE_COUNT + 1)]


# ---------------------------------------------------------------------------------------------
# Page sizes, CRS, properties and sortby

# Reads the zones with pyogrio's GDAL, which logs (CPL_DEBUG) each URL it fetches.
READ_ZONES = "import sys; from pyogrio import raw; raw.read(sys.argv[1], layer='zones')"


@pytest.fixture
async def large_page_server(fresh_db_url: str) -> AsyncIterator[str]:
    """`mar serve` over the OGC records with pages of 2 500 by default (GDAL's own is 1 000)."""
    conn = await connect(fresh_db_url)
    try:
        await add_records(conn, zones=ZONE_COUNT, incidents=0)
    finally:
        await conn.close()
    async with serving(fresh_db_url, MAR_RATE_LIMIT="0", MAR_OGC_DEFAULT_LIMIT="2500") as base_url:
        yield base_url


async def test_gdal_takes_its_page_size_from_the_openapi_limit(large_page_server: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", READ_ZONES, f"OAPIF:{large_page_server}/ogc",
        env={**os.environ, "CPL_DEBUG": "ON"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    log = output.decode(errors="replace")
    assert process.returncode == 0, log
    assert f"Fetch({large_page_server}/ogc/api)" in log, log
    assert "Page size set from OPENAPI schema: 2500" in log, log
    assert f"{large_page_server}/ogc/collections/zones/items?limit=2500" in log, log


def wkb_positions(wkb: bytes) -> list[float]:
    """Every coordinate of a 2D little-endian WKB MultiPolygon, flat."""
    out: list[float] = []
    (parts,) = struct.unpack_from("<I", wkb, 5)
    at = 9
    for _ in range(parts):
        (rings,) = struct.unpack_from("<I", wkb, at + 5)
        at += 9
        for _ in range(rings):
            (points,) = struct.unpack_from("<I", wkb, at)
            out += struct.unpack_from(f"<{2 * points}d", wkb, at + 4)
            at += 4 + 16 * points
    return out


async def test_gdal_reads_epsg_3857_as_postgis_transforms(
    ogc_server: str, fresh_db_url: str, tmp_path: Path
) -> None:
    conn = await connect(fresh_db_url)
    try:
        rows = await conn.fetch(
            "SELECT code, ST_AsBinary(ST_Transform(geometry, 3857), 'NDR') AS wkb FROM zones"
        )
    finally:
        await conn.close()
    expected = {row["code"]: wkb_positions(row["wkb"]) for row in rows}
    # The CRS open option: GDAL picks it from the collection's crs list and sends crs=….
    meta, _fids, geometries, fields = await asyncio.to_thread(
        raw.read, f"OAPIF:{ogc_server}/ogc", layer="zones", CRS="EPSG:3857"
    )
    assert "3857" in meta["crs"]
    codes = list(fields[meta["fields"].tolist().index("code")])
    assert sorted(codes) == sorted(expected)
    for code, wkb in zip(codes, geometries, strict=True):
        assert wkb_positions(wkb) == pytest.approx(expected[code], abs=1e-3)
    # Debian's GDAL 3.6 knows no CRS option: crs in the URL, and it writes what it reads.
    with_crs = f"OAPIF:{ogc_server}/ogc/collections/zones?crs={quote(EPSG3857, safe='')}"
    await run("ogr2ogr", "-f", "GeoJSON", str(tmp_path / "3857.json"), with_crs)
    for feature in json.loads((tmp_path / "3857.json").read_text())["features"]:
        flat = [v for polygon in feature["geometry"]["coordinates"] for ring in polygon
                for position in ring for v in position]  # fmt: skip
        assert flat == pytest.approx(expected[feature["properties"]["code"]], abs=1e-3)


async def test_gdal_reads_only_the_properties_asked_for(ogc_server: str, tmp_path: Path) -> None:
    url = f"OAPIF:{ogc_server}/ogc/collections/zones?properties=code,priority"
    await run("ogr2ogr", "-f", "GeoJSON", str(tmp_path / "p.json"), url)
    features = json.loads((tmp_path / "p.json").read_text())["features"]
    assert len(features) == ZONE_COUNT
    # GDAL adds the feature's id as a field of its own.
    assert {tuple(sorted(f["properties"])) for f in features} == {("code", "id", "priority")}
    assert all(f["properties"]["id"] == f["properties"]["code"] for f in features)
    assert all(f["geometry"]["type"] == "MultiPolygon" for f in features)


async def test_gdal_pages_through_a_sorted_layer(ogc_server: str, tmp_path: Path) -> None:
    url = f"OAPIF:{ogc_server}/ogc/collections/zones?sortby=-priority,code"
    codes = await export(url, tmp_path / "sorted.json", "-oo", "PAGE_SIZE=4")
    # priority is (i % 5) + 1: 5 for i = 4, 9, …; 4 for i = 3, 8, …; codes ascending within.
    expected = sorted(
        (f"OGC-Z-{i:03d}" for i in range(1, ZONE_COUNT + 1)),
        key=lambda code: (-(int(code[-3:]) % 5 + 1), code),
    )
    assert codes == expected
