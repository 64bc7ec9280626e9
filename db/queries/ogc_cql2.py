"""CQL2 (the JSON form that cql2-text parses to) -> one parameterised SQL condition.

Basic CQL2 (comparisons, and/or/not, IS NULL), LIKE, IN, BETWEEN and the spatial operators;
properties come from the layer's allow-list, every literal becomes a typed $n parameter.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from db.instants import OutOfRange, parse_instant
from db.queries.ogc_layers import (
    BOOLEAN,
    DATE,
    INTEGER,
    NUMBER,
    ORDERABLE,
    TEXT,
    TEXT_ARRAY,
    TIMESTAMP,
    FilterError,
    Layer,
    Queryable,
)
from db.queries.sql import Params


def as_date(value: date | datetime) -> date:
    return value.astimezone(UTC).date() if isinstance(value, datetime) else value


def as_instant(value: date | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.combine(value, time(), UTC)


# ---------------------------------------------------------------------------------------------
# Literals and comparisons

COMPARISONS = {"=": "=", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
CASTS = {TEXT: "text", INTEGER: "numeric", NUMBER: "numeric", BOOLEAN: "boolean",
         DATE: "date", TIMESTAMP: "timestamptz"}  # fmt: skip
ARRAY_HAS = "{}::text = ANY({})"


def literal(kind: str, value: Any, where: str) -> Any:
    """Return `value` as the Python type a parameter of `kind` needs, or raise FilterError."""
    if isinstance(value, dict) and len(value) == 1:  # CQL2 JSON typed literals
        ((tag, inner),) = value.items()
        if tag in ("date", "timestamp") and kind in (DATE, TIMESTAMP):
            value = inner
    try:
        if kind in (TEXT, TEXT_ARRAY) and isinstance(value, str):
            return value
        if (
            kind in (INTEGER, NUMBER)
            and isinstance(value, int | float)
            and not isinstance(value, bool)
        ):
            if not math.isfinite(value):
                raise ValueError
            return Decimal(str(value))
        if kind == BOOLEAN and isinstance(value, bool):
            return value
        if kind == DATE and isinstance(value, str):
            return as_date(_instant(value))
        if kind == TIMESTAMP and isinstance(value, str):
            return as_instant(_instant(value))
    except OutOfRange as exc:
        raise FilterError(where, f"{json.dumps(value)} {exc}") from None
    except ValueError:
        pass
    raise FilterError(where, f"{json.dumps(value)} is not a valid {kind} for {where}")


def text_literal(kind: str, text: str, where: str) -> Any:
    """Return a value written in a URL (`priority=2`) as the type a parameter of `kind` needs."""
    value: Any = text
    if kind in (INTEGER, NUMBER):
        try:
            value = int(text) if kind == INTEGER else float(text)
        except ValueError:
            value = text
    elif kind == BOOLEAN and text.lower() in ("true", "false"):
        value = text.lower() == "true"
    return literal(kind, value, where)


def _instant(text: str) -> date | datetime:
    return date.fromisoformat(text) if len(text) == 10 else parse_instant(text)


def compare(queryable: Queryable, op: str, value: Any, params: Params, where: str) -> str:
    if queryable.kind == TEXT_ARRAY:
        if op != "=":
            raise FilterError(where, f"{where} is a list: only = (contains) applies to it")
        return ARRAY_HAS.format(params.add(value), queryable.sql)
    return f"{queryable.sql} {COMPARISONS[op]} {params.add(value)}::{CASTS[queryable.kind]}"


# ---------------------------------------------------------------------------------------------
# CQL2 (the JSON form cql2-text parses to) -> SQL

SPATIAL = {
    "s_intersects": "ST_Intersects",
    "s_disjoint": "ST_Disjoint",
    "s_contains": "ST_Contains",
    "s_within": "ST_Within",
    "s_touches": "ST_Touches",
    "s_crosses": "ST_Crosses",
    "s_overlaps": "ST_Overlaps",
    "s_equals": "ST_Equals",
}
GEOMETRY_LITERAL = "ST_SetSRID(ST_GeomFromGeoJSON({}), 4326)"
BBOX_LITERAL = "ST_MakeEnvelope({}, {}, {}, {}, 4326)"
GEOMETRY_TYPES = {
    "Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2,
    "Polygon": 2, "MultiPolygon": 3, "GeometryCollection": -1,
}  # fmt: skip
MAX_DEPTH = 40
PARAM = "filter"


class Cql2:
    """Translate one CQL2 JSON expression into a SQL condition over a layer's visible queryables."""

    def __init__(self, layer: Layer, visible: dict[str, Queryable], params: Params) -> None:
        self.layer = layer
        self.visible = visible
        self.params = params

    def condition(self, node: Any, depth: int = 0) -> str:
        """Return the SQL of a boolean CQL2 expression, or raise FilterError."""
        if depth > MAX_DEPTH:
            raise FilterError(PARAM, f"the filter nests deeper than {MAX_DEPTH} levels")
        if isinstance(node, bool):
            return "TRUE" if node else "FALSE"
        if not isinstance(node, dict) or "op" not in node:
            raise FilterError(PARAM, f"{json.dumps(node)} is not a condition")
        op, args = str(node["op"]).lower(), list(node.get("args") or [])
        if op in ("and", "or"):
            parts = [self.condition(arg, depth + 1) for arg in args]
            return "(" + f" {op.upper()} ".join(parts) + ")"
        if op == "not" and len(args) == 1:
            return f"(NOT {self.condition(args[0], depth + 1)})"
        if op in COMPARISONS and len(args) == 2:
            return self._comparison(op, args[0], args[1])
        if op == "isnull" and len(args) == 1:
            return f"({self._property(args[0])[1].sql} IS NULL)"
        if op == "like" and len(args) == 2:
            queryable = self._typed_property(args[0], TEXT, "LIKE")
            pattern = literal(TEXT, args[1], PARAM)
            return f"({queryable.sql} LIKE {self.params.add(pattern)}::text)"
        if op == "in" and len(args) == 2 and isinstance(args[1], list):
            name, queryable = self._property(args[0])
            if queryable.kind not in ORDERABLE or not args[1]:
                raise FilterError(PARAM, f"IN does not apply to {name}")
            values = [literal(queryable.kind, v, PARAM) for v in args[1]]
            cast = CASTS[queryable.kind]
            return f"({queryable.sql} = ANY({self.params.add(values)}::{cast}[]))"
        if op == "between" and len(args) == 3:
            name, queryable = self._property(args[0])
            if queryable.kind not in (INTEGER, NUMBER, DATE, TIMESTAMP):
                raise FilterError(PARAM, f"BETWEEN does not apply to {name}")
            low, high = (literal(queryable.kind, v, PARAM) for v in args[1:])
            cast = CASTS[queryable.kind]
            return (
                f"({queryable.sql} BETWEEN {self.params.add(low)}::{cast} "
                f"AND {self.params.add(high)}::{cast})"
            )
        if op in SPATIAL and len(args) == 2:
            return f"{SPATIAL[op]}({self._geometry(args[0])}, {self._geometry(args[1])})"
        raise FilterError(
            PARAM, f"the operator {node['op']!r} with {len(args)} arguments is not supported"
        )

    def _property(self, node: Any) -> tuple[str, Queryable]:
        if not (isinstance(node, dict) and set(node) == {"property"}):
            raise FilterError(PARAM, f"{json.dumps(node)} is not a property name")
        name = str(node["property"])
        queryable = self.visible.get(name)
        if queryable is None:
            raise FilterError(PARAM, f"{name!r} is not a queryable of {self.layer.name}")
        return name, queryable

    def _typed_property(self, node: Any, kind: str, what: str) -> Queryable:
        name, queryable = self._property(node)
        if queryable.kind != kind:
            raise FilterError(PARAM, f"{what} does not apply to {name}")
        return queryable

    def _comparison(self, op: str, left: Any, right: Any) -> str:
        if _is_property(right) and not _is_property(left):  # literal op property
            left, right = right, left
            op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
        name, queryable = self._property(left)
        if _is_property(right):
            other_name, other = self._property(right)
            if queryable.kind != other.kind or queryable.kind == TEXT_ARRAY:
                raise FilterError(PARAM, f"{name} and {other_name} cannot be compared")
            return f"({queryable.sql} {COMPARISONS[op]} {other.sql})"
        return (
            f"({compare(queryable, op, literal(queryable.kind, right, PARAM), self.params, PARAM)})"
        )

    def _geometry(self, node: Any) -> str:
        if isinstance(node, dict) and node.get("property") == "geometry" and len(node) == 1:
            return self.layer.geometry
        if isinstance(node, dict) and set(node) == {"bbox"}:
            box = node["bbox"]
            if not (isinstance(box, list) and len(box) in (4, 6)):
                raise FilterError(PARAM, "BBOX takes 4 or 6 numbers")
            corners = box if len(box) == 4 else [box[0], box[1], box[3], box[4]]
            check_bbox(corners, PARAM)
            return BBOX_LITERAL.format(*(self.params.add(float(v)) for v in corners))
        if isinstance(node, dict) and node.get("type") in GEOMETRY_TYPES:
            check_geometry(node)
            return GEOMETRY_LITERAL.format(self.params.add(json.dumps(node)))
        if _is_property(node):
            raise FilterError(PARAM, f"{node['property']!r} is not a geometry; use 'geometry'")
        raise FilterError(PARAM, f"{json.dumps(node)[:80]} is not a geometry")


def _is_property(node: Any) -> bool:
    return isinstance(node, dict) and set(node) == {"property"}


def check_bbox(values: list[Any], parameter: str) -> tuple[float, float, float, float]:
    """Return (west, south, east, north) when they are finite degrees, south <= north."""
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        raise FilterError(parameter, "the bounding box needs numbers")
    west, south, east, north = (float(v) for v in values)
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        raise FilterError(parameter, "the bounding box needs finite numbers")
    if not (-180 <= west <= 180 and -180 <= east <= 180):
        raise FilterError(parameter, "longitudes must lie between -180 and 180")
    if not (-90 <= south <= north <= 90):
        raise FilterError(parameter, "latitudes must lie between -90 and 90, south <= north")
    return west, south, east, north


def check_geometry(node: dict[str, Any]) -> None:
    """Raise FilterError unless `node` is a GeoJSON geometry PostGIS can use as it is."""
    kind = node["type"]
    if kind == "GeometryCollection":
        members = node.get("geometries")
        if not isinstance(members, list) or not members:
            raise FilterError(PARAM, "a geometry collection needs geometries")
        for member in members:
            if not (isinstance(member, dict) and member.get("type") in GEOMETRY_TYPES):
                raise FilterError(PARAM, "a geometry collection holds geometries only")
            check_geometry(member)
        return
    _check_coordinates(node.get("coordinates"), GEOMETRY_TYPES[kind], kind)


def _check_coordinates(coords: Any, depth: int, kind: str) -> None:
    if depth == 0:
        if not (isinstance(coords, list) and len(coords) in (2, 3)):
            raise FilterError(PARAM, f"a position of a {kind} needs 2 or 3 numbers")
        check_bbox([coords[0], coords[1], coords[0], coords[1]], PARAM)
        return
    if not isinstance(coords, list) or not coords:
        raise FilterError(PARAM, f"a {kind} needs coordinates")
    for part in coords:
        _check_coordinates(part, depth - 1, kind)
    line = kind == "LineString" or (kind == "MultiLineString" and depth == 1)
    if line and len(coords) < 2:
        raise FilterError(PARAM, "a line needs at least 2 positions")
    ring = kind in ("Polygon", "MultiPolygon") and depth == 1
    if ring and (len(coords) < 4 or coords[0] != coords[-1]):
        raise FilterError(
            PARAM, "a polygon ring needs 4 positions or more, the last equal to the first"
        )
