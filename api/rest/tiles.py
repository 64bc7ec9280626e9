"""GET /tiles/{zones|incidents}/{z}/{x}/{y}.pbf (Mapbox vector tiles) and /tiles/{layer}.json.

A tile carries a weak ETag computed with it from the records it shows (db/queries/tiles.py);
`If-None-Match` with a current tag answers 304 without encoding the tile. The tag is weak and the
same for the gzip and the plain answer: it names the records drawn, not the bytes, so a client or
CDN holding either encoding revalidates with it (If-None-Match compares weakly anyway).

Tiles are the same for every role (they carry only public attributes), so a CDN may keep them
(`public`) while anonymous access is on; with it off, a shared cache could hand a tile to a caller
without a key, so they are `private`.
"""

from __future__ import annotations

import asyncio
import gzip

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.errors import BadUserInput, FieldError, NotFoundError
from api.hosts import public_base
from db.queries import tiles as tile_sql
from db.queries.tiles import TileLayer

MAX_ZOOM = 22
MVT = "application/vnd.mapbox-vector-tile"
# A CDN may answer from a tile up to 5 minutes stale while it revalidates it.
SHARED_CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=300"
PRIVATE_CACHE_CONTROL = "private, max-age=60"
GZIP_MIN_BYTES = 512  # smaller tiles do not shrink by enough to pay for the header
GZIP_IN_THREAD_BYTES = 64 * 1024  # compress larger tiles off the event loop
WORLD = (-180.0, -85.0511, 180.0, 85.0511)


def layer_of(request: Request) -> TileLayer:
    """The layer named in the path, or NotFoundError listing the layers."""
    name: str = request.path_params["layer"]
    layer = tile_sql.LAYERS.get(name)
    if layer is None:
        raise NotFoundError(f"no tile layer {name!r}; layers: {', '.join(tile_sql.LAYERS)}")
    return layer


def tile_address(request: Request) -> tuple[int, int, int]:
    """z, x, y from the path; BAD_USER_INPUT naming every one out of range."""
    fields: list[FieldError] = []
    values: dict[str, int] = {}
    for name in ("z", "x", "y"):
        raw: str = request.path_params[name]
        if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
            fields.append(FieldError(name, f"must be a whole number, not {raw!r}"))
        else:
            values[name] = int(raw)
    z = values.get("z")
    if z is not None and z > MAX_ZOOM:
        fields.append(FieldError("z", f"must be between 0 and {MAX_ZOOM}"))
    elif z is not None:
        for name in ("x", "y"):
            if name in values and values[name] >= 2**z:
                fields.append(FieldError(name, f"must be between 0 and {2**z - 1} at zoom {z}"))
    if fields:
        raise BadUserInput(fields)
    return values["z"], values["x"], values["y"]


def _held_etags(request: Request) -> list[str]:
    """The tags of If-None-Match, unquoted (a weak W/ prefix compares equal)."""
    header = request.headers.get("if-none-match", "")
    tags = []
    for part in header.split(","):
        tag = part.strip().removeprefix("W/").strip('"')
        if tag:
            tags.append(tag)
    return tags


def accepts_gzip(request: Request) -> bool:
    """Whether Accept-Encoding takes gzip (or `*`) with a quality above zero."""
    wanted: dict[str, float] = {}
    for part in request.headers.get("accept-encoding", "").split(","):
        name, _, params = part.strip().partition(";")
        quality = 1.0
        key, _, value = params.strip().partition("=")
        if key.strip().lower() == "q":
            try:
                quality = float(value)
            except ValueError:
                quality = 0.0
        if name.strip():
            wanted[name.strip().lower()] = quality
    return wanted.get("gzip", wanted.get("x-gzip", wanted.get("*", 0.0))) > 0


def cache_control(request: Request) -> str:
    """Shared caches may keep tiles only while anyone may read them without a key."""
    settings = request.app.state.settings
    return SHARED_CACHE_CONTROL if settings.anonymous_access else PRIVATE_CACHE_CONTROL


async def _gzip(data: bytes) -> bytes:
    # mtime=0: the same tile compresses to the same bytes.
    if len(data) < GZIP_IN_THREAD_BYTES:
        return gzip.compress(data, compresslevel=6, mtime=0)
    return await asyncio.to_thread(gzip.compress, data, 6, mtime=0)


async def tile_response(request: Request, layer: TileLayer, z: int, x: int, y: int) -> Response:
    """Tile z/x/y of `layer` with its weak ETag and caching headers; 304 when the copy held is
    current; gzip-encoded when the client takes it."""
    held = _held_etags(request)
    async with request.app.state.db.acquire() as conn:
        row = await conn.fetchrow(tile_sql.tile(layer), z, x, y, held)
    assert row is not None
    headers = {
        "ETag": f'W/"{row["etag"]}"',
        "Cache-Control": cache_control(request),
        "Vary": "Accept-Encoding",
    }
    if row["tile"] is None or "*" in held:
        return Response(status_code=304, headers=headers)
    body = bytes(row["tile"])
    if len(body) >= GZIP_MIN_BYTES and accepts_gzip(request):
        body = await _gzip(body)
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=MVT, headers=headers)


async def tile(request: Request) -> Response:
    """One vector tile of a layer, with its ETag; 304 when the client's copy is current."""
    layer = layer_of(request)
    z, x, y = tile_address(request)
    return await tile_response(request, layer, z, x, y)


async def layer_bounds(request: Request, layer: TileLayer) -> tuple[float, float, float, float]:
    """The layer's west, south, east, north in degrees; the Web Mercator world when empty."""
    async with request.app.state.db.acquire() as conn:
        row = await conn.fetchrow(tile_sql.extent(layer))
    assert row is not None
    if row["west"] is None:
        return WORLD
    return (row["west"], row["south"], row["east"], row["north"])


async def tilejson(request: Request) -> JSONResponse:
    """The TileJSON 3.0.0 document of a layer: where its tiles are, its bounds and fields."""
    layer = layer_of(request)
    bounds = await layer_bounds(request, layer)
    base = public_base(request)
    return JSONResponse(
        {
            "tilejson": "3.0.0",
            "name": f"Mine Action Records – {layer.name}",
            "scheme": "xyz",
            "tiles": [f"{base}/tiles/{layer.name}/{{z}}/{{x}}/{{y}}.pbf"],
            "minzoom": 0,
            "maxzoom": MAX_ZOOM,
            "bounds": list(bounds),
            "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, 6],
            "vector_layers": [
                {"id": layer.name, "fields": layer.fields, "minzoom": 0, "maxzoom": MAX_ZOOM}
            ],
        },
        headers={"Cache-Control": cache_control(request)},
    )
