"""GET /tiles/{zones|incidents}/{z}/{x}/{y}.pbf (Mapbox vector tiles) and /tiles/{layer}.json.

A tile carries an ETag computed with it (db/queries/tiles.py); `If-None-Match` with a current
tag answers 304 without encoding the tile. Tiles may be cached for a minute: shared caches keep
them only for requests without a key (no `public`), so a key's view never leaks to others.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.errors import BadUserInput, FieldError, NotFoundError
from api.hosts import public_base
from db.queries import tiles as tile_sql
from db.queries.tiles import TileLayer

MAX_ZOOM = 22
MVT = "application/vnd.mapbox-vector-tile"
CACHE_CONTROL = "max-age=60"
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


async def tile(request: Request) -> Response:
    """One vector tile of a layer, with its ETag; 304 when the client's copy is current."""
    layer = layer_of(request)
    z, x, y = tile_address(request)
    held = _held_etags(request)
    async with request.app.state.db.acquire() as conn:
        row = await conn.fetchrow(tile_sql.tile(layer), z, x, y, held)
    assert row is not None
    headers = {"ETag": f'"{row["etag"]}"', "Cache-Control": CACHE_CONTROL}
    if row["tile"] is None or "*" in held:
        return Response(status_code=304, headers=headers)
    return Response(bytes(row["tile"]), media_type=MVT, headers=headers)


async def tilejson(request: Request) -> JSONResponse:
    """The TileJSON 3.0.0 document of a layer: where its tiles are, its bounds and fields."""
    layer = layer_of(request)
    async with request.app.state.db.acquire() as conn:
        row = await conn.fetchrow(tile_sql.extent(layer))
    assert row is not None
    bounds = (
        WORLD if row["west"] is None else (row["west"], row["south"], row["east"], row["north"])
    )
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
        headers={"Cache-Control": CACHE_CONTROL},
    )
