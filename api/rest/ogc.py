"""OGC API – Features (Part 1 Core/GeoJSON/HTML/OAS 3.0, Part 2 CRS, Part 3 CQL2) under /ogc.

Collections `zones` and `incidents`; a feature's id is the record's code. Pages of features are
built in SQL as one JSON array; this module only adds the collection's metadata and links.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from api.errors import BadUserInput, FieldError, NotFoundError, Problems
from api.headers import CSP
from api.hosts import public_base, public_url
from api.rest import filters, html, ogc_tiles, openapi
from api.rest.ogc_output import PARAMETERS, read_output
from api.rest.ogc_queryables import queryables_schema
from db.queries import ogc as sql
from db.queries.ogc import Layer, Output
from db.queries.ogc_crs import OUTPUT
from db.queries.sql import Params

GEOJSON = "application/geo+json"
SCHEMA_JSON = "application/schema+json"
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"
MAX_OFFSET = 10_000_000
CRS84 = filters.CRS84

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-operators",
    *ogc_tiles.CONFORMANCE,
]
TITLES = {"zones": "Hazardous areas (zones)", "incidents": "Mine and ERW incidents"}
DESCRIPTIONS = {
    "zones": "Suspected and confirmed hazardous areas, with their status and remaining area.",
    "incidents": "Accidents with mines and explosive remnants of war; casualties as counts only.",
}


def _role(request: Request) -> str:
    """The caller's role; `public` until the access middleware sets `request.state.role`."""
    return str(getattr(request.state, "role", "public"))


def _base(request: Request) -> str:
    return public_base(request) + "/ogc"


def wants_html(request: Request) -> bool:
    """Whether to answer HTML: `f=html`, or a browser's Accept without `f`; a bad `f` is a 400."""
    chosen = request.query_params.get("f")
    if chosen is not None:
        if chosen not in ("json", "geojson", "html"):
            raise BadUserInput([FieldError("f", "give json or html")])
        return chosen == "html"
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "json" not in accept


def _answer(request: Request, body: dict[str, Any], media_type: str, title: str) -> Response:
    if wants_html(request):
        return _html(html.page(title, body, _base(request)))
    return JSONResponse(body, media_type=media_type)


def _html(page: str) -> HTMLResponse:
    return HTMLResponse(page, headers={CSP: html.POLICY})


def _link(href: str, rel: str, media_type: str, title: str) -> dict[str, str]:
    return {"href": href, "rel": rel, "type": media_type, "title": title}


async def landing(request: Request) -> Response:
    """The landing page: what the API is and where its parts are."""
    base = _base(request)
    body = {
        "title": "Mine Action Records – OGC API Features",
        "description": "Hazardous areas and incidents of mine action, for GIS clients.",
        "links": [
            _link(base, "self", "application/json", "This document"),
            _link(f"{base}?f=html", "alternate", "text/html", "This document as HTML"),
            # Paths relative to this page, as OGC clients read them (the whole service's
            # document is /openapi.json).
            _link(f"{base}/api", "service-desc", OPENAPI_JSON, "The OpenAPI document"),
            _link(f"{base}/conformance", "conformance", "application/json", "Conformance"),
            _link(f"{base}/collections", "data", "application/json", "Collections"),
            *ogc_tiles.landing_links(base),
        ],
    }
    return _answer(request, body, "application/json", "OGC API Features")


async def conformance(request: Request) -> Response:
    """The conformance classes the API really implements."""
    return _answer(request, {"conformsTo": CONFORMANCE}, "application/json", "Conformance")


async def _collection(request: Request, layer: Layer) -> dict[str, Any]:
    base = _base(request)
    async with request.app.state.db.acquire() as conn:
        box = await conn.fetchrow(sql.extent(layer))
    href = f"{base}/collections/{layer.name}"
    spatial: dict[str, Any] = {"crs": CRS84}
    if box is not None and box["west"] is not None:
        spatial["bbox"] = [[box["west"], box["south"], box["east"], box["north"]]]
    else:
        spatial["bbox"] = [[-180.0, -90.0, 180.0, 90.0]]
    interval: list[str | None] = [None, None]
    if box is not None and box["first"] is not None:
        interval = [_rfc3339(box["first"]), _rfc3339(box["last"])]
    return {
        "id": layer.name,
        "title": TITLES[layer.name],
        "description": DESCRIPTIONS[layer.name],
        "itemType": "feature",
        "crs": list(OUTPUT),
        "storageCrs": CRS84,
        "extent": {
            "spatial": spatial,
            "temporal": {"interval": [interval], "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"},
        },
        "links": [
            _link(href, "self", "application/json", "This collection"),
            _link(f"{href}/items", "items", GEOJSON, "Features as GeoJSON"),
            _link(f"{href}/items?f=html", "items", "text/html", "Features as HTML"),
            _link(f"{href}/queryables", "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                  SCHEMA_JSON, "Queryables"),
            *ogc_tiles.collection_links(base, layer.name),
        ],
    }  # fmt: skip


def _rfc3339(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{value.isoformat()}T00:00:00Z"


async def collections(request: Request) -> Response:
    """Every collection with its extent."""
    base = _base(request)
    body = {
        "links": [
            _link(f"{base}/collections", "self", "application/json", "Collections"),
            _link(f"{base}/collections?f=html", "alternate", "text/html", "Collections as HTML"),
        ],
        "collections": [await _collection(request, layer) for layer in sql.LAYERS.values()],
    }
    return _answer(request, body, "application/json", "Collections")


async def collection(request: Request) -> Response:
    """One collection with its extent."""
    layer = filters.layer_of(request.path_params["collection"])
    body = await _collection(request, layer)
    return _answer(request, body, "application/json", TITLES[layer.name])


async def queryables(request: Request) -> Response:
    """The properties a filter may use, as a JSON Schema."""
    layer = filters.layer_of(request.path_params["collection"])
    href = f"{_base(request)}/collections/{layer.name}/queryables"
    body = queryables_schema(layer, filters.sees_private(_role(request)), href)
    return _answer(request, body, SCHEMA_JSON, f"Queryables of {layer.name}")


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    """Read a whole-number parameter; over `high` is `high` (OGC: a too large limit is no error)."""
    text = request.query_params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError("give a whole number") from None
    if value < low:
        raise ValueError(f"give a number from {low}")
    if value > high and name != "limit":
        raise ValueError(f"give a number up to {high}")
    return min(value, high)


async def items(request: Request) -> Response:
    """A page of features: filters, numberMatched/numberReturned, next/prev links."""
    layer = filters.layer_of(request.path_params["collection"])
    problems = Problems(prefix="")
    settings = request.app.state.settings
    numbers = {
        "limit": (settings.ogc_default_limit, 1, settings.ogc_max_limit),
        "offset": (0, 0, MAX_OFFSET),
    }
    chosen: dict[str, int] = {}
    for name, (default, low, high) in numbers.items():
        try:
            chosen[name] = _int(request, name, default, low, high)
        except ValueError as exc:
            problems.add(name, str(exc))
    role = _role(request)
    output = read_output(layer, request.query_params, filters.sees_private(role), problems)
    try:
        as_html = wants_html(request)
        wanted = filters.item_filter(layer, request.query_params, role, allowed=PARAMETERS)
    except BadUserInput as exc:
        problems.fields.extend(exc.fields)
    problems.raise_if_any()
    limit, offset = chosen["limit"], chosen["offset"]
    params = Params()
    statement = sql.features_page(layer, wanted, params, limit, offset, output)
    async with request.app.state.db.acquire() as conn:
        row = await conn.fetchrow(statement, *params.values)
    matched, returned, features = row["matched"], row["returned"], row["features"]
    links = _page_links(request, layer, limit, offset, returned, matched)
    head = {
        "type": "FeatureCollection",
        "numberMatched": matched,
        "numberReturned": returned,
        "timeStamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "links": links,
    }
    if as_html:
        page = {**head, "features": json.loads(features)}
        return _html(html.page(TITLES[layer.name], page, _base(request)))
    # The features stay the text PostgreSQL built; only the envelope is serialised here.
    envelope = json.dumps(head, separators=(",", ":"))
    body = f'{envelope[:-1]},"features":{features}}}'
    return Response(body, media_type=GEOJSON, headers=_content_crs(output))


def _content_crs(output: Output) -> dict[str, str]:
    """The Content-Crs header of Part 2: the CRS of the coordinates, as a URI in angle brackets."""
    return {"Content-Crs": f"<{output.crs.uri}>"}


def _page_links(
    request: Request, layer: Layer, limit: int, offset: int, returned: int, matched: int
) -> list[dict[str, str]]:
    url = URL(public_url(request))
    links = [
        _link(str(url), "self", GEOJSON, "This page"),
        _link(str(url.include_query_params(f="html")), "alternate", "text/html", "As HTML"),
        _link(f"{_base(request)}/collections/{layer.name}", "collection", "application/json",
              TITLES[layer.name]),
    ]  # fmt: skip
    if offset + returned < matched:
        links.append(_link(_paged(url, offset + limit, limit), "next", GEOJSON, "Next page"))
    if offset > 0:
        before = _paged(url, max(offset - limit, 0), limit)
        links.append(_link(before, "prev", GEOJSON, "Previous page"))
    return links


def _paged(url: URL, offset: int, limit: int) -> str:
    """`url` at another page: the client's other parameters kept as it wrote them.

    Clients that add their own parameters to every request (GDAL) look for them verbatim in
    the links before adding them again; re-encoded, they would be sent twice.
    """
    kept = [
        part
        for part in url.query.split("&")
        if part and part.split("=", 1)[0] not in ("offset", "limit", "f")
    ]
    query = "&".join([*kept, f"offset={offset}", f"limit={limit}"])
    return str(url.replace(query=query))


async def item(request: Request) -> Response:
    """One feature by its code."""
    layer = filters.layer_of(request.path_params["collection"])
    code = request.path_params["fid"]
    include_private = filters.sees_private(_role(request))
    problems = Problems(prefix="")
    output = read_output(layer, request.query_params, include_private, problems)
    try:
        as_html = wants_html(request)
    except BadUserInput as exc:
        problems.fields.extend(exc.fields)
    problems.raise_if_any()
    async with request.app.state.db.acquire() as conn:
        feature = await conn.fetchval(sql.feature_by_code(layer, include_private, output), code)
    if feature is None:
        raise NotFoundError(f"{layer.name} has no feature {code!r}")
    href = f"{_base(request)}/collections/{layer.name}"
    links = [
        _link(f"{href}/items/{code}", "self", GEOJSON, "This feature"),
        _link(href, "collection", "application/json", TITLES[layer.name]),
    ]
    body: dict[str, Any] = json.loads(feature)
    body["links"] = links
    if as_html:
        return _html(html.page(code, body, _base(request)))
    return JSONResponse(body, media_type=GEOJSON, headers=_content_crs(output))


ROUTES = [
    Route("/ogc", landing, methods=["GET"]),
    Route("/ogc/", landing, methods=["GET"]),
    Route("/ogc/api", openapi.ogc_openapi_json, methods=["GET"]),
    Route("/ogc/conformance", conformance, methods=["GET"]),
    Route("/ogc/collections", collections, methods=["GET"]),
    Route("/ogc/collections/{collection}", collection, methods=["GET"]),
    Route("/ogc/collections/{collection}/queryables", queryables, methods=["GET"]),
    Route("/ogc/collections/{collection}/items", items, methods=["GET"]),
    Route("/ogc/collections/{collection}/items/{fid}", item, methods=["GET"]),
    *ogc_tiles.ROUTES,
]
