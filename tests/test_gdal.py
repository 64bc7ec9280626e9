"""GDAL's OGC API – Features driver (OAPIF) against the real server: counts, bbox, CQL2, paging."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from urllib.parse import quote

from tests.ogc_server import INCIDENT_COUNT, ZONE_COUNT, ogc_server

__all__ = ["ogc_server"]


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
