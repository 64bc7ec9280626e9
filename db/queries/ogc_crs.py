"""The coordinate reference systems of OGC API – Features Part 2: names, axis order, SQL.

Geometries are stored in EPSG:4326 with longitude first, i.e. as CRS84. A requested CRS changes
only how a geometry is written (ST_Transform, or swapped axes for EPSG:4326's latitude first) and
how a bbox is read (converted to CRS84 exactly, before any SQL is built).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from db.queries.ogc_layers import FilterError

CRS84_URI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CRS84H_URI = "http://www.opengis.net/def/crs/OGC/0/CRS84h"
EPSG4326_URI = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG3857_URI = "http://www.opengis.net/def/crs/EPSG/0/3857"
EARTH_RADIUS_M = 6_378_137.0  # the sphere of EPSG:3857 (WGS 84 semi-major axis)


@dataclass(frozen=True)
class Crs:
    """A CRS clients may ask for: its URI, its SRID, and whether latitude comes first."""

    uri: str
    srid: int
    latitude_first: bool = False

    def geometry(self, column: str) -> str:
        """Return the SQL expression of `column` (stored as CRS84) in this CRS."""
        if self.srid != 4326:
            return f"ST_Transform({column}, {self.srid})"
        if self.latitude_first:
            return f"ST_FlipCoordinates({column})"
        return column


CRS84 = Crs(CRS84_URI, 4326)
EPSG4326 = Crs(EPSG4326_URI, 4326, latitude_first=True)
EPSG3857 = Crs(EPSG3857_URI, 3857)
# What `crs` may name (the order of the collections' `crs` lists), and what `bbox-crs` may name.
OUTPUT = {crs.uri: crs for crs in (CRS84, EPSG4326, EPSG3857)}
BBOX = {**OUTPUT, CRS84H_URI: CRS84}


def bbox_to_crs84(
    corners: tuple[float, float, float, float], crs: Crs
) -> tuple[float, float, float, float]:
    """Return (west, south, east, north) in degrees of a bbox written in `crs`'s axis order.

    EPSG:3857's axes are independent (x gives the longitude, y the latitude), so its rectangles
    are rectangles in degrees and the conversion is exact. Raise FilterError outside the world.
    """
    first_low, second_low, first_high, second_high = corners
    if crs.srid == 3857:
        # Checked before converting: far outside the world, sinh() overflows.
        if not all(abs(value) <= WORLD_HALF_M for value in corners):
            raise FilterError(
                "bbox", "x and y must lie between -20037508.34 and 20037508.34 metres"
            )
        west, east = (_longitude(x) for x in (first_low, first_high))
        south, north = (_latitude(y) for y in (second_low, second_high))
        return west, south, east, north
    if crs.latitude_first:
        return second_low, first_low, second_high, first_high
    return first_low, second_low, first_high, second_high


# Half the width of the Web Mercator world in metres (and the y of latitude ±85.05°), with room
# for the rounding of clients that write it with fewer digits.
WORLD_HALF_M = 20037508.342789244 + 0.01


def _longitude(x: float) -> float:
    # Rounded to 1e-9 degree so that ±20037508.342789244 m is exactly ±180.
    return round(math.degrees(x / EARTH_RADIUS_M), 9)


def _latitude(y: float) -> float:
    return math.degrees(math.atan(math.sinh(y / EARTH_RADIUS_M)))
