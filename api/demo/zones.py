"""600 demo zones: clustered around hotspots, one per grid cell, so no two ever overlap."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import timedelta

from api.demo.admin import COLUMNS, PROVINCE_COLUMNS, PROVINCE_ROWS, ROWS, Cell, district_of
from api.demo.calendar import REFERENCE_DATE, WINDOW_START, day_between, stream
from api.demo.geometry import Shape, shape_in_cell
from api.demo.records import Zone

ZONE_COUNT = 600
HOTSPOTS_PER_PROVINCE = 8
SMALLEST_M2, LARGEST_M2 = 12_000.0, 145_000.0  # inside 1–15 ha with room for rounding

CONTAMINATION = ("AP_MINE", "AV_MINE", "CMR", "UXO", "AXO", "IED", "BOOBY_TRAP")
CONTAMINATION_WEIGHTS = (30, 10, 12, 25, 10, 8, 5)
LAND_USES = ("AGRICULTURAL", "GRAZING", "FOREST", "RESIDENTIAL", "INFRASTRUCTURE", "OTHER")
LAND_USE_WEIGHTS = (35, 20, 12, 10, 13, 10)
LAND_USE_NOUNS = {
    "AGRICULTURAL": "farmland",
    "GRAZING": "pasture",
    "FOREST": "woodland",
    "RESIDENTIAL": "settlement edge",
    "INFRASTRUCTURE": "road section",
    "OTHER": "open ground",
}
EVIDENCE = {
    "SHA": "Suspected from indirect evidence reported by the community.",
    "CHA": "Confirmed by direct evidence of explosive ordnance.",
}


@dataclass(frozen=True, slots=True)
class Hotspot:
    """A centre of contamination: zones and incidents gather around it."""

    column: float
    row: float
    spread: float
    weight: float
    kind: str


@dataclass(frozen=True, slots=True)
class PlacedZone:
    """A zone with the shape and grid cell it was drawn in."""

    zone: Zone
    shape: Shape
    cell: Cell


@dataclass(frozen=True, slots=True)
class ZoneMap:
    """The zones, the hotspots they gather around, and the cells they occupy."""

    zones: tuple[PlacedZone, ...]
    hotspots: tuple[Hotspot, ...]
    occupied: frozenset[tuple[int, int]]

    def is_free(self, cell: Cell) -> bool:
        """Tell whether no zone lies in the cell (a point there is outside every zone)."""
        return (cell.column, cell.row) not in self.occupied


def build_hotspots(rng: random.Random) -> tuple[Hotspot, ...]:
    """Return eight hotspots in every province, so every province has zones."""
    width, height = COLUMNS / PROVINCE_COLUMNS, ROWS / PROVINCE_ROWS
    hotspots = []
    for p_row in range(PROVINCE_ROWS):
        for p_col in range(PROVINCE_COLUMNS):
            for _ in range(HOTSPOTS_PER_PROVINCE):
                hotspots.append(
                    Hotspot(
                        column=p_col * width + rng.uniform(4, width - 4),
                        row=p_row * height + rng.uniform(4, height - 4),
                        spread=rng.uniform(1.5, 6.0),
                        weight=rng.uniform(0.5, 2.0),
                        kind=rng.choices(CONTAMINATION, weights=CONTAMINATION_WEIGHTS)[0],
                    )
                )
    return tuple(hotspots)


def cell_near(rng: random.Random, hotspots: tuple[Hotspot, ...]) -> tuple[Cell, Hotspot] | None:
    """Return a cell drawn around a weighted hotspot, or None when the draw left the region."""
    hotspot = rng.choices(hotspots, weights=[h.weight for h in hotspots])[0]
    column = math.floor(rng.gauss(hotspot.column, hotspot.spread))
    row = math.floor(rng.gauss(hotspot.row, hotspot.spread))
    if 0 <= column < COLUMNS and 0 <= row < ROWS:
        return Cell(column, row), hotspot
    return None


def contamination_for(rng: random.Random, hotspot: Hotspot) -> tuple[str, ...]:
    """Return one to three contamination kinds, usually led by the hotspot's, in canonical order."""
    first = hotspot.kind if rng.random() < 0.7 else _kind(rng)
    kinds = {first}
    for chance in (0.35, 0.1):
        if rng.random() < chance:
            kinds.add(_kind(rng))
    return tuple(kind for kind in CONTAMINATION if kind in kinds)


def _kind(rng: random.Random) -> str:
    return rng.choices(CONTAMINATION, weights=CONTAMINATION_WEIGHTS)[0]


def build_zone_map() -> ZoneMap:
    """Return 600 zones of 1–15 ha, each alone in its grid cell, with every kind of attribute."""
    rng = stream("zones")
    hotspots = build_hotspots(rng)
    occupied: set[tuple[int, int]] = set()
    placed: list[PlacedZone] = []
    # Many zones come from a baseline survey in the first months, the rest trickle in later.
    last_recorded = REFERENCE_DATE - timedelta(days=120)
    baseline_end = WINDOW_START + timedelta(days=180)
    while len(placed) < ZONE_COUNT:
        drawn = cell_near(rng, hotspots)
        if drawn is None or (drawn[0].column, drawn[0].row) in occupied:
            continue
        cell, hotspot = drawn
        occupied.add((cell.column, cell.row))
        number = len(placed) + 1
        area = math.exp(rng.uniform(math.log(SMALLEST_M2), math.log(LARGEST_M2)))
        shape = shape_in_cell(rng, cell, area)
        hazard_type = "SHA" if rng.random() < 0.55 else "CHA"
        contamination = contamination_for(rng, hotspot)
        land_use = rng.choices(LAND_USES, weights=LAND_USE_WEIGHTS)[0]
        district = district_of(cell)
        recorded_on = day_between(
            rng, WINDOW_START, baseline_end if rng.random() < 0.4 else last_recorded
        )
        words = ", ".join(kind.replace("_", " ").lower() for kind in contamination)
        zone = Zone(
            code=f"DEMO-HA-{number:06d}",
            name=f"Demo {LAND_USE_NOUNS[land_use]} {number:04d}",
            description=f"Synthetic demo zone. {EVIDENCE[hazard_type]} Contamination: {words}.",
            hazard_type=hazard_type,
            contamination=contamination,
            geometry=shape.geojson(),
            priority=rng.choices((1, 2, 3, 4, 5), weights=(10, 20, 35, 20, 15))[0],
            land_use=land_use,
            admin1=district.admin1,
            admin2=district.admin2,
            admin_pcode=district.admin_pcode,
            recorded_on=recorded_on,
        )
        placed.append(PlacedZone(zone=zone, shape=shape, cell=cell))
    return ZoneMap(zones=tuple(placed), hotspots=hotspots, occupied=frozenset(occupied))
