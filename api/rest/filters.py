"""The filters of a feature list, read from a URL: bbox, datetime, sortby, queryables, CQL2.

Shared by the OGC items endpoint and the exports ("the same filters as the items endpoint"):

    layer = filters.layer_of("zones")                       # NotFoundError when unknown
    wanted = filters.item_filter(layer, request.query_params, role, allowed={"hxl"})
    params = Params()
    where = filters.where(layer, wanted, params)            # list of SQL conditions ($n values)
    order = filters.order(layer, wanted)                    # ORDER BY list ending with the id

`item_filter` validates everything (CQL2 text or JSON included) and raises BadUserInput naming
each bad parameter; `where`/`order` then translate it into parameterised SQL (db/queries/ogc.py).
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping
from datetime import UTC, date, datetime
from typing import Any

import cql2
from starlette.datastructures import QueryParams

from api.errors import BadUserInput, NotFoundError, Problems
from db.instants import OutOfRange, parse_date_or_instant
from db.queries import ogc as sql
from db.queries.ogc import LAYERS, Bound, FilterError, ItemFilter, Layer
from db.queries.ogc_cql2 import check_bbox, text_literal
from db.queries.ogc_crs import BBOX, CRS84_URI, CRS84H_URI, bbox_to_crs84
from db.queries.sql import Params

CRS84, CRS84H = CRS84_URI, CRS84H_URI
FILTER_LANGS = ("cql2-text", "cql2-json")
# Parameters of the items request that are not queryables.
RESERVED = frozenset(
    {"f", "limit", "offset", "bbox", "bbox-crs", "datetime", "sortby", "filter", "filter-lang",
     "filter-crs"}
)  # fmt: skip
MAX_FILTER_CHARS = 20_000
PRIVATE_ROLES = frozenset({"partner", "editor", "admin"})


def layer_of(collection: str) -> Layer:
    """Return the layer serving `collection`, or raise NotFoundError."""
    layer = LAYERS.get(collection)
    if layer is None:
        known = ", ".join(sorted(LAYERS))
        raise NotFoundError(f"collection {collection!r} does not exist (collections: {known})")
    return layer


def sees_private(role: str) -> bool:
    """Whether `role` may read the properties hidden from the public (incident description)."""
    return role in PRIVATE_ROLES


def item_filter(
    layer: Layer,
    query: Mapping[str, str] | QueryParams,
    role: str,
    *,
    allowed: Collection[str] = (),
) -> ItemFilter:
    """Read and check every filter parameter of a list request; raise BadUserInput naming each
    bad one. `allowed` names extra parameters of the endpoint (they are not queryables)."""
    problems = Problems(prefix="")
    include_private = sees_private(role)
    visible = layer.visible(include_private)
    repeated = query.getlist if isinstance(query, QueryParams) else None
    for name in query:
        if repeated is not None and len(repeated(name)) > 1:
            problems.add(name, "give this parameter once")
    equals: dict[str, str] = {}
    for name, value in query.items():
        if name in RESERVED or name in allowed:
            continue
        if name in visible:
            equals[name] = value
            try:
                text_literal(visible[name].kind, value, name)
            except FilterError as exc:
                problems.add(name, exc.message)
        else:
            problems.add(name, f"unknown parameter: not a queryable of {layer.name}")
    wanted = ItemFilter(
        bbox=_guard(problems, "bbox", _bbox, query),
        interval=_guard(problems, "datetime", _interval, query),
        equals=equals,
        cql2=_guard(problems, "filter", _cql2, query),
        sortby=_guard(problems, "sortby", _sortby, query) or (),
        include_private=include_private,
    )
    if query.get("filter-lang", "cql2-text") not in FILTER_LANGS:
        problems.add("filter-lang", "give cql2-text or cql2-json")
    if "bbox-crs" in query and query["bbox-crs"] not in BBOX:
        problems.add("bbox-crs", "give one of " + ", ".join(BBOX))
    if "filter-crs" in query and query["filter-crs"] != CRS84:
        problems.add("filter-crs", f"only {CRS84} is supported")
    problems.raise_if_any()
    # Translate once now, so that a value the layer cannot use is a 400 here, not later.
    try:
        where(layer, wanted, Params())
    except BadUserInput as exc:
        problems.fields.extend(exc.fields)
    try:
        order(layer, wanted)
    except BadUserInput as exc:
        problems.fields.extend(exc.fields)
    problems.raise_if_any()
    return wanted


def where(layer: Layer, wanted: ItemFilter, params: Params) -> list[str]:
    """Return the SQL conditions of `wanted`, values added to `params`; BadUserInput if unfit."""
    try:
        return sql.conditions(layer, wanted, params)
    except FilterError as exc:
        raise _bad(exc.parameter, exc.message) from exc


def order(layer: Layer, wanted: ItemFilter) -> str:
    """Return the ORDER BY list of `wanted` (the id last, for a stable order)."""
    try:
        return sql.order_by(layer, wanted)
    except FilterError as exc:
        raise _bad(exc.parameter, exc.message) from exc


def _bad(parameter: str, message: str) -> BadUserInput:
    problems = Problems(prefix="")
    problems.add(parameter, message)
    return BadUserInput(problems.fields)


def _guard(problems: Problems, name: str, reader: Any, query: Mapping[str, str]) -> Any:
    """Run `reader` on the parameter when given; record its FilterError/ValueError as a problem."""
    value = query.get(name)
    if value is None:
        return None
    try:
        return reader(value, query)
    except FilterError as exc:
        problems.add(name, exc.message)
    except ValueError as exc:
        problems.add(name, str(exc))
    return None


def _bbox(text: str, query: Mapping[str, str]) -> tuple[float, float, float, float] | None:
    crs = BBOX.get(query.get("bbox-crs", CRS84))
    if crs is None:
        return None  # an unknown bbox-crs is the problem reported
    parts = text.split(",")
    if len(parts) not in (4, 6):
        raise ValueError("give 4 numbers (west,south,east,north) or 6 with heights")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise ValueError("give 4 numbers (west,south,east,north) or 6 with heights") from None
    if not all(math.isfinite(n) for n in numbers):
        raise ValueError("the bounding box needs finite numbers")
    corners = numbers if len(numbers) == 4 else [numbers[0], numbers[1], numbers[3], numbers[4]]
    first_low, second_low, first_high, second_high = corners
    return check_bbox(
        list(bbox_to_crs84((first_low, second_low, first_high, second_high), crs)), "bbox"
    )


def _interval(text: str, _query: Mapping[str, str]) -> tuple[Bound, Bound]:
    ends = text.split("/")
    if len(ends) > 2:
        raise ValueError("give an instant or an interval start/end ('..' for an open end)")
    try:
        values = [None if end in ("", "..") else parse_date_or_instant(end) for end in ends]
    except OutOfRange as exc:
        raise ValueError(f"{text!r} {exc}") from None
    except ValueError:
        raise ValueError(
            f"{text!r} is not an RFC 3339 date, date-time or interval start/end"
        ) from None
    if len(values) == 1:
        if values[0] is None:
            raise ValueError("an instant cannot be open")
        return Bound(values[0]), Bound(values[0])
    start, end = values
    if start is not None and end is not None and _moment(start) > _moment(end):
        raise ValueError("the interval ends before it starts")
    return Bound(start), Bound(end)


def _moment(value: date | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime(*value.timetuple()[:3], tzinfo=UTC)


def _cql2(text: str, query: Mapping[str, str]) -> Any:
    if len(text) > MAX_FILTER_CHARS:
        raise ValueError(f"the filter is longer than {MAX_FILTER_CHARS} characters")
    lang = query.get("filter-lang", "cql2-text")
    if lang == "cql2-text":
        try:
            return cql2.parse_text(text).to_json()
        except (cql2.ParseError, cql2.ValidationError) as exc:
            raise ValueError(f"not valid CQL2 text: {_one_line(exc)}") from None
    if lang != "cql2-json":
        return None  # an unknown filter-lang is the problem reported
    try:
        # json first: it refuses what is no JSON at all with a plain message, and NaN/Infinity.
        json.loads(text, parse_constant=_no_constant)
        return cql2.parse_json(text).to_json()
    except RecursionError:
        raise ValueError("the filter nests too deep") from None
    except (ValueError, cql2.ParseError, cql2.ValidationError) as exc:
        raise ValueError(f"not valid CQL2 JSON: {_one_line(exc)}") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]


def _sortby(text: str, _query: Mapping[str, str]) -> tuple[tuple[str, bool], ...]:
    keys: list[tuple[str, bool]] = []
    for raw in text.split(","):
        item = raw.strip()
        descending = item.startswith("-")
        name = item.lstrip("+-").strip()
        if not name:
            raise ValueError("give property names separated by commas, '-' for descending")
        keys.append((name, descending))
    return tuple(keys)
