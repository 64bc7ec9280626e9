"""Statistics for dashboards: casualties, land released and devices found, counted in the database.

Each query runs one SQL statement (db/queries/statistics.py) that answers the totals and every
group at once; nothing is counted in Python.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

import asyncpg
import strawberry

from api.errors import Problems, QueryTooComplex
from api.graphql.context import Info
from api.graphql.enums import (
    AgeGroup,
    CasualtyCategory,
    DeviceCategory,
    Disposal,
    HazardType,
    IncidentType,
    Outcome,
    ReleaseMethod,
    Sex,
)
from api.graphql.ids import parse_id
from api.graphql.inputs import BBox
from db.queries import statistics as sql
from db.queries.sql import Params

# More groups than this is a question for an export, not a dashboard.
MAX_GROUPS = 10_000

SERIES = "Grouped by MONTH alone with both `from` and `to`, every month between them is listed, "
SERIES += "with zeros where nothing was recorded."
ORDER = "Groups come in a stable order: by their values, enumerations in declared order "
ORDER += "(UNKNOWN last), months and years in time order, admin1 alphabetically, none last."


@strawberry.enum(description="A way of grouping casualties.")
class CasualtyDimension(Enum):
    OUTCOME = "OUTCOME"
    CATEGORY = "CATEGORY"
    SEX = "SEX"
    AGE_GROUP = "AGE_GROUP"
    MONTH = "MONTH"
    YEAR = "YEAR"
    ADMIN1 = "ADMIN1"
    INCIDENT_TYPE = "INCIDENT_TYPE"
    DEVICE_CATEGORY = "DEVICE_CATEGORY"


@strawberry.enum(description="A way of grouping land releases.")
class LandReleaseDimension(Enum):
    METHOD = "METHOD"
    MONTH = "MONTH"
    YEAR = "YEAR"
    ADMIN1 = "ADMIN1"


@strawberry.enum(description="A way of grouping devices found.")
class DeviceDimension(Enum):
    CATEGORY = "CATEGORY"
    DISPOSAL = "DISPOSAL"
    MONTH = "MONTH"
    YEAR = "YEAR"
    ADMIN1 = "ADMIN1"


def _check_range(start: date | None, end: date | None, problems: Problems) -> None:
    """Record a range whose start lies after its end, on both of its fields."""
    if start is not None and end is not None and start > end:
        problems.add("from", "must not be after `to`")
        problems.add("to", "must not be before `from`")


@strawberry.input(description="Which casualties to count; the dates are the incident's.")
class CasualtyFilter:
    from_: date | None = strawberry.field(
        default=None, name="from", description="Incidents on or after this date."
    )
    to: date | None = strawberry.field(
        default=None, description="Incidents on or before this date."
    )
    incident_type: list[IncidentType] | None = strawberry.field(
        default=None, description="Incidents of any of these types."
    )
    admin1: str | None = strawberry.field(
        default=None, description="Incidents in this admin1 area."
    )
    zone_id: strawberry.ID | None = strawberry.field(
        default=None, description="Incidents linked to this zone."
    )
    bbox: BBox | None = strawberry.field(
        default=None, description="Incidents whose location lies in the box."
    )

    def criteria(self) -> sql.CasualtyCriteria:
        """Return the data layer's criteria, or raise BadUserInput naming each bad field."""
        problems = Problems("filter")
        _check_range(self.from_, self.to, problems)
        bbox = self.bbox.check("bbox", problems) if self.bbox else None
        zone_id = parse_id(self.zone_id, "filter.zoneId") if self.zone_id is not None else None
        problems.raise_if_any()
        return sql.CasualtyCriteria(
            occurred_from=self.from_,
            occurred_to=self.to,
            incident_type=_values(self.incident_type),
            admin1=self.admin1,
            zone_id=zone_id,
            bbox=bbox,
        )


@strawberry.input(description="Which land releases to add up, and which zones are in scope.")
class LandReleaseFilter:
    from_: date | None = strawberry.field(
        default=None, name="from", description="Released on or after this date."
    )
    to: date | None = strawberry.field(default=None, description="Released on or before this date.")
    admin1: str | None = strawberry.field(default=None, description="Zones in this admin1 area.")
    hazard_type: list[HazardType] | None = strawberry.field(
        default=None, description="Zones of any of these hazard types."
    )
    zone_id: strawberry.ID | None = None

    def criteria(self) -> sql.LandReleaseCriteria:
        """Return the data layer's criteria, or raise BadUserInput naming each bad field."""
        problems = Problems("filter")
        _check_range(self.from_, self.to, problems)
        zone_id = parse_id(self.zone_id, "filter.zoneId") if self.zone_id is not None else None
        problems.raise_if_any()
        return sql.LandReleaseCriteria(
            released_from=self.from_,
            released_to=self.to,
            admin1=self.admin1,
            hazard_type=_values(self.hazard_type),
            zone_id=zone_id,
        )


@strawberry.input(description="Which device finds to add up; the dates are the reports'.")
class DeviceFilter:
    from_: date | None = strawberry.field(
        default=None, name="from", description="Reports on or after this date."
    )
    to: date | None = strawberry.field(default=None, description="Reports on or before this date.")
    admin1: str | None = strawberry.field(
        default=None, description="Finds in zones of this admin1 area."
    )
    zone_id: strawberry.ID | None = None

    def criteria(self) -> sql.DeviceCriteria:
        """Return the data layer's criteria, or raise BadUserInput naming each bad field."""
        problems = Problems("filter")
        _check_range(self.from_, self.to, problems)
        zone_id = parse_id(self.zone_id, "filter.zoneId") if self.zone_id is not None else None
        problems.raise_if_any()
        return sql.DeviceCriteria(
            reported_from=self.from_, reported_to=self.to, admin1=self.admin1, zone_id=zone_id
        )


@strawberry.type(description="Casualties in one group; a dimension not grouped by is null.")
class CasualtyGroup:
    outcome: Outcome | None = None
    category: CasualtyCategory | None = None
    sex: Sex | None = None
    age_group: AgeGroup | None = None
    month: str | None = strawberry.field(default=None, description='The month, as "YYYY-MM".')
    year: int | None = None
    admin1: str | None = None
    incident_type: IncidentType | None = None
    device_category: DeviceCategory | None = None
    count: int = 0


@strawberry.type(description=f"Casualties counted (people, not incidents). {ORDER} {SERIES}")
class CasualtyStatistics:
    total: int
    killed: int
    injured: int
    groups: list[CasualtyGroup]


@strawberry.type(description="Land released in one group; a dimension not grouped by is null.")
class LandReleaseGroup:
    method: ReleaseMethod | None = None
    month: str | None = strawberry.field(default=None, description='The month, as "YYYY-MM".')
    year: int | None = None
    admin1: str | None = strawberry.field(default=None, description="The zone's admin1.")
    releases: int = strawberry.field(default=0, description="How many releases.")
    cancelled_m2: float = 0.0
    reduced_m2: float = 0.0
    cleared_m2: float = 0.0
    released_m2: float = strawberry.field(default=0.0, description="All three methods, in m².")


@strawberry.type(description=f"Land released, in m², by method. {ORDER} {SERIES}")
class LandReleaseStatistics:
    cancelled_m2: float = strawberry.field(description="Released by non-technical survey.")
    reduced_m2: float = strawberry.field(description="Released by technical survey.")
    cleared_m2: float = strawberry.field(description="Released by clearance.")
    released_m2: float = strawberry.field(description="All three methods.")
    remaining_m2: float = strawberry.field(
        description="The current remaining area of the zones in scope (the zone filters apply, "
        "the date range does not)."
    )
    progress: float = strawberry.field(
        description="releasedM2 ÷ (releasedM2 + remainingM2), from 0 to 1; 0 (never null) when "
        "both are 0."
    )
    groups: list[LandReleaseGroup]


@strawberry.type(description="Devices found in one group; a dimension not grouped by is null.")
class DeviceGroup:
    category: DeviceCategory | None = None
    disposal: Disposal | None = None
    month: str | None = strawberry.field(default=None, description='The month, as "YYYY-MM".')
    year: int | None = None
    admin1: str | None = strawberry.field(default=None, description="The zone's admin1.")
    count: int = strawberry.field(default=0, description="Devices (the finds' quantities).")
    finds: int = strawberry.field(default=0, description="How many finds were reported.")


@strawberry.type(description=f"Devices found, from progress reports. {ORDER} {SERIES}")
class DeviceStatistics:
    total: int = strawberry.field(description="Devices found (the finds' quantities).")
    finds: int = strawberry.field(description="How many finds were reported.")
    groups: list[DeviceGroup]


E = TypeVar("E", bound=Enum)

# The arguments' default, `[]` in the schema: shared, so never changed in place.
NO_CASUALTY_DIMENSIONS: list[CasualtyDimension] = []
NO_LAND_RELEASE_DIMENSIONS: list[LandReleaseDimension] = []
NO_DEVICE_DIMENSIONS: list[DeviceDimension] = []


def _values(items: list[E] | None) -> list[str] | None:
    return [item.value for item in items] if items is not None else None


def _dimensions(
    group_by: list[E] | None, known: dict[str, sql.Dimension]
) -> dict[str, sql.Dimension]:
    """The asked dimensions in the asked order, each once."""
    return {d.value: known[d.value] for d in group_by or ()}


def _month(value: date | None) -> str | None:
    return None if value is None else f"{value.year:04d}-{value.month:02d}"


def _keys(row: asyncpg.Record, names: dict[str, str]) -> dict[str, Any]:
    """The group's dimension values (null when not grouped by), as the GraphQL field names."""
    out: dict[str, Any] = {}
    for dimension, field in names.items():
        key = f"k_{dimension.lower()}"
        value = row.get(key)
        out[field] = _month(value) if dimension == "MONTH" else value
    return out


async def _run(info: Info, statement: str, params: Params) -> list[asyncpg.Record]:
    """Run the statement; refuse an answer of more than MAX_GROUPS groups."""
    async with info.context.db.acquire() as conn:
        rows = await conn.fetch(statement, *params.values)
    if len(rows) > MAX_GROUPS + 1:
        raise QueryTooComplex(
            f"more than {MAX_GROUPS} groups: group by fewer dimensions or narrow the filter"
        )
    return rows


def _series(group_by: list[E] | None, start: date | None, end: date | None) -> bool:
    return start is not None and end is not None and [d.value for d in group_by or ()] == ["MONTH"]


CASUALTY_FIELDS = {
    "OUTCOME": "outcome",
    "CATEGORY": "category",
    "SEX": "sex",
    "AGE_GROUP": "age_group",
    "MONTH": "month",
    "YEAR": "year",
    "ADMIN1": "admin1",
    "INCIDENT_TYPE": "incident_type",
    "DEVICE_CATEGORY": "device_category",
}
CASUALTY_ENUMS: dict[str, type[Enum]] = {
    "outcome": Outcome,
    "category": CasualtyCategory,
    "sex": Sex,
    "age_group": AgeGroup,
    "incident_type": IncidentType,
    "device_category": DeviceCategory,
}


def _typed(values: dict[str, Any], enums: dict[str, type[Enum]]) -> dict[str, Any]:
    return {k: enums[k](v) if k in enums and v is not None else v for k, v in values.items()}


async def casualty_statistics(
    info: Info,
    filter: CasualtyFilter | None = None,
    group_by: list[CasualtyDimension] | None = NO_CASUALTY_DIMENSIONS,
) -> CasualtyStatistics:
    """Casualties (people) counted: total, killed, injured, and per group."""
    criteria = filter.criteria() if filter else sql.CasualtyCriteria()
    group_by = group_by or []
    params = Params()
    statement = sql.casualty_statistics(
        criteria,
        _dimensions(group_by, sql.CASUALTY_DIMENSIONS),
        params,
        series=_series(group_by, criteria.occurred_from, criteria.occurred_to),
        limit=MAX_GROUPS + 2,
    )
    rows = await _run(info, statement, params)
    total, groups = rows[0], rows[1:]
    names = {d.value: CASUALTY_FIELDS[d.value] for d in group_by}
    return CasualtyStatistics(
        total=total["count"],
        killed=total["killed"],
        injured=total["injured"],
        groups=[
            CasualtyGroup(count=r["count"], **_typed(_keys(r, names), CASUALTY_ENUMS))
            for r in groups
        ],
    )


def _m2(value: Decimal | int) -> float:
    return float(value)


async def land_release_statistics(
    info: Info,
    filter: LandReleaseFilter | None = None,
    group_by: list[LandReleaseDimension] | None = NO_LAND_RELEASE_DIMENSIONS,
) -> LandReleaseStatistics:
    """Land released by method, the remaining area of the zones in scope, and the progress."""
    criteria = filter.criteria() if filter else sql.LandReleaseCriteria()
    group_by = group_by or []
    params = Params()
    statement = sql.land_release_statistics(
        criteria,
        _dimensions(group_by, sql.LAND_RELEASE_DIMENSIONS),
        params,
        series=_series(group_by, criteria.released_from, criteria.released_to),
        limit=MAX_GROUPS + 2,
    )
    rows = await _run(info, statement, params)
    total, groups = rows[0], rows[1:]
    released, remaining = _m2(total["released_m2"]), _m2(total["remaining_m2"])
    names = {d.value: d.value.lower() for d in group_by}
    return LandReleaseStatistics(
        cancelled_m2=_m2(total["cancelled_m2"]),
        reduced_m2=_m2(total["reduced_m2"]),
        cleared_m2=_m2(total["cleared_m2"]),
        released_m2=released,
        remaining_m2=remaining,
        progress=released / (released + remaining) if released + remaining > 0 else 0.0,
        groups=[
            LandReleaseGroup(
                releases=r["releases"],
                cancelled_m2=_m2(r["cancelled_m2"]),
                reduced_m2=_m2(r["reduced_m2"]),
                cleared_m2=_m2(r["cleared_m2"]),
                released_m2=_m2(r["released_m2"]),
                **_typed(_keys(r, names), {"method": ReleaseMethod}),
            )
            for r in groups
        ],
    )


async def device_statistics(
    info: Info,
    filter: DeviceFilter | None = None,
    group_by: list[DeviceDimension] | None = NO_DEVICE_DIMENSIONS,
) -> DeviceStatistics:
    """Devices found and reported in progress reports: total and per group."""
    criteria = filter.criteria() if filter else sql.DeviceCriteria()
    group_by = group_by or []
    params = Params()
    statement = sql.device_statistics(
        criteria,
        _dimensions(group_by, sql.DEVICE_DIMENSIONS),
        params,
        series=_series(group_by, criteria.reported_from, criteria.reported_to),
        limit=MAX_GROUPS + 2,
    )
    rows = await _run(info, statement, params)
    total, groups = rows[0], rows[1:]
    names = {d.value: d.value.lower() for d in group_by}
    enums: dict[str, type[Enum]] = {"category": DeviceCategory, "disposal": Disposal}
    return DeviceStatistics(
        total=total["count"],
        finds=total["finds"],
        groups=[
            DeviceGroup(count=r["count"], finds=r["finds"], **_typed(_keys(r, names), enums))
            for r in groups
        ],
    )


@strawberry.type
class StatisticsQueries:
    casualty_statistics: CasualtyStatistics = strawberry.field(resolver=casualty_statistics)
    land_release_statistics: LandReleaseStatistics = strawberry.field(
        resolver=land_release_statistics
    )
    device_statistics: DeviceStatistics = strawberry.field(resolver=device_statistics)
