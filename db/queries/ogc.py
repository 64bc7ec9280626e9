"""SQL for the OGC API – Features collections: filters (bbox, datetime, CQL2) and GeoJSON.

Every feature is built in SQL (json_build_object + ST_AsGeoJSON); Python only wraps a page of
them. Column and property names come from the allow-lists of db/queries/ogc_layers.py, values
always travel as $n. `conditions()` and `order_by()` are shared by the items endpoint and exports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from db.queries.ogc_cql2 import Cql2, as_date, as_instant, compare, text_literal
from db.queries.ogc_crs import CRS84, Crs
from db.queries.ogc_layers import (
    DATE,
    INCIDENTS,
    LAYERS,
    ORDERABLE,
    ZONES,
    FilterError,
    Layer,
    Queryable,
)
from db.queries.sql import Params, where_clause

__all__ = [
    "INCIDENTS", "LAYERS", "ZONES", "Bound", "FilterError", "ItemFilter", "Layer", "Output"
]  # fmt: skip


@dataclass(frozen=True)
class Bound:
    """One end of a datetime interval: a calendar date or an aware instant; None is open."""

    value: date | datetime | None


@dataclass(frozen=True)
class ItemFilter:
    """What a list of features asks for; the defaults select everything."""

    bbox: tuple[float, float, float, float] | None = None  # west, south, east, north (CRS84)
    interval: tuple[Bound, Bound] | None = None  # start, end (an instant has both equal)
    equals: dict[str, str] = field(default_factory=dict)  # queryable -> value as the URL has it
    cql2: Any = None  # a CQL2 JSON expression (parsed from cql2-text)
    sortby: tuple[tuple[str, bool], ...] = ()  # (queryable, descending)
    include_private: bool = False  # the caller may see private properties (not the public role)


@dataclass(frozen=True)
class Output:
    """How features are written: the CRS, which properties (None: all visible), the geometry."""

    crs: Crs = CRS84
    properties: tuple[str, ...] | None = None  # visible queryables, in the order asked for
    skip_geometry: bool = False


# ---------------------------------------------------------------------------------------------
# WHERE conditions

ENVELOPE = "{g} && ST_MakeEnvelope({}, {}, {}, {}, 4326)"
DATE_FROM, DATE_TO = "{c} >= {}::date", "{c} <= {}::date"
TS_FROM, TS_TO, TS_BEFORE = (
    "{c} >= {}::timestamptz",
    "{c} <= {}::timestamptz",
    "{c} < {}::timestamptz",
)


def conditions(layer: Layer, item_filter: ItemFilter, params: Params) -> list[str]:
    """Return the WHERE conditions of `item_filter` on `layer`, adding values to `params`.

    Raise FilterError naming the parameter when a value does not fit the layer.
    """
    out: list[str] = []
    if item_filter.bbox is not None:
        out.append(_bbox(layer.geometry, item_filter.bbox, params))
    if item_filter.interval is not None:
        temporal = layer.queryables[layer.temporal]
        out.extend(_interval(temporal, item_filter.interval, params))
    visible = layer.visible(item_filter.include_private)
    for name, value in item_filter.equals.items():
        queryable = visible.get(name)
        if queryable is None:
            raise FilterError(name, f"{name} is not a queryable of {layer.name}")
        out.append(compare(queryable, "=", text_literal(queryable.kind, value, name), params, name))
    if item_filter.cql2 is not None:
        out.append(Cql2(layer, visible, params).condition(item_filter.cql2))
    return out


def _bbox(geometry: str, bbox: tuple[float, float, float, float], params: Params) -> str:
    west, south, east, north = bbox
    if west <= east:
        return ENVELOPE.format(*(params.add(v) for v in bbox), g=geometry)
    # Crossing the antimeridian: the part east of `west` and the part west of `east`.
    first = ENVELOPE.format(*(params.add(v) for v in (west, south, 180.0, north)), g=geometry)
    second = ENVELOPE.format(*(params.add(v) for v in (-180.0, south, east, north)), g=geometry)
    return f"({first} OR {second})"


def _interval(queryable: Queryable, interval: tuple[Bound, Bound], params: Params) -> list[str]:
    start, end = interval
    out: list[str] = []
    if queryable.kind == DATE:
        if start.value is not None:
            out.append(DATE_FROM.format(params.add(as_date(start.value)), c=queryable.sql))
        if end.value is not None:
            out.append(DATE_TO.format(params.add(as_date(end.value)), c=queryable.sql))
        return out
    if start.value is not None:
        out.append(TS_FROM.format(params.add(as_instant(start.value)), c=queryable.sql))
    if isinstance(end.value, datetime):
        out.append(TS_TO.format(params.add(end.value), c=queryable.sql))
    elif end.value is not None and end.value < date.max:  # a whole day: to the next midnight
        out.append(
            TS_BEFORE.format(params.add(as_instant(end.value + timedelta(days=1))), c=queryable.sql)
        )
    return out


# ---------------------------------------------------------------------------------------------
# Statements

DEFAULT_ORDER = "{a}.id"


def order_by(layer: Layer, item_filter: ItemFilter) -> str:
    """Return the ORDER BY list: the requested sort keys, then the id for a stable order."""
    visible = layer.visible(item_filter.include_private)
    keys: list[str] = []
    for name, descending in item_filter.sortby:
        queryable = visible.get(name)
        if queryable is None or queryable.kind not in ORDERABLE:
            raise FilterError("sortby", f"{name!r} is not a sortable queryable of {layer.name}")
        keys.append(f"{queryable.sql} {'DESC' if descending else 'ASC'} NULLS LAST")
    keys.append(DEFAULT_ORDER.format(a=layer.alias))
    return ", ".join(keys)


def feature_json(layer: Layer, include_private: bool, output: Output = Output()) -> str:
    """Return the SQL expression of one GeoJSON Feature (json) of a row of `layer`."""
    visible = layer.visible(include_private)
    names = list(visible) if output.properties is None else output.properties
    pairs = ", ".join(f"'{name}', {visible[name].output or visible[name].sql}" for name in names)
    geometry = (
        "NULL::json"
        if output.skip_geometry
        else f"ST_AsGeoJSON({output.crs.geometry(layer.geometry)})::json"
    )
    return (
        f"json_build_object('type', 'Feature', 'id', {layer.alias}.code, "
        f"'geometry', {geometry}, "
        f"'properties', json_build_object({pairs}))"
    )


def features_page(
    layer: Layer,
    item_filter: ItemFilter,
    params: Params,
    limit: int,
    offset: int,
    output: Output = Output(),
) -> str:
    """Return the statement answering one row: matched (count), returned, features (json text).

    The features are a JSON array, in order, built entirely in SQL. The page's ids are chosen
    first: the rows skipped by OFFSET are never turned into GeoJSON.
    """
    where = where_clause(conditions(layer, item_filter, params))
    order = order_by(layer, item_filter)
    source = f"{layer.table} AS {layer.alias}"
    return f"""
SELECT (SELECT count(*) FROM {source} {where}) AS matched,
       count(*)::int AS returned,
       COALESCE(json_agg({feature_json(layer, item_filter.include_private, output)}
                         ORDER BY k.n), '[]'::json)::text AS features
FROM (
  SELECT {layer.alias}.id, row_number() OVER (ORDER BY {order}) AS n
  FROM {source} {where}
  ORDER BY {order}
  LIMIT {params.add(limit)} OFFSET {params.add(offset)}
) AS k
JOIN {source} ON {layer.alias}.id = k.id
"""


def feature_by_code(layer: Layer, include_private: bool, output: Output = Output()) -> str:
    """Return the statement answering the feature (json text) with code $1, or no row."""
    return (
        f"SELECT {feature_json(layer, include_private, output)}::text "
        f"FROM {layer.table} AS {layer.alias} WHERE {layer.alias}.code = $1"
    )


def extent(layer: Layer) -> str:
    """Return the statement answering the layer's bounding box and temporal extent (text)."""
    temporal = layer.queryables[layer.temporal]
    return f"""
SELECT ST_XMin(e.box) AS west, ST_YMin(e.box) AS south, ST_XMax(e.box) AS east,
       ST_YMax(e.box) AS north, e.first, e.last
FROM (SELECT ST_Extent({layer.geometry}) AS box,
             min({temporal.sql}) AS first, max({temporal.sql}) AS last
      FROM {layer.table} AS {layer.alias}) AS e
"""
