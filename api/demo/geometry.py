"""Polygons and points for the demo set: each zone stays strictly inside its own grid cell."""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass

from api.demo.admin import CELL_DEG, Cell

# Metres per degree near the equator on WGS 84: close enough to the spheroid for the demo
# region (lat < 2 degrees) that the areas PostGIS computes differ by well under one percent.
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON_EQUATOR = 111_319.49
MARGIN_M = 30.0  # empty border kept inside every cell, so shapes in neighbouring cells never touch
DECIMALS = 7  # about 1 cm


@dataclass(frozen=True, slots=True)
class Shape:
    """A star-shaped polygon around `centre`; `ring` is closed and counter-clockwise."""

    centre: tuple[float, float]
    ring: tuple[tuple[float, float], ...]
    approx_area_m2: float

    def geojson(self) -> str:
        """Return the shape as a GeoJSON MultiPolygon text."""
        ring = [[lon, lat] for lon, lat in self.ring]
        return json.dumps({"type": "MultiPolygon", "coordinates": [[ring]]}, separators=(",", ":"))

    def point_inside(self, rng: random.Random) -> tuple[float, float]:
        """Return a point strictly inside the shape."""
        # Every triangle (centre, v[i], v[i+1]) lies inside a polygon that is star-shaped around
        # its centre; shrinking towards the centre keeps the point off the boundary.
        i = rng.randrange(len(self.ring) - 1)
        (cx, cy), (ax, ay), (bx, by) = self.centre, self.ring[i], self.ring[i + 1]
        u, v = rng.random(), rng.random()
        if u + v > 1:
            u, v = 1 - u, 1 - v
        shrink = 0.85
        x = cx + shrink * (u * (ax - cx) + v * (bx - cx))
        y = cy + shrink * (u * (ay - cy) + v * (by - cy))
        return (round(x, DECIMALS), round(y, DECIMALS))


def m_per_deg_lon(lat: float) -> float:
    """Return metres per degree of longitude at the latitude."""
    return M_PER_DEG_LON_EQUATOR * math.cos(math.radians(lat))


def shape_in_cell(rng: random.Random, cell: Cell, area_m2: float) -> Shape:
    """Return an irregular 5–9-vertex polygon of about area_m2 strictly inside the cell."""
    n = rng.randint(5, 9)
    step = 2 * math.pi / n
    start = rng.uniform(0, 2 * math.pi)
    # Jitter below half a step keeps the angles increasing: the ring is simple and CCW.
    angles = [start + i * step + rng.uniform(-0.3, 0.3) * step for i in range(n)]
    radii = [rng.uniform(0.6, 1.0) for _ in range(n)]
    unit_area = 0.5 * sum(
        radii[i] * radii[(i + 1) % n] * math.sin((angles[(i + 1) % n] - angles[i]) % (2 * math.pi))
        for i in range(n)
    )
    scale = math.sqrt(area_m2 / unit_area)
    reach = scale * max(radii)
    lon0, lat0 = cell.centre
    kx, ky = m_per_deg_lon(lat0), M_PER_DEG_LAT
    slack_x = CELL_DEG * kx / 2 - reach - MARGIN_M
    slack_y = CELL_DEG * ky / 2 - reach - MARGIN_M
    if slack_x < 0 or slack_y < 0:
        raise ValueError(f"a shape of {area_m2:.0f} m2 does not fit in a cell")
    cx_m, cy_m = rng.uniform(-slack_x, slack_x), rng.uniform(-slack_y, slack_y)
    ring = [
        (
            round(lon0 + (cx_m + scale * r * math.cos(a)) / kx, DECIMALS),
            round(lat0 + (cy_m + scale * r * math.sin(a)) / ky, DECIMALS),
        )
        for r, a in zip(radii, angles, strict=True)
    ]
    ring.append(ring[0])
    centre = (lon0 + cx_m / kx, lat0 + cy_m / ky)
    return Shape(centre=centre, ring=tuple(ring), approx_area_m2=area_m2)


def point_in_cell(rng: random.Random, cell: Cell) -> tuple[float, float]:
    """Return a point inside the cell, away from its edges."""
    inset = 0.1 * CELL_DEG
    return (
        round(rng.uniform(cell.west + inset, cell.west + CELL_DEG - inset), DECIMALS),
        round(rng.uniform(cell.south + inset, cell.south + CELL_DEG - inset), DECIMALS),
    )


def point_geojson(point: tuple[float, float]) -> str:
    """Return the point as a GeoJSON Point text."""
    return json.dumps({"type": "Point", "coordinates": list(point)}, separators=(",", ":"))
