"""Input types shared by several lists: bounding boxes and distance searches."""

from __future__ import annotations

import math

import strawberry

from api.errors import Problems


@strawberry.input(description="A bounding box in WGS 84 degrees.")
class BBox:
    west: float
    south: float
    east: float
    north: float

    def check(self, field: str, problems: Problems) -> tuple[float, float, float, float] | None:
        """Return (west, south, east, north) when the box is sane, else record why not."""
        values = (self.west, self.south, self.east, self.north)
        if not all(math.isfinite(v) for v in values):
            problems.add(field, "coordinates must be finite numbers")
        elif not (-180 <= self.west <= 180 and -180 <= self.east <= 180):
            problems.add(field, "west and east must be within -180..180")
        elif not (-90 <= self.south <= 90 and -90 <= self.north <= 90):
            problems.add(field, "south and north must be within -90..90")
        elif self.west > self.east:
            problems.add(field, "west must not be greater than east")
        elif self.south > self.north:
            problems.add(field, "south must not be greater than north")
        else:
            return values
        return None


@strawberry.input(description="Within `meters` of a point, measured on the spheroid.")
class Near:
    lon: float
    lat: float
    meters: float

    def check(self, field: str, problems: Problems) -> tuple[float, float, float] | None:
        """Return (lon, lat, meters) when sane, else record why not."""
        if not all(math.isfinite(v) for v in (self.lon, self.lat, self.meters)):
            problems.add(field, "values must be finite numbers")
        elif not (-180 <= self.lon <= 180 and -90 <= self.lat <= 90):
            problems.add(field, "lon must be within -180..180 and lat within -90..90")
        elif not 0 <= self.meters <= 1_000_000:
            problems.add(field, "meters must be between 0 and 1000000")
        else:
            return (self.lon, self.lat, self.meters)
        return None
