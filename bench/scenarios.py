"""The benchmark's questions: each as a GraphQL request and as one raw SQL statement.

The raw SQL twin answers the same question with the same JSON (the GraphQL response's `data`,
built in the database with json_build_object/json_agg), so the two can be compared for equality
and the ratio shows what the API layer costs. Each question runs over a list of parameter sets
taken from the data set (zone codes, date windows, points), cycled through by the load.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bench.generate import ANCHOR, Connection

JSON_EMPTY = "'[]'::json"


@dataclass(frozen=True)
class Request:
    """One parameter set: the GraphQL variables and the same values as SQL arguments."""

    variables: dict[str, Any]
    args: tuple[Any, ...]


ParamsFn = Callable[[Connection], Awaitable[list[Request]]]


@dataclass(frozen=True)
class Scenario:
    """A question: its GraphQL operation, its raw SQL twin, its parameters and its target."""

    key: str
    title: str
    query: str
    sql: str
    params: ParamsFn
    target: float | None = None  # req/s through GraphQL on the small data set


async def no_params(_conn: Connection) -> list[Request]:
    """A question without parameters."""
    return [Request({}, ())]


async def zone_codes(conn: Connection) -> list[Request]:
    """Codes of zones that have incidents (up to 500, in id order)."""
    rows = await conn.fetch(
        "SELECT z.code FROM zones AS z "
        "WHERE EXISTS (SELECT 1 FROM incidents AS i WHERE i.zone_id = z.id) "
        "ORDER BY z.id LIMIT 500"
    )
    return [Request({"code": r["code"]}, (r["code"],)) for r in rows]


async def date_windows(_conn: Connection) -> list[Request]:
    """90-day windows, a week apart, over the five years of incidents."""
    out = []
    for week in range(0, 250):
        to = ANCHOR - timedelta(days=7 * week)
        since = to - timedelta(days=90)
        out.append(Request({"from": since.isoformat(), "to": to.isoformat()}, (since, to)))
    return out


async def zone_points(conn: Connection) -> list[Request]:
    """Points in zones (their centroids; the first 200 zones), where other zones are near."""
    rows = await conn.fetch(
        "SELECT ST_X(c) AS lon, ST_Y(c) AS lat "
        "FROM (SELECT ST_PointOnSurface(geometry) AS c FROM zones ORDER BY id LIMIT 200) AS p"
    )
    return [Request({"lon": r["lon"], "lat": r["lat"]}, (r["lon"], r["lat"])) for r in rows]


def _agg(element: str, order: str, source: str) -> str:
    """A correlated subquery aggregating `element` over `source` as a JSON array ([] if none)."""
    return f"(SELECT coalesce(json_agg({element} ORDER BY {order}), {JSON_EMPTY}) FROM {source})"


OPEN_ZONES = Scenario(
    key="a",
    title="50 OPEN zones by priority, with their tasks and teams",
    query="""
{ zones(filter: {status: [OPEN]}, first: 50) {
    nodes { code name priority status
            tasks { code taskType status teams { code name } } } } }""",
    sql=f"""
SELECT json_build_object('zones', json_build_object('nodes', coalesce(json_agg(
  json_build_object(
    'code', z.code, 'name', z.name, 'priority', z.priority, 'status', z.status,
    'tasks', {
        _agg(
            "json_build_object('code', t.code, 'taskType', t.task_type, 'status', t.status, "
            "'teams', "
            + _agg(
                "json_build_object('code', tm.code, 'name', tm.name)",
                "tm.id",
                "task_teams AS tt JOIN teams AS tm ON tm.id = tt.team_id WHERE tt.task_id = t.id",
            )
            + ")",
            "t.id",
            "tasks AS t WHERE t.zone_id = z.id",
        )
    })
  ORDER BY z.priority, z.id), {JSON_EMPTY})))
FROM (SELECT id, code, name, priority, status FROM zones WHERE status = 'OPEN'
      ORDER BY priority, id LIMIT 50) AS z""",
    params=no_params,
    target=450,
)

ZONE_INCIDENTS = Scenario(
    key="b",
    title="one zone by code, with its incidents and their casualties",
    query="""
query ($code: String!) { zone(code: $code) { code name
    incidents(first: 50) { nodes { code occurredOn casualties { outcome category } } } } }""",
    sql=f"""
SELECT json_build_object('zone', (
  SELECT json_build_object('code', z.code, 'name', z.name, 'incidents', json_build_object(
    'nodes', {
        _agg(
            "json_build_object('code', i.code, 'occurredOn', i.occurred_on, 'casualties', "
            + _agg(
                "json_build_object('outcome', c.outcome, 'category', c.category)",
                "c.id",
                "casualties AS c WHERE c.incident_id = i.id",
            )
            + ")",
            "i.occurred_on DESC, i.id DESC",
            "(SELECT id, code, occurred_on FROM incidents WHERE zone_id = z.id "
            "ORDER BY occurred_on DESC, id DESC LIMIT 50) AS i",
        )
    }))
  FROM zones AS z WHERE z.code = $1))""",
    params=zone_codes,
    target=500,
)

INCIDENTS_IN_RANGE = Scenario(
    key="c",
    title="100 incidents in a date range, with their casualties",
    query="""
query ($from: Date!, $to: Date!) { incidents(filter: {from: $from, to: $to}, first: 100) {
    nodes { code occurredOn incidentType casualties { outcome category sex ageGroup } } } }""",
    sql=f"""
SELECT json_build_object('incidents', json_build_object('nodes', coalesce(json_agg(
  json_build_object('code', i.code, 'occurredOn', i.occurred_on, 'incidentType', i.incident_type,
    'casualties', {
        _agg(
            "json_build_object('outcome', c.outcome, 'category', c.category, 'sex', c.sex, "
            "'ageGroup', c.age_group)",
            "c.id",
            "casualties AS c WHERE c.incident_id = i.id",
        )
    })
  ORDER BY i.occurred_on DESC, i.id DESC), {JSON_EMPTY})))
FROM (SELECT id, code, occurred_on, incident_type FROM incidents
      WHERE occurred_on BETWEEN $1 AND $2 ORDER BY occurred_on DESC, id DESC LIMIT 100) AS i""",
    params=date_windows,
    target=200,
)

TEAMS_AT_WORK = Scenario(
    key="d",
    title="50 teams, with their ONGOING tasks and those tasks' zone codes",
    query="""
{ teams(first: 50) { nodes { code name tasks(status: [ONGOING]) { code zone { code } } } } }""",
    sql=f"""
SELECT json_build_object('teams', json_build_object('nodes', coalesce(json_agg(
  json_build_object('code', tm.code, 'name', tm.name, 'tasks', {
        _agg(
            "json_build_object('code', t.code, 'zone', json_build_object('code', z.code))",
            "t.id",
            "task_teams AS tt JOIN tasks AS t ON t.id = tt.task_id "
            "JOIN zones AS z ON z.id = t.zone_id "
            "WHERE tt.team_id = tm.id AND t.status = 'ONGOING'",
        )
    })
  ORDER BY tm.code, tm.id), {JSON_EMPTY})))
FROM (SELECT id, code, name FROM teams ORDER BY code, id LIMIT 50) AS tm""",
    params=no_params,
    target=280,
)

# The raw twin lets the GiST index find candidates (a box a little larger than 5 km around the
# point) before measuring on the spheroid.
ZONES_NEAR = Scenario(
    key="e",
    title="zones within 5 km of a point",
    query="""
query ($lon: Float!, $lat: Float!) {
  zones(filter: {near: {lon: $lon, lat: $lat, meters: 5000}}, first: 50) { nodes { code } } }""",
    sql=f"""
SELECT json_build_object('zones', json_build_object('nodes', coalesce(json_agg(
  json_build_object('code', z.code) ORDER BY z.priority, z.id), {JSON_EMPTY})))
FROM (SELECT id, code, priority FROM zones
      WHERE geometry && ST_Expand(ST_SetSRID(ST_MakePoint($1, $2), 4326),
                                  5000 / (110000 * cos(radians($2))))
        AND ST_DWithin(geometry::geography,
                       ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography, 5000)
      ORDER BY priority, id LIMIT 50) AS z""",
    params=zone_points,
)

SCENARIOS = {
    s.key: s for s in (OPEN_ZONES, ZONE_INCIDENTS, INCIDENTS_IN_RANGE, TEAMS_AT_WORK, ZONES_NEAR)
}
