"""The synthetic administrative map: six provinces of four districts over open water."""

from __future__ import annotations

from dataclasses import dataclass

# The demo region lies in the Gulf of Guinea off Null Island (0, 0): nobody lives there, so no
# reader can mistake the set for a real place. Grid cells are 0.01 degree (about 1.1 km) squares.
CELL_DEG = 0.01
WEST, SOUTH = 0.2, 0.2
COLUMNS, ROWS = 150, 140  # lon 0.2..1.7, lat 0.2..1.6
PROVINCE_COLUMNS, PROVINCE_ROWS = 3, 2
DISTRICT_SPLIT = 2  # each province is split 2 x 2 into districts
PROVINCE_LETTERS = "ABCDEF"


@dataclass(frozen=True, slots=True)
class District:
    """One district with its province: names and humanitarian P-code."""

    admin1: str
    admin2: str
    admin_pcode: str


@dataclass(frozen=True, slots=True)
class Cell:
    """One grid cell, addressed by column (west to east) and row (south to north)."""

    column: int
    row: int

    @property
    def west(self) -> float:
        """Longitude of the cell's western edge."""
        return WEST + self.column * CELL_DEG

    @property
    def south(self) -> float:
        """Latitude of the cell's southern edge."""
        return SOUTH + self.row * CELL_DEG

    @property
    def centre(self) -> tuple[float, float]:
        """(lon, lat) of the cell's centre."""
        return (self.west + CELL_DEG / 2, self.south + CELL_DEG / 2)


def district_of(cell: Cell) -> District:
    """Return the district that contains the cell (every cell of the grid is in exactly one)."""
    if not (0 <= cell.column < COLUMNS and 0 <= cell.row < ROWS):
        raise ValueError(f"cell {cell} is outside the demo region")
    province_width = COLUMNS // PROVINCE_COLUMNS
    province_height = ROWS // PROVINCE_ROWS
    p_col, p_row = cell.column // province_width, cell.row // province_height
    province = (PROVINCE_ROWS - 1 - p_row) * PROVINCE_COLUMNS + p_col  # A is north-west
    d_col = (cell.column % province_width) * DISTRICT_SPLIT // province_width
    d_row = (cell.row % province_height) * DISTRICT_SPLIT // province_height
    district = (DISTRICT_SPLIT - 1 - d_row) * DISTRICT_SPLIT + d_col
    letter = PROVINCE_LETTERS[province]
    return District(
        admin1=f"Demo Province {letter}",
        admin2=f"Demo District {letter}{district + 1}",
        admin_pcode=f"ZZ{province + 1:02d}{district + 1:02d}",
    )


def province_pcode(district: District) -> str:
    """Return the province P-code (first four characters of the district's)."""
    return district.admin_pcode[:4]
