"""OGC API – Tiles (Part 1: core, tileset, tilesets-list, geodata-tilesets, MVT) under /ogc.

The same vector tiles as /tiles (api/rest/tiles.py: ETag, gzip, Cache-Control), addressed by
the WebMercatorQuad tile matrix set: /ogc/collections/{id}/tiles/WebMercatorQuad/{tileMatrix}/
{tileRow}/{tileCol}, where tileMatrix is the zoom, tileRow the y and tileCol the x of XYZ.
"""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.errors import BadUserInput, FieldError, NotFoundError
from api.hosts import public_base
from api.rest import tiles
from db.queries import tiles as tile_sql
from db.queries.tiles import TileLayer

JSON = "application/json"
TMS_ID = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
EPSG_3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
REL_TILESETS_VECTOR = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
REL_TILING_SCHEMES = "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes"
REL_TILING_SCHEME = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
REL_GEODATA = "http://www.opengis.net/def/rel/ogc/1.0/geodata"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
]
# WebMercatorQuad as registered by the OGC (2D-TMS 2.0): 256-pixel tiles, zooms 0-24.
ORIGIN = 20037508.3427892
CELL_SIZE_0 = 2 * ORIGIN / 256
PIXEL_M = 0.00028  # the standardized rendering pixel: scale denominator = cell size / 0.28 mm
TMS_MAX_ZOOM = 24
FIELD_TYPES = {"String": "string", "Number": "number", "Boolean": "boolean"}


def _link(href: str, rel: str, media_type: str, title: str, **extra: Any) -> dict[str, Any]:
    return {"href": href, "rel": rel, "type": media_type, "title": title, **extra}


def _base(request: Request) -> str:
    return public_base(request) + "/ogc"


def landing_links(base: str) -> list[dict[str, Any]]:
    """The landing page's links to the tile matrix sets (base: the /ogc URL)."""
    return [_link(f"{base}/tileMatrixSets", REL_TILING_SCHEMES, JSON, "Tile matrix sets")]


def collection_links(base: str, name: str) -> list[dict[str, Any]]:
    """A collection's link to its vector tilesets (base: the /ogc URL)."""
    href = f"{base}/collections/{name}/tiles"
    return [_link(href, REL_TILESETS_VECTOR, JSON, f"Vector tilesets of {name}")]


def tile_matrix_set() -> dict[str, Any]:
    """The WebMercatorQuad tile matrix set definition (OGC 2D-TMS 2.0 JSON)."""
    matrices = []
    for zoom in range(TMS_MAX_ZOOM + 1):
        cell = CELL_SIZE_0 / 2**zoom
        matrices.append(
            {
                "id": str(zoom),
                "identifier": str(zoom),  # 2D-TMS 1.0's name, read by GDAL up to 3.6
                "scaleDenominator": cell / PIXEL_M,
                "cellSize": cell,
                "cornerOfOrigin": "topLeft",
                "pointOfOrigin": [-ORIGIN, ORIGIN],
                "topLeftCorner": [-ORIGIN, ORIGIN],  # 2D-TMS 1.0
                "tileWidth": 256,
                "tileHeight": 256,
                "matrixWidth": 2**zoom,
                "matrixHeight": 2**zoom,
            }
        )
    return {
        "id": TMS_ID,
        "title": "Google Maps Compatible for the World",
        "uri": TMS_URI,
        "crs": EPSG_3857,
        "orderedAxes": ["X", "Y"],
        "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "tileMatrices": matrices,
        # The 2D-TMS 1.0 encoding's members too: GDAL up to 3.6 (and the QGIS built on it) read
        # only those; 2.0 readers ignore them.
        "type": "TileMatrixSetType",
        "identifier": TMS_ID,
        "supportedCRS": EPSG_3857,
        "boundingBox": {
            "type": "BoundingBoxType",
            "crs": EPSG_3857,
            "lowerCorner": [-ORIGIN, -ORIGIN],
            "upperCorner": [ORIGIN, ORIGIN],
        },
    }


async def tile_matrix_sets(request: Request) -> JSONResponse:
    """The tile matrix sets the tiles are offered in: WebMercatorQuad."""
    base = _base(request)
    href = f"{base}/tileMatrixSets/{TMS_ID}"
    body = {
        "links": [_link(f"{base}/tileMatrixSets", "self", JSON, "Tile matrix sets")],
        "tileMatrixSets": [
            {
                "id": TMS_ID,
                "title": "Google Maps Compatible for the World",
                "uri": TMS_URI,
                "crs": EPSG_3857,
                "links": [_link(href, "self", JSON, "WebMercatorQuad")],
            }
        ],
    }
    return JSONResponse(body)


async def tile_matrix_set_by_id(request: Request) -> JSONResponse:
    """One tile matrix set's definition; NOT_FOUND for any other than WebMercatorQuad."""
    _matrix_set(request)
    body = tile_matrix_set()
    href = f"{_base(request)}/tileMatrixSets/{TMS_ID}"
    body["links"] = [_link(href, "self", JSON, "This tile matrix set")]
    return JSONResponse(body)


def _layer(request: Request) -> TileLayer:
    name: str = request.path_params["collection"]
    layer = tile_sql.LAYERS.get(name)
    if layer is None:
        raise NotFoundError(f"no collection {name!r}; collections: {', '.join(tile_sql.LAYERS)}")
    return layer


def _matrix_set(request: Request) -> None:
    name = request.path_params["tileMatrixSetId"]
    if name != TMS_ID:
        raise NotFoundError(f"no tile matrix set {name!r}; tile matrix sets: {TMS_ID}")


def _tileset_summary(base: str, layer: TileLayer) -> dict[str, Any]:
    href = f"{base}/collections/{layer.name}/tiles/{TMS_ID}"
    return {
        "title": f"{layer.name} as Mapbox vector tiles",
        "dataType": "vector",
        "crs": EPSG_3857,
        "tileMatrixSetURI": TMS_URI,
        "links": [
            _link(href, "self", JSON, f"The {TMS_ID} tileset of {layer.name}"),
            _link(f"{base}/tileMatrixSets/{TMS_ID}", REL_TILING_SCHEME, JSON, TMS_ID),
        ],
    }


async def tilesets(request: Request) -> JSONResponse:
    """The tilesets of a collection: one, vector tiles in WebMercatorQuad."""
    layer = _layer(request)
    base = _base(request)
    href = f"{base}/collections/{layer.name}/tiles"
    body = {
        "links": [
            _link(href, "self", JSON, f"Tilesets of {layer.name}"),
            _link(f"{base}/collections/{layer.name}", REL_GEODATA, JSON, layer.name),
        ],
        "tilesets": [_tileset_summary(base, layer)],
    }
    return JSONResponse(body)


def _column(lon: float, zoom: int) -> int:
    n = 1 << zoom
    return min(n - 1, max(0, int((lon + 180.0) / 360.0 * n)))


def _row(lat: float, zoom: int) -> int:
    n = 1 << zoom
    lat = max(-85.05112878, min(85.05112878, lat))
    y = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0
    return min(n - 1, max(0, int(y * n)))


def limits(bounds: tuple[float, float, float, float]) -> list[dict[str, Any]]:
    """The tiles of each zoom 0..MAX_ZOOM that cover `bounds` (west, south, east, north)."""
    west, south, east, north = bounds
    return [
        {
            "tileMatrix": str(zoom),
            "minTileRow": _row(north, zoom),
            "maxTileRow": _row(south, zoom),
            "minTileCol": _column(west, zoom),
            "maxTileCol": _column(east, zoom),
        }
        for zoom in range(tiles.MAX_ZOOM + 1)
    ]


async def tileset(request: Request) -> JSONResponse:
    """A collection's WebMercatorQuad tileset: its tile URL template, limits, layer and fields."""
    layer = _layer(request)
    _matrix_set(request)
    bounds = await tiles.layer_bounds(request, layer)
    base = _base(request)
    href = f"{base}/collections/{layer.name}/tiles/{TMS_ID}"
    template = f"{href}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"
    properties = {name: {"type": FIELD_TYPES[kind]} for name, kind in layer.fields.items()}
    body = {
        "title": f"{layer.name} as Mapbox vector tiles",
        "dataType": "vector",
        "crs": EPSG_3857,
        "tileMatrixSetURI": TMS_URI,
        "tileMatrixSetLimits": limits(bounds),
        "boundingBox": {
            "lowerLeft": [bounds[0], bounds[1]],
            "upperRight": [bounds[2], bounds[3]],
            "crs": CRS84,
        },
        "layers": [
            {
                "id": layer.name,
                "dataType": "vector",
                # Zones are polygons, and points at zooms where they are too small to draw:
                # mixed, so their dimension is left unsaid.
                **({"geometryDimension": 0} if layer.name == "incidents" else {}),
                "minTileMatrix": "0",
                "maxTileMatrix": str(tiles.MAX_ZOOM),
                "propertiesSchema": {"type": "object", "properties": properties},
            }
        ],
        "links": [
            _link(href, "self", JSON, f"The {TMS_ID} tileset of {layer.name}"),
            _link(f"{base}/tileMatrixSets/{TMS_ID}", REL_TILING_SCHEME, JSON, TMS_ID),
            _link(f"{base}/collections/{layer.name}", REL_GEODATA, JSON, layer.name),
            _link(template, "item", tiles.MVT, "Mapbox vector tiles", templated=True),
        ],
    }
    return JSONResponse(body, headers={"Cache-Control": tiles.cache_control(request)})


def _address(request: Request) -> tuple[int, int, int]:
    """zoom, x, y from tileMatrix/tileRow/tileCol: BAD_USER_INPUT for what is no number,
    NOT_FOUND for a tile outside the matrix set (OGC API – Tiles /req/core/tc-error)."""
    fields: list[FieldError] = []
    values: dict[str, int] = {}
    for name in ("tileMatrix", "tileRow", "tileCol"):
        raw: str = request.path_params[name]
        if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
            fields.append(FieldError(name, f"must be a whole number, not {raw!r}"))
        else:
            values[name] = int(raw)
    if fields:
        raise BadUserInput(fields)
    zoom, row, col = values["tileMatrix"], values["tileRow"], values["tileCol"]
    if zoom > tiles.MAX_ZOOM:
        raise NotFoundError(f"tileMatrix {zoom} is not served; give 0 to {tiles.MAX_ZOOM}")
    if row >= 2**zoom or col >= 2**zoom:
        raise NotFoundError(f"tileRow and tileCol run from 0 to {2**zoom - 1} at tileMatrix {zoom}")
    return zoom, col, row


async def tile(request: Request) -> Response:
    """One tile, as /tiles answers it."""
    layer = _layer(request)
    _matrix_set(request)
    zoom, x, y = _address(request)
    return await tiles.tile_response(request, layer, zoom, x, y)


ROUTES = [
    Route("/ogc/tileMatrixSets", tile_matrix_sets, methods=["GET"]),
    Route("/ogc/tileMatrixSets/{tileMatrixSetId}", tile_matrix_set_by_id, methods=["GET"]),
    Route("/ogc/collections/{collection}/tiles", tilesets, methods=["GET"]),
    Route("/ogc/collections/{collection}/tiles/{tileMatrixSetId}", tileset, methods=["GET"]),
    Route(
        "/ogc/collections/{collection}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
        tile,
        methods=["GET"],
    ),
]
