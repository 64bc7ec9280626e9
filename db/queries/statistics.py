"""SQL for the statistics: one statement per call that counts in the database.

Every statement answers the total first (`is_total`), then one row per group in a stable order:
enumerations in their declared order (UNKNOWN last), months and years in time order, admin1
alphabetically with "no admin1" last. Grouping by MONTH alone between two dates also answers the
months without records (a series without holes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from db.queries.sql import Params

# Values in the order groups come in; tests check they follow the GraphQL enumerations.
OUTCOMES = ("KILLED", "INJURED", "UNKNOWN")
CASUALTY_CATEGORIES = ("CIVILIAN", "MILITARY", "DEMINER", "UNKNOWN")
SEXES = ("FEMALE", "MALE", "UNKNOWN")
AGE_GROUPS = ("CHILD", "ADULT", "UNKNOWN")
INCIDENT_TYPES = (
    "DEMINING_ACCIDENT",
    "MINE_ACCIDENT",
    "CLUSTER_ACCIDENT",
    "IED_ACCIDENT",
    "UXO_AXO_ACCIDENT",
    "STORED_AMMUNITION_ACCIDENT",
    "OTHER",
)
DEVICE_CATEGORIES = ("AP_MINE", "AV_MINE", "CMR", "UXO", "AXO", "IED", "SAA", "OTHER", "UNKNOWN")
RELEASE_METHODS = ("CANCELLED", "REDUCED", "CLEARED")
DISPOSALS = ("DESTROYED_IN_SITU", "REMOVED_AND_DESTROYED", "RENDERED_SAFE")


@dataclass(frozen=True)
class Dimension:
    """A way of grouping: the source column it reads, and its value computed from the source."""

    column: str
    value: str
    order: tuple[str, ...] | None = None  # declared order of the values; else natural order


MONTH = Dimension("month", "month")  # the first day of the month: a date
YEAR = Dimension("month", "extract(year FROM month)::int")
ADMIN1 = Dimension("admin1", "admin1")


def _enum(column: str, order: tuple[str, ...]) -> Dimension:
    return Dimension(column, column, order)


CASUALTY_DIMENSIONS: dict[str, Dimension] = {
    "OUTCOME": _enum("outcome", OUTCOMES),
    "CATEGORY": _enum("category", CASUALTY_CATEGORIES),
    "SEX": _enum("sex", SEXES),
    "AGE_GROUP": _enum("age_group", AGE_GROUPS),
    "MONTH": MONTH,
    "YEAR": YEAR,
    "ADMIN1": ADMIN1,
    "INCIDENT_TYPE": _enum("incident_type", INCIDENT_TYPES),
    "DEVICE_CATEGORY": _enum("device_category", DEVICE_CATEGORIES),
}
LAND_RELEASE_DIMENSIONS: dict[str, Dimension] = {
    "METHOD": _enum("method", RELEASE_METHODS),
    "MONTH": MONTH,
    "YEAR": YEAR,
    "ADMIN1": ADMIN1,
}
DEVICE_DIMENSIONS: dict[str, Dimension] = {
    "CATEGORY": _enum("category", DEVICE_CATEGORIES),
    "DISPOSAL": _enum("disposal", DISPOSALS),
    "MONTH": MONTH,
    "YEAR": YEAR,
    "ADMIN1": ADMIN1,
}


def grouped(
    ctes: str,
    measures: dict[str, str],
    dimensions: dict[str, Dimension],
    params: Params,
    *,
    series: tuple[date, date] | None = None,
    extra: str = "",
    limit: int,
) -> str:
    """Return the statement aggregating the rows of CTE `src` (defined in `ctes`).

    `measures` maps output names to aggregates; the first one decides whether a group is empty
    (a summary may hold zero counts). `series` (MONTH alone) adds the months without rows.
    `extra` adds columns computed once (e.g. a scalar subquery). At most `limit` rows come back.
    """
    keys = [f"{d.value} AS k_{name.lower()}" for name, d in dimensions.items()]
    aggregates = [f"coalesce({agg}, 0) AS {name}" for name, agg in measures.items()]
    if dimensions:
        first = next(iter(dimensions.values())).value
        values = ", ".join(d.value for d in dimensions.values())
        head = f"GROUPING({first}) = 1 AS is_total"
        group = f"GROUP BY GROUPING SETS ((), ({values}))"
    else:
        head, group = "true AS is_total", ""
    aggregate = f"SELECT {', '.join([head, *keys, *aggregates])} FROM src {group}"
    first_measure = next(iter(measures))
    extra_column = f", {extra}" if extra else ""
    if series is not None:
        names = ", ".join(measures)
        filled = ", ".join(f"coalesce(a.{name}, 0)" for name in measures)
        start, end = (params.add(day) for day in series)
        body = f"""
SELECT is_total, k_month, {names} FROM agg WHERE is_total
UNION ALL
SELECT false, m.month, {filled}
FROM (SELECT g::date AS month
      FROM generate_series(calendar_month({start}::date)::timestamp,
                           calendar_month({end}::date)::timestamp, interval '1 month') AS g) AS m
LEFT JOIN agg AS a ON NOT a.is_total AND a.k_month = m.month"""
        return f"""
WITH {ctes},
agg AS ({aggregate})
SELECT s.*{extra_column} FROM ({body}) AS s
ORDER BY s.is_total DESC, s.k_month
LIMIT {params.add(limit)}
"""
    order = ["is_total DESC"]
    for name, d in dimensions.items():
        key = f"k_{name.lower()}"
        if d.order is not None:
            key = f"array_position({params.add(list(d.order))}::text[], {key})"
        order.append(f"{key} NULLS LAST")
    return f"""
WITH {ctes},
agg AS ({aggregate})
SELECT agg.*{extra_column} FROM agg
WHERE is_total OR {first_measure} <> 0
ORDER BY {", ".join(order)}
LIMIT {params.add(limit)}
"""


# ---------------------------------------------------------------------------------------------
# Casualties: from a summary table when it has every column the call needs, else the records.


@dataclass(frozen=True)
class CasualtyCriteria:
    """Which casualties to count; every field left None does not filter."""

    occurred_from: date | None = None
    occurred_to: date | None = None
    incident_type: list[str] | None = None
    admin1: str | None = None
    zone_id: int | None = None
    bbox: tuple[float, float, float, float] | None = None  # west, south, east, north


@dataclass(frozen=True)
class Cube:
    """A summary table of casualty counts (column n) per combination of `columns`."""

    table: str
    columns: frozenset[str]


# Smallest first: the first that has every needed column serves the call.
CUBES = (
    Cube("casualty_counts_people", frozenset({"month", "outcome", "category", "sex", "age_group"})),
    Cube(
        "casualty_counts_all",
        frozenset(
            {
                "month",
                "admin1",
                "incident_type",
                "device_category",
                "outcome",
                "category",
                "sex",
                "age_group",
            }
        ),
    ),
)
PENDING_CHANGES = "casualty_count_changes"  # changes not yet folded into the cubes

# Each source column as read from the records (casualty c of incident i).
RECORD_COLUMNS = {
    "month": "calendar_month(i.occurred_on)",
    "admin1": "i.admin1",
    "incident_type": "i.incident_type",
    "device_category": "i.device_category",
    "outcome": "c.outcome",
    "category": "c.category",
    "sex": "c.sex",
    "age_group": "c.age_group",
}
RECORDS = "casualties AS c JOIN incidents AS i ON i.id = c.incident_id"
# For the few incidents of partial months: each one's casualties through the index on
# incident_id (OFFSET 0 keeps the planner from hashing the whole casualties table instead).
FEW_RECORDS = """incidents AS i CROSS JOIN LATERAL (
    SELECT c0.outcome, c0.category, c0.sex, c0.age_group FROM casualties AS c0
    WHERE c0.incident_id = i.id OFFSET 0) AS c"""
IN_BBOX = "i.location && ST_MakeEnvelope({}, {}, {}, {}, 4326)"


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month_start(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def split_range(
    start: date | None, end: date | None
) -> tuple[tuple[date | None, date | None] | None, list[tuple[date | None, date | None]]]:
    """Split the inclusive day range into whole months and the partial months at its edges.

    Returns ([first month, end month) or None, [edge day ranges [from, to)]); None is open.
    """
    stop = _after(end)
    low = start if start is None or start.day == 1 else _next_month_start(start)
    high = stop if stop is None or stop.day == 1 else _month_start(stop)
    if low is not None and high is not None and low >= high:
        return None, [(start, stop)]
    edges: list[tuple[date | None, date | None]] = []
    if start is not None and start != low:
        edges.append((start, low))
    if stop is not None and stop != high:
        edges.append((high, stop))
    return (low, high), edges


def casualty_statistics(
    criteria: CasualtyCriteria,
    dimensions: dict[str, Dimension],
    params: Params,
    *,
    series: bool,
    limit: int,
) -> str:
    """Return the statement counting casualties (total, killed, injured) per group."""
    needed = {d.column for d in dimensions.values()} | {"outcome", "month"}
    filtered = set()
    if criteria.admin1 is not None:
        filtered.add("admin1")
    if criteria.incident_type is not None:
        filtered.add("incident_type")
    columns = sorted(needed)
    cube = None
    if criteria.zone_id is None and criteria.bbox is None:
        cube = next((c for c in CUBES if needed | filtered <= c.columns), None)

    shared: list[str] = []  # conditions every part applies, on the source's own columns
    if criteria.admin1 is not None:
        shared.append(f"{{admin1}} = {params.add(criteria.admin1)}")
    if criteria.incident_type is not None:
        shared.append(f"{{incident_type}} = ANY({params.add(criteria.incident_type)}::text[])")

    def from_records(ranges: list[tuple[date | None, date | None]], few: bool = False) -> str:
        conditions = [c.format(**RECORD_COLUMNS) for c in shared]
        if criteria.zone_id is not None:
            conditions.append(f"i.zone_id = {params.add(criteria.zone_id)}")
        if criteria.bbox is not None:
            conditions.append(IN_BBOX.format(*(params.add(v) for v in criteria.bbox)))
        spans = []
        for low, high in ranges:
            span = []
            if low is not None:
                span.append(f"i.occurred_on >= {params.add(low)}")
            if high is not None:
                span.append(f"i.occurred_on < {params.add(high)}")
            if span:
                spans.append(f"({' AND '.join(span)})")
        if spans:
            conditions.append(f"({' OR '.join(spans)})")
        select = ", ".join(f"{RECORD_COLUMNS[c]} AS {c}" for c in columns)
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        return f"SELECT {select}, 1 AS n FROM {FEW_RECORDS if few else RECORDS} {where}"

    if cube is None:
        parts = [from_records([(criteria.occurred_from, _after(criteria.occurred_to))])]
    else:
        months, edges = split_range(criteria.occurred_from, criteria.occurred_to)
        parts = []
        if months is not None:
            conditions = [c.format(**{k: k for k in RECORD_COLUMNS}) for c in shared]
            low, high = months
            if low is not None:
                conditions.append(f"month >= {params.add(low)}")
            if high is not None:
                conditions.append(f"month < {params.add(high)}")
            where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
            select = ", ".join(columns)
            for table in (cube.table, PENDING_CHANGES):
                parts.append(f"SELECT {select}, n FROM {table} {where}")
        if edges:
            parts.append(from_records(edges, few=True))
    source = "\n  UNION ALL\n  ".join(parts)
    measures = {
        "count": "sum(n)",
        "killed": "sum(n) FILTER (WHERE outcome = 'KILLED')",
        "injured": "sum(n) FILTER (WHERE outcome = 'INJURED')",
    }
    span = None
    if series and criteria.occurred_from is not None and criteria.occurred_to is not None:
        span = (criteria.occurred_from, criteria.occurred_to)
    return grouped(
        f"src AS (\n  {source}\n)", measures, dimensions, params, series=span, limit=limit
    )


def _after(day: date | None) -> date | None:
    """The day after `day` (an exclusive end), None for an open end."""
    return None if day is None else date.fromordinal(day.toordinal() + 1)


# ---------------------------------------------------------------------------------------------
# Land releases: from the records (tens of thousands of rows at most).


@dataclass(frozen=True)
class LandReleaseCriteria:
    """Which releases to add up, and which zones' remaining area counts."""

    released_from: date | None = None
    released_to: date | None = None
    admin1: str | None = None
    hazard_type: list[str] | None = None
    zone_id: int | None = None


def land_release_statistics(
    criteria: LandReleaseCriteria,
    dimensions: dict[str, Dimension],
    params: Params,
    *,
    series: bool,
    limit: int,
) -> str:
    """Return the statement adding up released areas per method and group, with the remaining
    area of the zones in scope (the zone filters apply to it, the date range does not)."""
    zone_conditions = []
    if criteria.admin1 is not None:
        zone_conditions.append(f"z.admin1 = {params.add(criteria.admin1)}")
    if criteria.hazard_type is not None:
        zone_conditions.append(f"z.hazard_type = ANY({params.add(criteria.hazard_type)}::text[])")
    if criteria.zone_id is not None:
        zone_conditions.append(f"z.id = {params.add(criteria.zone_id)}")
    release_conditions = []
    if criteria.released_from is not None:
        release_conditions.append(f"r.released_on >= {params.add(criteria.released_from)}")
    if criteria.released_to is not None:
        release_conditions.append(f"r.released_on <= {params.add(criteria.released_to)}")
    zone_where = f"WHERE {' AND '.join(zone_conditions)}" if zone_conditions else ""
    release_where = f"WHERE {' AND '.join(release_conditions)}" if release_conditions else ""
    # The zones are joined only when their columns matter: most dashboards ask about them all.
    if zone_conditions or any(d.column == "admin1" for d in dimensions.values()):
        releases = "land_releases AS r JOIN scope AS s ON s.id = r.zone_id"
        admin1 = "s.admin1"
    else:
        releases, admin1 = "land_releases AS r", "NULL::text"
    ctes = f"""scope AS (
  SELECT z.id, z.admin1, z.remaining_area_m2 FROM zones AS z {zone_where}
),
src AS (
  SELECT r.method, calendar_month(r.released_on) AS month, {admin1} AS admin1, r.area_m2
  FROM {releases}
  {release_where}
)"""
    measures = {
        "releases": "count(*)",
        "cancelled_m2": "sum(area_m2) FILTER (WHERE method = 'CANCELLED')",
        "reduced_m2": "sum(area_m2) FILTER (WHERE method = 'REDUCED')",
        "cleared_m2": "sum(area_m2) FILTER (WHERE method = 'CLEARED')",
        "released_m2": "sum(area_m2)",
    }
    span = None
    if series and criteria.released_from is not None and criteria.released_to is not None:
        span = (criteria.released_from, criteria.released_to)
    remaining = "(SELECT coalesce(sum(remaining_area_m2), 0) FROM scope) AS remaining_m2"
    return grouped(ctes, measures, dimensions, params, series=span, extra=remaining, limit=limit)


# ---------------------------------------------------------------------------------------------
# Devices found, from the device finds of progress reports.


@dataclass(frozen=True)
class DeviceCriteria:
    """Which device finds to add up; every field left None does not filter."""

    reported_from: date | None = None
    reported_to: date | None = None
    admin1: str | None = None
    zone_id: int | None = None


def device_statistics(
    criteria: DeviceCriteria,
    dimensions: dict[str, Dimension],
    params: Params,
    *,
    series: bool,
    limit: int,
) -> str:
    """Return the statement adding up the quantities of devices found per group."""
    conditions = []
    if criteria.reported_from is not None:
        conditions.append(f"p.report_date >= {params.add(criteria.reported_from)}")
    if criteria.reported_to is not None:
        conditions.append(f"p.report_date <= {params.add(criteria.reported_to)}")
    if criteria.zone_id is not None:
        conditions.append(f"t.zone_id = {params.add(criteria.zone_id)}")
    if criteria.admin1 is not None:
        conditions.append(f"z.admin1 = {params.add(criteria.admin1)}")
    # Reports, tasks and zones are joined only when their columns matter.
    columns = {d.column for d in dimensions.values()}
    needs_zone = criteria.admin1 is not None or "admin1" in columns
    needs_task = needs_zone or criteria.zone_id is not None
    needs_report = needs_task or bool(conditions) or "month" in columns
    joins, month, admin1 = "", "NULL::date", "NULL::text"
    if needs_report:
        joins = "JOIN progress_reports AS p ON p.id = d.progress_report_id"
        month = "calendar_month(p.report_date)"
    if needs_task:
        joins += " JOIN tasks AS t ON t.id = p.task_id"
    if needs_zone:
        joins += " JOIN zones AS z ON z.id = t.zone_id"
        admin1 = "z.admin1"
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    ctes = f"""src AS (
  SELECT d.category, d.disposal, d.quantity, {month} AS month, {admin1} AS admin1
  FROM device_finds AS d {joins}
  {where}
)"""
    measures = {"count": "sum(quantity)", "finds": "count(*)"}
    span = None
    if series and criteria.reported_from is not None and criteria.reported_to is not None:
        span = (criteria.reported_from, criteria.reported_to)
    return grouped(ctes, measures, dimensions, params, series=span, limit=limit)
