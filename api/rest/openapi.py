"""The OpenAPI 3.0 document of every REST endpoint, served at /openapi.json.

OGC items paths are written out per collection, so that each lists its own queryables as
parameters; everything else follows API.md's endpoint table.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Match, Route

from api.hosts import public_base
from api.rest.ogc_queryables import queryables_schema
from api.services import file_exports
from db.queries import ogc_crs as crs
from db.queries import ogc_layers as kinds
from db.queries.ogc import LAYERS, Layer

OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"
GEOJSON = "application/geo+json"
PROBLEM = {"$ref": "#/components/responses/Problem"}
REF = "#/components/schemas/"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF + name}


def _json(schema: dict[str, Any], media_type: str = "application/json") -> dict[str, Any]:
    return {"content": {media_type: {"schema": schema}}}


def _ok(description: str, schema: dict[str, Any], media_type: str = "application/json") -> Any:
    content = _json(schema, media_type)["content"]
    content["text/html"] = {"schema": {"type": "string"}}
    return {"description": description, "content": content}


def _get(summary: str, op_id: str, ok: dict[str, Any], params: list[Any], *errors: int) -> Any:
    responses: dict[str, Any] = {"200": ok}
    for status in (*errors, 429, 500):  # every route: the rate limit, the unexpected
        responses[str(status)] = PROBLEM
    return {
        "get": {
            "summary": summary,
            "operationId": op_id,
            "tags": [op_id.split("_")[0]],
            "parameters": params,
            "responses": responses,
        }
    }


def _param(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


def _queryable_params(layer: Layer) -> list[dict[str, Any]]:
    # The public schema: every caller may send these (private ones are refused for the public).
    schema = queryables_schema(layer, include_private=False, href="")
    out: list[dict[str, Any]] = []
    for name, queryable in layer.queryables.items():
        if queryable.private:
            continue
        prop = dict(schema["properties"][name])
        prop.pop("title", None)
        prop.pop("x-ogc-role", None)
        if queryable.kind == kinds.TEXT_ARRAY:  # `contamination=UXO`: contains this value
            prop = dict(prop["items"])
        out.append(
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": f"Only features whose {name} equals this value.",
                "schema": prop,
                # QGIS takes form/unexploded query parameters of an items path as queryables
                # it can filter by on the server.
                "style": "form",
                "explode": False,
            }
        )
    return out


def _ogc_paths() -> dict[str, Any]:
    items_params = [
        _param(n)
        for n in ("f", "limit", "offset", "bbox", "bbox-crs", "datetime", "sortby")
        + ("filter", "filter-lang", "filter-crs", "crs", "skipGeometry")
    ]
    paths: dict[str, Any] = {
        "/ogc": _get(
            "OGC API landing page",
            "ogc_landing",
            _ok("Landing page", _ref("Landing")),
            [_param("f")],
            400,
        ),
        "/ogc/api": {
            "get": {
                "summary": "The OpenAPI document of the OGC API alone, its paths relative to /ogc",
                "operationId": "ogc_api",
                "tags": ["ogc"],
                "responses": {
                    "200": {"description": "OpenAPI 3.0", **_json({"type": "object"}, OPENAPI_JSON)}
                },
            }
        },
        "/ogc/conformance": _get(
            "Conformance classes",
            "ogc_conformance",
            _ok("Conformance classes", _ref("Conformance")),
            [_param("f")],
            400,
        ),
        "/ogc/collections": _get(
            "Collections",
            "ogc_collections",
            _ok("The collections", _ref("Collections")),
            [_param("f")],
            400,
        ),
    }
    for layer in LAYERS.values():
        base = f"/ogc/collections/{layer.name}"
        paths[base] = _get(
            f"The {layer.name} collection",
            f"ogc_collection_{layer.name}",
            _ok("The collection", _ref("Collection")),
            [_param("f")],
            400,
        )
        paths[f"{base}/queryables"] = _get(
            f"Queryables of {layer.name}",
            f"ogc_queryables_{layer.name}",
            _ok("JSON Schema of the queryables", {"type": "object"}, "application/schema+json"),
            [_param("f")],
            400,
        )
        paths[f"{base}/items"] = _get(
            f"Features of {layer.name}",
            f"ogc_items_{layer.name}",
            _ok("A page of features", _ref("FeatureCollection"), "application/geo+json"),
            items_params + [_properties_param(layer)] + _queryable_params(layer),
            400,
        )
        paths[f"{base}/items/{{featureId}}"] = _get(
            f"One feature of {layer.name} by its code",
            f"ogc_item_{layer.name}",
            _ok("The feature", _ref("Feature"), "application/geo+json"),
            [
                _param("featureId"),
                _param("f"),
                _param("crs"),
                _properties_param(layer),
                _param("skipGeometry"),
            ],
            400,
            404,
        )
    return paths


def _properties_param(layer: Layer) -> dict[str, Any]:
    names = [name for name, queryable in layer.queryables.items() if not queryable.private]
    return {
        **_query(
            "properties",
            "The properties to return, comma-separated (none when empty)",
            {"type": "array", "items": {"type": "string", "enum": names}},
        ),
        "style": "form",
        "explode": False,
    }


def _filter_params(layer: Layer) -> list[Any]:
    names = ("bbox", "bbox-crs", "datetime", "filter", "filter-lang", "filter-crs")
    return [_param(n) for n in names] + _queryable_params(layer)


def _data_paths() -> dict[str, Any]:
    """Exports, imports and vector tiles (API.md's endpoint table)."""
    hxl = _query("hxl", "Whether the HXL hashtag row follows the header", {"type": "boolean"})
    csv = {"description": "CSV (streamed)", **_json({"type": "string"}, "text/csv")}
    geojson = {"description": "GeoJSON (streamed)", **_json(_ref("FeatureCollection"), GEOJSON)}
    paths: dict[str, Any] = {}
    for kind in ("zones", "incidents", "releases", "casualties"):
        layer = LAYERS.get(kind)
        params = [hxl] + (_filter_params(layer) if layer else [])
        paths[f"/exports/{kind}.csv"] = _get(
            f"{kind} as CSV with HXL hashtags", f"exports_{kind}_csv", csv, params, 400, 401, 403
        )
        if layer is not None:
            paths[f"/exports/{kind}.geojson"] = _get(
                f"{kind} as a GeoJSON FeatureCollection",
                f"exports_{kind}_geojson",
                geojson,
                _filter_params(layer),
                400,
                401,
                403,
            )
            # Written whole, then sent with a Content-Length (api/rest/file_exports.py).
            for fmt, title in (("gpkg", "a GeoPackage"), ("kml", "KML placemarks")):
                binary = {"type": "string", "format": "binary"}
                ok = {"description": title, **_json(binary, file_exports.MEDIA_TYPES[fmt])}
                paths[f"/exports/{kind}.{fmt}"] = _get(
                    f"{kind} as {title}", f"exports_{kind}_{fmt}", ok, _filter_params(layer), 400
                )
    report = {
        "type": "object",
        "required": ["created", "updated", "errors"],
        "properties": {
            "created": {"type": "integer"},
            "updated": {"type": "integer"},
            "unchanged": {"type": "integer", "description": "Records already as given"},
            "errors": {"type": "array", "items": {"type": "object"}},
        },
    }
    tile = {"type": "integer", "minimum": 0}
    for layer in LAYERS.values():
        paths[f"/imports/{layer.name}"] = {
            "post": {
                "summary": f"Upsert {layer.name} by code from a FeatureCollection (all or nothing)",
                "operationId": f"imports_{layer.name}",
                "tags": ["imports"],
                "parameters": [
                    _query("dry_run", "Validate only, write nothing", {"type": "boolean"})
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        GEOJSON: {"schema": _ref("FeatureCollection")},
                        "application/json": {"schema": _ref("FeatureCollection")},
                    },
                },
                "responses": {
                    "200": {"description": "The import report", **_json(report)},
                    **{str(s): PROBLEM for s in (400, 401, 403, 413, 415, 429, 500)},
                },
            }
        }
        params = [
            {"name": n, "in": "path", "required": True, "schema": tile} for n in ("z", "x", "y")
        ]
        paths[f"/tiles/{layer.name}/{{z}}/{{x}}/{{y}}.pbf"] = _get(
            f"A Mapbox vector tile of {layer.name}",
            f"tiles_{layer.name}",
            {
                "description": "The tile",
                **_json(
                    {"type": "string", "format": "binary"}, "application/vnd.mapbox-vector-tile"
                ),
            },
            params,
            400,
            404,
        )
        paths[f"/tiles/{layer.name}.json"] = _get(
            f"The TileJSON 3.0.0 document of the {layer.name} tiles",
            f"tiles_{layer.name}_tilejson",
            {"description": "TileJSON", **_json({"type": "object"})},
            [],
        )
    return paths


def _ogc_tiles_paths() -> dict[str, Any]:
    """OGC API – Tiles: the tile matrix sets, and each collection's tilesets and tiles."""
    plain = {"type": "object"}
    tms_id = {
        "name": "tileMatrixSetId", "in": "path", "required": True,
        "schema": {"type": "string", "enum": ["WebMercatorQuad"]},
    }  # fmt: skip
    address = [
        {"name": name, "in": "path", "required": True, "description": what,
         "schema": {"type": "integer", "minimum": 0}}
        for name, what in (("tileMatrix", "the zoom, 0-22"), ("tileRow", "y"), ("tileCol", "x"))
    ]  # fmt: skip
    mvt = {"type": "string", "format": "binary"}
    paths: dict[str, Any] = {
        "/ogc/tileMatrixSets": _get(
            "The tile matrix sets", "ogcTiles_matrixSets",
            {"description": "Tile matrix sets", **_json(plain)}, [],
        ),
        "/ogc/tileMatrixSets/{tileMatrixSetId}": _get(
            "A tile matrix set's definition (OGC 2D-TMS)", "ogcTiles_matrixSet",
            {"description": "The tile matrix set", **_json(plain)}, [tms_id], 404,
        ),
    }  # fmt: skip
    for layer in LAYERS.values():
        base = f"/ogc/collections/{layer.name}/tiles"
        paths[base] = _get(
            f"The vector tilesets of {layer.name}", f"ogcTiles_tilesets_{layer.name}",
            {"description": "Tilesets", **_json(plain)}, [],
        )  # fmt: skip
        paths[f"{base}/{{tileMatrixSetId}}"] = _get(
            f"The tileset of {layer.name} in a tile matrix set", f"ogcTiles_tileset_{layer.name}",
            {"description": "Tileset metadata", **_json(plain)}, [tms_id], 404,
        )  # fmt: skip
        paths[f"{base}/{{tileMatrixSetId}}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"] = _get(
            f"A Mapbox vector tile of {layer.name}", f"ogcTiles_tile_{layer.name}",
            {"description": "The tile", **_json(mvt, "application/vnd.mapbox-vector-tile")},
            [tms_id, *address], 400, 404,
        )  # fmt: skip
    return paths


def _other_paths() -> dict[str, Any]:
    plain = {"type": "object"}
    return {
        "/": {
            "get": {
                "summary": "A page for people: headline figures, a map, links",
                "operationId": "home",
                "tags": ["meta"],
                "responses": {
                    "200": {
                        "description": "HTML",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/healthz": {
            "get": {
                "summary": "Liveness: 200 while the process serves",
                "operationId": "health_live",
                "tags": ["health"],
                "responses": {"200": {"description": "Serving", **_json(plain)}},
            }
        },
        "/readyz": {
            "get": {
                "summary": "Readiness: the database answers and migrations are at head",
                "operationId": "health_ready",
                "tags": ["health"],
                "responses": {
                    "200": {"description": "Ready", **_json(plain)},
                    "503": {"description": "Not ready, and why", **_json(plain)},
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics: requests, durations, the pool",
                "operationId": "metrics",
                "tags": ["health"],
                "responses": {
                    "200": {
                        "description": "Prometheus text format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/docs": {
            "get": {
                "summary": "This document as a page for people (no script, nothing from outside)",
                "operationId": "docs",
                "tags": ["meta"],
                "responses": {
                    "200": {
                        "description": "HTML",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "operationId": "openapi",
                "tags": ["meta"],
                "responses": {"200": {"description": "OpenAPI 3.0", **_json(plain)}},
            }
        },
    }


def _components(default_limit: int, max_limit: int) -> dict[str, Any]:
    link = {
        "type": "object",
        "required": ["href", "rel"],
        "properties": {
            "href": {"type": "string"},
            "rel": {"type": "string"},
            "type": {"type": "string"},
            "title": {"type": "string"},
        },
    }
    links = {"type": "array", "items": _ref("Link")}
    geometry = {
        "type": "object",
        "nullable": True,  # skipGeometry=true
        "required": ["type"],
        "properties": {"type": {"type": "string"}},
    }
    feature = {
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "string"},
            "geometry": geometry,
            "properties": {"type": "object"},
            "links": links,
        },
    }
    string_param = {"type": "string"}
    formats = {"type": "string", "enum": ["json", "html"]}
    return {
        "schemas": {
            "Link": link,
            "Landing": {
                "type": "object",
                "required": ["links"],
                "properties": {
                    "title": {"type": "string"},
                    "description": {"type": "string"},
                    "links": links,
                },
            },
            "Conformance": {
                "type": "object",
                "required": ["conformsTo"],
                "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}}},
            },
            "Collection": {
                "type": "object",
                "required": ["id", "links"],
                "properties": {
                    "id": {"type": "string"},
                    "title": {"type": "string"},
                    "description": {"type": "string"},
                    "itemType": {"type": "string"},
                    "crs": {"type": "array", "items": {"type": "string"}},
                    "extent": {"type": "object"},
                    "links": links,
                },
            },
            "Collections": {
                "type": "object",
                "required": ["links", "collections"],
                "properties": {
                    "links": links,
                    "collections": {"type": "array", "items": _ref("Collection")},
                },
            },
            "Feature": feature,
            "FeatureCollection": {
                "type": "object",
                "required": ["type", "features"],
                "properties": {
                    "type": {"type": "string", "enum": ["FeatureCollection"]},
                    "features": {"type": "array", "items": _ref("Feature")},
                    "links": links,
                    "timeStamp": {"type": "string", "format": "date-time"},
                    "numberMatched": {"type": "integer", "minimum": 0},
                    "numberReturned": {"type": "integer", "minimum": 0},
                },
            },
            "Problem": {
                "type": "object",
                "description": "RFC 9457 problem details with the error code of API.md",
                "required": ["status", "code", "detail"],
                "properties": {
                    "type": {"type": "string"},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "detail": {"type": "string"},
                    "code": {"type": "string"},
                    "requestId": {"type": "string", "nullable": True},
                    "fields": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "field": {"type": "string"},
                                "message": {"type": "string"},
                            },
                        },
                    },
                },
            },
        },
        "securitySchemes": {
            "apiKey": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "mar_…",
                "description": "An API key made with `mar keys create`, sent as "
                "`Authorization: Bearer mar_…`. Without one a request has the `public` role "
                "(unless MAR_ANONYMOUS_ACCESS=false); a wrong or revoked key is 401.",
            }
        },
        "responses": {
            "Problem": {
                "description": "An error: which parameter, and why",
                **_json(_ref("Problem"), "application/problem+json"),
            }
        },
        "parameters": {
            "f": _query("f", "Output format (json or html)", formats),
            # GDAL's OAPIF driver and QGIS choose their page size from this maximum/default.
            "limit": _query(
                "limit",
                f"Features per page (default {default_limit}; above {max_limit} the maximum "
                "applies)",
                {"type": "integer", "minimum": 1, "maximum": max_limit, "default": default_limit},
            ),
            "offset": _query(
                "offset", "Features to skip", {"type": "integer", "minimum": 0, "maximum": 10000000}
            ),
            "bbox": {
                **_query(
                    "bbox",
                    "west,south,east,north in CRS84 (west > east crosses the antimeridian)",
                    {
                        "type": "array",
                        "minItems": 4,
                        "maxItems": 4,
                        "items": {"type": "number", "minimum": -180, "maximum": 180},
                    },
                ),
                "style": "form",
                "explode": False,
            },
            "bbox-crs": _query(
                "bbox-crs",
                "CRS of bbox, in its axis order (EPSG:4326: latitude first)",
                {"type": "string", "enum": list(crs.BBOX), "default": crs.CRS84_URI},
            ),
            "crs": _query(
                "crs",
                "CRS of the geometries returned (EPSG:4326: latitude first)",
                {"type": "string", "enum": list(crs.OUTPUT), "default": crs.CRS84_URI},
            ),
            "skipGeometry": _query(
                "skipGeometry", "Leave the geometries out", {"type": "boolean", "default": False}
            ),
            "datetime": _query(
                "datetime",
                "An instant or an interval start/end, '..' for an open end (RFC 3339)",
                string_param,
            ),
            "sortby": _query("sortby", "Queryables, comma-separated; '-' descending", string_param),
            "filter": _query(
                "filter", "CQL2 over the queryables, as text or as JSON (filter-lang)", string_param
            ),
            "filter-lang": _query(
                "filter-lang",
                "Filter language",
                {"type": "string", "enum": ["cql2-text", "cql2-json"], "default": "cql2-text"},
            ),
            "filter-crs": _query("filter-crs", "CRS of filter (CRS84 only)", string_param),
            "featureId": {
                "name": "featureId",
                "in": "path",
                "required": True,
                "description": "The record's code",
                "schema": string_param,
            },
        },
    }


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


@lru_cache(maxsize=4)
def document_without_server(default_limit: int = 1000, max_limit: int = 10_000) -> dict[str, Any]:
    """Return the OpenAPI document (without `servers`, which depends on the request)."""
    paths = {**_ogc_paths(), **_ogc_tiles_paths(), **_data_paths(), **_other_paths()}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Mine Action Records – REST",
            "version": "1.0.0",
            "description": "OGC API – Features and the REST endpoints of Mine Action Records. "
            "Errors are application/problem+json (RFC 9457) with the codes of the GraphQL API.",
        },
        "paths": _secured(paths),
        "components": _components(default_limit, max_limit),
    }


# Operations that need a key (an editor's or an admin's); where a key only widens what is
# answered (the operation lists 401 for a bad one), it is optional.
KEY_REQUIRED: list[dict[str, list[str]]] = [{"apiKey": []}]
KEY_OPTIONAL: list[dict[str, list[str]]] = [{}, {"apiKey": []}]


def _secured(paths: dict[str, Any]) -> dict[str, Any]:
    """`paths` with each operation's security requirement, where a key matters to it."""
    out: dict[str, Any] = {}
    for path, item in paths.items():
        out[path] = {}
        for method, operation in item.items():
            if path.startswith("/imports/"):
                operation = {**operation, "security": KEY_REQUIRED}
            elif "401" in operation.get("responses", {}):
                operation = {**operation, "security": KEY_OPTIONAL}
            out[path][method] = operation
    return out


def document(
    server_url: str,
    served: Sequence[BaseRoute] | None = None,
    limits: tuple[int, int] = (1000, 10_000),
) -> dict[str, Any]:
    """Return the OpenAPI document for a server reached at `server_url`.

    With `served` (the app's routes), only the paths one of them answers are listed; `limits`
    are the OGC items' default and maximum `limit`.
    """
    whole = document_without_server(*limits)
    paths = whole["paths"]
    if served is not None:
        routes = [r for r in served if isinstance(r, Route)]
        paths = {
            path: item
            for path, item in paths.items()
            if any(r.matches(_scope(path, method))[0] == Match.FULL
                   for r in routes for method in item)
        }  # fmt: skip
    return {**whole, "paths": paths, "servers": [{"url": server_url}]}


def _scope(path: str, method: str) -> dict[str, Any]:
    concrete = re.sub(r"\{[^}]+\}", "1", path)
    return {"type": "http", "path": concrete, "method": method.upper()}


def ogc_document(
    server_url: str,
    served: Sequence[BaseRoute] | None = None,
    limits: tuple[int, int] = (1000, 10_000),
) -> dict[str, Any]:
    """Return the OGC API's own OpenAPI document: the /ogc paths, relative to `server_url`/ogc.

    Clients look the items path up relative to the landing page (GDAL's OAPIF driver reads
    `/collections/{id}/items` there to choose its page size from `limit`).
    """
    whole = document(server_url, served, limits)
    paths = {
        path.removeprefix("/ogc") or "/": item
        for path, item in whole["paths"].items()
        if path == "/ogc" or path.startswith("/ogc/")
    }
    return {**whole, "paths": paths, "servers": [{"url": f"{server_url}/ogc"}]}


def _limits(request: Request) -> tuple[int, int]:
    settings = request.app.state.settings
    return settings.ogc_default_limit, settings.ogc_max_limit


async def openapi_json(request: Request) -> JSONResponse:
    """GET /openapi.json: the endpoints this server answers."""
    server = public_base(request)
    body = document(server, request.app.routes, _limits(request))
    return JSONResponse(body, media_type=OPENAPI_JSON)


async def ogc_openapi_json(request: Request) -> JSONResponse:
    """GET /ogc/api: the OGC API's endpoints, as its landing page's service-desc."""
    body = ogc_document(public_base(request), request.app.routes, _limits(request))
    return JSONResponse(body, media_type=OPENAPI_JSON)
