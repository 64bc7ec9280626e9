"""OGC API – Tiles: tile matrix sets, tilesets lists and metadata, tiles by row and column, the
links a client follows from the landing page, conformance and OpenAPI; one test per class."""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path
from typing import Any

import httpx
import pytest
from pyogrio import list_layers, raw

from api.rest import ogc_tiles
from db.pool import Connection as Conn
from tests import mvt
from tests.helpers import serving
from tests.test_exports import seed

BASE = "http://mar.test/ogc"
TILES = "/ogc/collections/zones/tiles/WebMercatorQuad"
CONF = "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/"


def link(document: dict[str, Any], rel: str, media_type: str | None = None) -> str:
    """The href of the document's first link with `rel` (and `media_type` when given)."""
    for candidate in document["links"]:
        if candidate["rel"] == rel and media_type in (None, candidate.get("type")):
            return str(candidate["href"])
    raise AssertionError(f"no {rel} link in {document['links']}")


async def test_conformance_lists_every_tiles_class(client: httpx.AsyncClient) -> None:
    classes = (await client.get("/ogc/conformance")).json()["conformsTo"]
    for name in ("core", "tileset", "tilesets-list", "geodata-tilesets", "mvt", "oas30"):
        assert CONF + name in classes
    assert "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset" in classes
    # The Features classes are still there.
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in classes


async def test_tile_matrix_sets(client: httpx.AsyncClient) -> None:
    # Conformance class TileMatrixSet (2D-TMS 2.0, JSON).
    listing = (await client.get("/ogc/tileMatrixSets")).json()
    (entry,) = listing["tileMatrixSets"]
    assert entry["id"] == "WebMercatorQuad"
    assert entry["uri"] == "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
    definition = (await client.get(link(entry, "self"))).json()
    assert definition["crs"] == "http://www.opengis.net/def/crs/EPSG/0/3857"
    matrices = definition["tileMatrices"]
    assert [m["id"] for m in matrices] == [str(z) for z in range(25)]
    assert matrices[0]["scaleDenominator"] == pytest.approx(559082264.028717)
    assert matrices[0]["cellSize"] == pytest.approx(156543.033928041)
    assert matrices[18]["matrixWidth"] == 2**18 and matrices[18]["tileHeight"] == 256
    assert matrices[5]["pointOfOrigin"] == [-20037508.3427892, 20037508.3427892]
    # The 2D-TMS 1.0 members GDAL 3.6 reads.
    assert definition["supportedCRS"] == definition["crs"]
    assert matrices[5]["identifier"] == "5" and matrices[5]["topLeftCorner"] == [
        -20037508.3427892,
        20037508.3427892,
    ]
    other = await client.get("/ogc/tileMatrixSets/WorldCRS84Quad")
    assert other.status_code == 404 and other.json()["code"] == "NOT_FOUND"


async def test_a_client_finds_the_tiles_from_the_landing_page(
    client: httpx.AsyncClient, conn: Conn
) -> None:
    # Conformance classes geodata-tilesets, tilesets-list, tileset, core and mvt, in the order a
    # client without a typed URL meets them (QGIS, ArcGIS, GDAL start at the landing page).
    await seed(conn)
    landing = (await client.get("/ogc")).json()
    assert link(landing, ogc_tiles.REL_TILING_SCHEMES) == f"{BASE}/tileMatrixSets"
    collections = (await client.get(link(landing, "data", "application/json"))).json()
    for collection in collections["collections"]:
        tilesets_url = link(collection, ogc_tiles.REL_TILESETS_VECTOR, "application/json")
        assert tilesets_url == f"{BASE}/collections/{collection['id']}/tiles"
        tilesets = (await client.get(tilesets_url)).json()
        assert link(tilesets, "self") == tilesets_url
        (summary,) = tilesets["tilesets"]
        assert summary["dataType"] == "vector"
        assert summary["tileMatrixSetURI"].endswith("/WebMercatorQuad")
        tileset = (await client.get(link(summary, "self", "application/json"))).json()
        assert tileset["dataType"] == "vector"
        assert (
            link(tileset, ogc_tiles.REL_TILING_SCHEME) == f"{BASE}/tileMatrixSets/WebMercatorQuad"
        )
        assert link(tileset, ogc_tiles.REL_GEODATA) == f"{BASE}/collections/{collection['id']}"
        template = link(tileset, "item", "application/vnd.mapbox-vector-tile")
        assert template.endswith("/{tileMatrix}/{tileRow}/{tileCol}")
        (layer,) = tileset["layers"]
        assert layer["id"] == collection["id"]
        assert layer["propertiesSchema"]["properties"]["code"] == {"type": "string"}
        # The limits of zoom 8 hold the tile of HA-1 and IN-1 (x=149, y=120).
        limits = {m["tileMatrix"]: m for m in tileset["tileMatrixSetLimits"]}
        assert limits["8"]["minTileCol"] <= 149 <= limits["8"]["maxTileCol"]
        assert limits["8"]["minTileRow"] <= 120 <= limits["8"]["maxTileRow"]
        url = template.format(tileMatrix=8, tileRow=120, tileCol=149)
        response = await client.get(url, headers={"Accept-Encoding": "identity"})
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
        features = mvt.decode(response.content)[collection["id"]].features
        assert {f.properties["code"] for f in features} == {
            "zones": {"HA-1"},
            "incidents": {"IN-1"},
        }[collection["id"]]


async def test_a_tile_by_row_and_column_is_the_xyz_tile(
    client: httpx.AsyncClient, conn: Conn
) -> None:
    # tileRow is y and tileCol is x: the other way round from /tiles/{z}/{x}/{y}.
    await seed(conn)
    ogc = await client.get(f"{TILES}/8/120/149", headers={"Accept-Encoding": "identity"})
    xyz = await client.get("/tiles/zones/8/149/120.pbf", headers={"Accept-Encoding": "identity"})
    assert ogc.content == xyz.content != b""
    assert ogc.headers["etag"] == xyz.headers["etag"]
    assert ogc.headers["cache-control"] == xyz.headers["cache-control"]
    held = await client.get(f"{TILES}/8/120/149", headers={"If-None-Match": ogc.headers["etag"]})
    assert held.status_code == 304


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/ogc/collections/zones/tiles/WebMercatorQuad/23/0/0", 404, None),
        ("/ogc/collections/zones/tiles/WebMercatorQuad/1/2/0", 404, None),
        ("/ogc/collections/zones/tiles/WebMercatorQuad/1/0/2", 404, None),
        ("/ogc/collections/zones/tiles/WebMercatorQuad/a/0/0", 400, "tileMatrix"),
        ("/ogc/collections/zones/tiles/WebMercatorQuad/1/-1/0", 400, "tileRow"),
        ("/ogc/collections/zones/tiles/WebMercatorQuad/1/0/x", 400, "tileCol"),
        ("/ogc/collections/zones/tiles/WorldCRS84Quad/0/0/0", 404, None),
        ("/ogc/collections/zones/tiles/WorldCRS84Quad", 404, None),
        ("/ogc/collections/teams/tiles", 404, None),
        ("/ogc/collections/teams/tiles/WebMercatorQuad/0/0/0", 404, None),
    ],
)
async def test_tiles_outside_the_set_are_not_found(
    client: httpx.AsyncClient, path: str, status: int, field: str | None
) -> None:
    # OGC API – Tiles /req/core/tc-error: a tile outside the matrix set's limits is a 404.
    response = await client.get(path)
    assert response.status_code == status
    problem = response.json()
    assert problem["code"] == ("NOT_FOUND" if status == 404 else "BAD_USER_INPUT")
    if field:
        assert [f["field"] for f in problem["fields"]] == [field]


async def test_openapi_describes_the_tiles(client: httpx.AsyncClient) -> None:
    # Conformance class oas30.
    paths = (await client.get("/openapi.json")).json()["paths"]
    tile = "/ogc/collections/zones/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}"
    assert (
        "application/vnd.mapbox-vector-tile" in (paths[tile]["get"]["responses"]["200"]["content"])
    )
    for path in ("/ogc/tileMatrixSets", "/ogc/tileMatrixSets/{tileMatrixSetId}"):
        assert path in paths
    assert "/ogc/collections/incidents/tiles/{tileMatrixSetId}" in paths


async def test_gdal_reads_a_tile_found_through_the_links(
    client: httpx.AsyncClient, conn: Conn, tmp_path: Path
) -> None:
    # GDAL 3.6's OGCAPI driver does not open these tilesets (see the report); its MVT driver
    # reads what the template gives, gzip-encoded as a client receives it.
    await seed(conn)
    tileset = (await client.get(TILES)).json()
    url = link(tileset, "item", "application/vnd.mapbox-vector-tile")
    response = await client.get(url.format(tileMatrix=0, tileRow=0, tileCol=0))
    path = tmp_path / "tile.pbf"
    path.write_bytes(gzip.compress(response.content))
    process = await asyncio.create_subprocess_exec(
        "ogrinfo", "-ro", "-al", "-oo", "X=0", "-oo", "Y=0", "-oo", "Z=0", str(path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output = (await asyncio.wait_for(process.communicate(), 60))[0].decode()
    assert process.returncode == 0, output
    assert "Layer name: zones" in output and "Feature Count: 2" in output
    assert "code (String) = HA-1" in output and "code (String) = HA-2" in output


@pytest.mark.commits
async def test_gdal_ogcapi_driver_opens_the_tilesets_from_the_collection_url(
    fresh_db_url: str, db: Conn
) -> None:
    # What an OGC tiles client does with nothing but the collection's address: GDAL 3.12's
    # OGCAPI driver (bundled with pyogrio) follows the tileset links, offers a layer per zoom
    # level with the tileset's fields, and reads the features of the tiles.
    await seed(db)
    async with serving(fresh_db_url, MAR_RATE_LIMIT="0") as base_url:
        dataset = f"OGCAPI:{base_url}/ogc/collections/zones"
        layers = await asyncio.to_thread(list_layers, dataset)
        names = [str(name) for name, _geometry in layers]
        assert names[:3] == ["Zoom level 0", "Zoom level 1", "Zoom level 2"], names
        meta, _fids, _geometries, fields = await asyncio.to_thread(
            raw.read, dataset, layer="Zoom level 3"
        )
    columns = dict(zip(meta["fields"], fields, strict=True))
    assert sorted(columns["code"]) == ["HA-1", "HA-2"]
    ids = dict(await db.fetch("SELECT code, id FROM zones"))
    assert sorted(columns["mvt_id"]) == sorted(ids.values())
