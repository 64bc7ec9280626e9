"""Checking GeoJSON geometries a client sends, before PostGIS ever parses them."""

from __future__ import annotations

import json
import math
from typing import Any

from api.errors import Problems
from db.pool import Connection
from db.queries import geometry as geometry_sql

MAX_POSITIONS = 100_000
# What numeric(14, 2) holds, and far more than any hazardous area (the largest are some hundreds
# of km²): 10^12 m² is 1 000 000 km², about the size of Egypt.
MAX_AREA_M2 = 10**12


class _Invalid(Exception):
    pass


def _position(value: Any) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) not in (2, 3):
        raise _Invalid("each position must be [longitude, latitude]")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        raise _Invalid("coordinates must be numbers")
    lon, lat = float(value[0]), float(value[1])
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise _Invalid("coordinates must be finite numbers")
    if not -180.0 <= lon <= 180.0:
        raise _Invalid(f"longitude {lon} is outside -180..180")
    if not -90.0 <= lat <= 90.0:
        raise _Invalid(f"latitude {lat} is outside -90..90")
    return lon, lat


def _ring(value: Any) -> int:
    if not isinstance(value, list) or len(value) < 4:
        raise _Invalid("each ring must have at least four positions")
    positions = [_position(p) for p in value]
    if positions[0] != positions[-1]:
        raise _Invalid("each ring must end where it starts")
    for (west, _), (east, _) in zip(positions, positions[1:], strict=False):
        # Between two positions 180° apart the edge could run either way round the globe
        # (PostGIS cannot measure it on the spheroid); further apart, it is the long way round,
        # a band around the globe, which no client means: it meant to cross the antimeridian.
        if abs(west - east) >= 180:
            raise _Invalid(
                f"has an edge from longitude {west:g} to {east:g}, 180° or more apart: an area "
                "that crosses the antimeridian must be split there into polygons on either side "
                "of it (RFC 7946 §3.1.9), given as one MultiPolygon"
            )
    return len(positions)


def _polygon(value: Any) -> int:
    if not isinstance(value, list) or not value:
        raise _Invalid("a polygon must be a non-empty list of rings")
    return sum(_ring(r) for r in value)


def _point(value: Any) -> int:
    _position(value)
    return 1


def _multipolygon(value: Any) -> int:
    if not isinstance(value, list) or not value:
        raise _Invalid("a MultiPolygon must be a non-empty list of polygons")
    return sum(_polygon(p) for p in value)


_SHAPES = {"Point": _point, "Polygon": _polygon, "MultiPolygon": _multipolygon}


def structure_problem(value: Any, allowed: tuple[str, ...]) -> str | None:
    """Return why `value` is not a GeoJSON geometry of an allowed type, or None when it is."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return "is not GeoJSON"
    if not isinstance(value, dict):
        return "must be a GeoJSON geometry object"
    kind = value.get("type")
    if kind not in allowed:
        return f"must be a {' or '.join(allowed)}, not {kind!r}"
    if "crs" in value:
        return "must be in WGS 84 longitude/latitude without a crs member (RFC 7946)"
    try:
        count = _SHAPES[kind](value.get("coordinates"))
    except _Invalid as reason:
        return str(reason)
    if count > MAX_POSITIONS:
        return f"has {count} positions; at most {MAX_POSITIONS} are accepted"
    return None


async def check_geometry(
    conn: Connection, value: Any, field: str, allowed: tuple[str, ...], problems: Problems
) -> str | None:
    """Return the geometry as GeoJSON text when it is well formed and valid, else record why."""
    reason = structure_problem(value, allowed)
    if reason is not None:
        problems.add(field, reason)
        return None
    text = value if isinstance(value, str) else json.dumps(value)
    row = await conn.fetchrow(geometry_sql.CHECK_GEOJSON, text)
    assert row is not None
    if row["is_empty"]:
        problems.add(field, "must not be empty")
        return None
    if not row["is_valid"]:
        problems.add(field, f"is not a valid geometry: {row['reason']}")
        return None
    if round(row["area_m2"], 2) >= MAX_AREA_M2:
        problems.add(
            field,
            f"has an area of {row['area_m2']:.0f} m²; "
            "an area must be below 10^12 m² (1 000 000 km²)",
        )
        return None
    return text
