"""The statistics questions of partner dashboards, each with a plain GROUP BY over the records
as its raw SQL twin (the same JSON), so the table shows what the summary tables save.

Targets on the large data set, through HTTP with 2 concurrent connections: (s1) p50 <= 50 ms,
(s2) p50 <= 80 ms.
"""

from __future__ import annotations

from datetime import timedelta

from bench.generate import ANCHOR, Connection
from bench.scenarios import JSON_EMPTY, Request, Scenario, no_params


def _position(values: str, column: str) -> str:
    """The rank of `column` among the space-separated values (the API's group order)."""
    quoted = ", ".join(f"'{v}'" for v in values.split())
    return f"array_position(ARRAY[{quoted}], {column})"


OUTCOME_ORDER = _position("KILLED INJURED UNKNOWN", "g.outcome")
CATEGORY_ORDER = _position("CIVILIAN MILITARY DEMINER UNKNOWN", "g.category")
TOTALS = """'total', coalesce(sum(g.n), 0),
  'killed', coalesce(sum(g.n) FILTER (WHERE g.outcome = 'KILLED'), 0),
  'injured', coalesce(sum(g.n) FILTER (WHERE g.outcome = 'INJURED'), 0)"""


async def since_dates(_conn: Connection) -> list[Request]:
    """Days in the middle of a month, a fortnight apart, over the last four years."""
    out = []
    for fortnight in range(0, 100):
        since = ANCHOR - timedelta(days=14 * fortnight + 9)
        out.append(Request({"from": since.isoformat()}, (since,)))
    return out


BY_OUTCOME_AND_CATEGORY = Scenario(
    key="s1",
    title="casualtyStatistics by OUTCOME and CATEGORY, all casualties (p50 ≤ 50 ms on large)",
    query="""
{ casualtyStatistics(groupBy: [OUTCOME, CATEGORY]) {
    total killed injured groups { outcome category count } } }""",
    sql=f"""
SELECT json_build_object('casualtyStatistics', json_build_object({TOTALS},
  'groups', coalesce(json_agg(
      json_build_object('outcome', g.outcome, 'category', g.category, 'count', g.n)
      ORDER BY {OUTCOME_ORDER}, {CATEGORY_ORDER}), {JSON_EMPTY})))
FROM (SELECT outcome, category, count(*) AS n FROM casualties GROUP BY outcome, category) AS g""",
    params=no_params,
)

BY_MONTH_AND_CATEGORY = Scenario(
    key="s2",
    title="casualtyStatistics by MONTH and CATEGORY, all casualties (p50 ≤ 80 ms on large)",
    query="""
{ casualtyStatistics(groupBy: [MONTH, CATEGORY]) {
    total killed injured groups { month category count } } }""",
    sql=f"""
WITH s AS (
  SELECT date_trunc('month', i.occurred_on::timestamp) AS month, c.category, c.outcome,
         count(*) AS n
  FROM casualties AS c JOIN incidents AS i ON i.id = c.incident_id
  GROUP BY 1, 2, 3)
SELECT json_build_object('casualtyStatistics', json_build_object({TOTALS},
  'groups', (SELECT coalesce(json_agg(
                 json_build_object('month', to_char(g.month, 'YYYY-MM'), 'category', g.category,
                                   'count', g.n)
                 ORDER BY g.month, {CATEGORY_ORDER}), {JSON_EMPTY})
             FROM (SELECT month, category, sum(n) AS n FROM s GROUP BY 1, 2) AS g)))
FROM s AS g""",
    params=no_params,
)

# The reference question: since a day, how many killed and injured, and how many civilians.
SINCE_A_DAY = Scenario(
    key="s3",
    title="casualtyStatistics since a mid-month day, by OUTCOME and CATEGORY",
    query="""
query ($from: Date!) { casualtyStatistics(filter: {from: $from}, groupBy: [OUTCOME, CATEGORY]) {
    total killed injured groups { outcome category count } } }""",
    sql=f"""
SELECT json_build_object('casualtyStatistics', json_build_object({TOTALS},
  'groups', coalesce(json_agg(
      json_build_object('outcome', g.outcome, 'category', g.category, 'count', g.n)
      ORDER BY {OUTCOME_ORDER}, {CATEGORY_ORDER}), {JSON_EMPTY})))
FROM (SELECT c.outcome, c.category, count(*) AS n
      FROM casualties AS c JOIN incidents AS i ON i.id = c.incident_id
      WHERE i.occurred_on >= $1
      GROUP BY c.outcome, c.category) AS g""",
    params=since_dates,
)

METHOD_ORDER = _position("CANCELLED REDUCED CLEARED", "g.method")

LAND_BY_METHOD = Scenario(
    key="s4",
    title="landReleaseStatistics by METHOD, all releases, with remaining area and progress",
    query="""
{ landReleaseStatistics(groupBy: [METHOD]) {
    releasedM2 remainingM2 progress groups { method releases releasedM2 } } }""",
    sql=f"""
SELECT json_build_object('landReleaseStatistics', json_build_object(
  'releasedM2', t.released::float8, 'remainingM2', t.remaining::float8,
  'progress', CASE WHEN t.released + t.remaining > 0
                   THEN t.released::float8 / (t.released::float8 + t.remaining::float8)
                   ELSE 0 END,
  'groups', (SELECT coalesce(json_agg(json_build_object(
                 'method', g.method, 'releases', g.releases, 'releasedM2', g.m2::float8)
                 ORDER BY {METHOD_ORDER}), {JSON_EMPTY})
             FROM (SELECT method, count(*) AS releases, sum(area_m2) AS m2
                   FROM land_releases GROUP BY method) AS g)))
FROM (SELECT (SELECT coalesce(sum(area_m2), 0) FROM land_releases) AS released,
             (SELECT coalesce(sum(remaining_area_m2), 0) FROM zones) AS remaining) AS t""",
    params=no_params,
)

DEVICE_ORDER = _position("AP_MINE AV_MINE CMR UXO AXO IED SAA OTHER UNKNOWN", "g.category")

DEVICES_BY_CATEGORY = Scenario(
    key="s5",
    title="deviceStatistics by CATEGORY, all device finds",
    query="""
{ deviceStatistics(groupBy: [CATEGORY]) { total groups { category count } } }""",
    sql=f"""
SELECT json_build_object('deviceStatistics', json_build_object(
  'total', coalesce(sum(g.n), 0),
  'groups', coalesce(json_agg(json_build_object('category', g.category, 'count', g.n)
                              ORDER BY {DEVICE_ORDER}), {JSON_EMPTY})))
FROM (SELECT category, sum(quantity) AS n FROM device_finds GROUP BY category) AS g""",
    params=no_params,
)

STATISTICS = {
    s.key: s
    for s in (
        BY_OUTCOME_AND_CATEGORY,
        BY_MONTH_AND_CATEGORY,
        SINCE_A_DAY,
        LAND_BY_METHOD,
        DEVICES_BY_CATEGORY,
    )
}
