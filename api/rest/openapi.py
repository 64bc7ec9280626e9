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
            }
        )
    return out


def _ogc_paths() -> dict[str, Any]:
    items_params = [
        _param(n)
        for n in ("f", "limit", "offset", "bbox", "bbox-crs", "datetime", "sortby")
        + ("filter", "filter-lang", "filter-crs")
    ]
    paths: dict[str, Any] = {
        "/ogc": _get(
            "OGC API landing page",
            "ogc_landing",
            _ok("Landing page", _ref("Landing")),
            [_param("f")],
            400,
        ),
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
            items_params + _queryable_params(layer),
            400,
        )
        paths[f"{base}/items/{{featureId}}"] = _get(
            f"One feature of {layer.name} by its code",
            f"ogc_item_{layer.name}",
            _ok("The feature", _ref("Feature"), "application/geo+json"),
            [_param("featureId"), _param("f")],
            400,
            404,
        )
    return paths


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
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "operationId": "openapi",
                "tags": ["meta"],
                "responses": {"200": {"description": "OpenAPI 3.0", **_json(plain)}},
            }
        },
    }


def _components() -> dict[str, Any]:
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
    geometry = {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}}}
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
        "responses": {
            "Problem": {
                "description": "An error: which parameter, and why",
                **_json(_ref("Problem"), "application/problem+json"),
            }
        },
        "parameters": {
            "f": _query("f", "Output format (json or html)", formats),
            "limit": _query(
                "limit",
                "Features per page (default 100; above 10000 the maximum applies)",
                {"type": "integer", "minimum": 1, "maximum": 10000, "default": 100},
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
            "bbox-crs": _query("bbox-crs", "CRS of bbox (CRS84 only)", string_param),
            "datetime": _query(
                "datetime",
                "An instant or an interval start/end, '..' for an open end (RFC 3339)",
                string_param,
            ),
            "sortby": _query("sortby", "Queryables, comma-separated; '-' descending", string_param),
            "filter": _query("filter", "CQL2 text over the queryables", string_param),
            "filter-lang": _query(
                "filter-lang", "Filter language", {"type": "string", "enum": ["cql2-text"]}
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


@lru_cache(maxsize=1)
def document_without_server() -> dict[str, Any]:
    """Return the OpenAPI document (without `servers`, which depends on the request)."""
    paths = {**_ogc_paths(), **_data_paths(), **_other_paths()}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Mine Action Records – REST",
            "version": "1.0.0",
            "description": "OGC API – Features and the REST endpoints of Mine Action Records. "
            "Errors are application/problem+json (RFC 9457) with the codes of the GraphQL API.",
        },
        "paths": paths,
        "components": _components(),
    }


def document(server_url: str, served: Sequence[BaseRoute] | None = None) -> dict[str, Any]:
    """Return the OpenAPI document for a server reached at `server_url`.

    With `served` (the app's routes), only the paths one of them answers are listed.
    """
    whole = document_without_server()
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


async def openapi_json(request: Request) -> JSONResponse:
    """GET /openapi.json: the endpoints this server answers."""
    server = public_base(request)
    return JSONResponse(document(server, request.app.routes), media_type=OPENAPI_JSON)
