"""Compiled reads (api/graphql/compiled.py) answer exactly what the executor answers.

Two apps serve one database holding the demo set and a few awkward records: one compiles the
read queries it can (the default), the other executes every query field by field. Each query
below goes to both: the compiled answer must be the executor's, byte for byte, and the compiled
app must have answered it without the executor (its /metrics count the path). Queries the
compiled path leaves alone (personal data, refusals, bad arguments, cursors in nested pages, …)
must be answered by the executor, with the executor's answer.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import asyncpg
import httpx
import pytest

from api.app import create_app
from api.demo import seed_demo
from api.settings import Settings
from db.pool import Connection as Conn
from db.pool import SingleConnectionSource, connect
from db.queries import keys as key_sql
from tests.conftest import create_database, drop_database
from tests.helpers import make_key, metric_samples

# Text a client could type, and a spreadsheet would not: quotes, escapes, control characters,
# letters outside ASCII.
AWKWARD_NAME = 'Field "north" \\ edge\n\ttab é ü — 中文 🙂'
AWKWARD_DESCRIPTION = "line one\r\nline two \x01\x1f\x7f end"


@dataclass
class Served:
    """The two apps over the one connection they share, and a key per role."""

    compiled: httpx.AsyncClient
    executed: httpx.AsyncClient
    keys: dict[str, str]
    conn: Conn


@pytest.fixture(scope="module")
async def served(template_db: str, settings: Settings) -> AsyncIterator[Served]:
    name = f"mar_test_{os.getpid()}_compiled_{uuid.uuid4().hex[:6]}"
    url = await create_database(name, template_db)
    conn = await connect(url)
    try:
        await seed_demo(conn, show_progress=False)
        await add_awkward_records(conn)
        keys = {role: await make_key(conn, f"diff {role}", role) for role in ("partner", "editor")}
        source = SingleConnectionSource(conn)
        apps = [
            # Some comparisons nest three lists without `first` on purpose, far beyond the
            # default cost (api/graphql/limits.py): they test answers, not limits.
            create_app(replace(settings, compiled_reads=compiled, max_cost=10**9), db=source)
            for compiled in (True, False)
        ]
        clients = [
            httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://mar.test")
            for a in apps
        ]
        yield Served(clients[0], clients[1], keys, conn)
        for client in clients:
            await client.aclose()
    finally:
        await conn.close()
        await drop_database(name)


async def add_awkward_records(conn: Conn) -> None:
    """A zone whose texts need escaping and whose creation time has no microseconds, and an
    incident in it without a task, with a description that needs escaping."""
    zone_id = await conn.fetchval(
        """
        INSERT INTO zones (code, name, description, hazard_type, contamination, geometry,
                           priority, land_use)
        VALUES ('EDGE-001', $1, $2, 'CHA', '{AP_MINE,UXO}',
                ST_Multi(ST_GeomFromText(
                  'POLYGON((30 10, 30.01 10, 30.01 10.01, 30 10.01, 30 10))', 4326)), 1, NULL)
        RETURNING id
        """,
        AWKWARD_NAME,
        AWKWARD_DESCRIPTION,
    )
    await conn.execute(
        "UPDATE zones SET created_at = '2026-01-02 03:04:05+00' WHERE id = $1", zone_id
    )
    await conn.execute(
        """
        INSERT INTO incidents (code, incident_type, occurred_on, location, zone_id,
                               device_category, activity, description, source, verified)
        VALUES ('EDGE-INC-1', 'UXO_AXO_ACCIDENT', '2025-06-01',
                ST_SetSRID(ST_MakePoint(30.005, 10.005), 4326),
                $1, 'UXO', 'FARMING', $2, 'radio', true)
        """,
        zone_id,
        AWKWARD_DESCRIPTION,
    )


def path_counts(text: str) -> dict[str, float]:
    samples = metric_samples(text)
    return {
        path: samples.get(("mar_graphql_requests_by_path_total", (("path", path),)), 0.0)
        for path in ("compiled", "executed")
    }


async def ask(
    served: Served, role: str, query: str, variables: dict[str, Any] | None = None
) -> tuple[httpx.Response, httpx.Response, str]:
    """Send a query to both apps; return both answers and the path the compiled app took."""
    headers = {"Authorization": f"Bearer {served.keys[role]}"} if role in served.keys else {}
    body = {"query": query, "variables": variables or {}}
    before = path_counts((await served.compiled.get("/metrics")).text)
    compiled = await served.compiled.post("/graphql", json=body, headers=headers)
    after = path_counts((await served.compiled.get("/metrics")).text)
    executed = await served.executed.post("/graphql", json=body, headers=headers)
    (path,) = [p for p in after if after[p] != before[p]]
    return compiled, executed, path


ZONE_FIELDS = """
  id code name description hazardType status contamination geometry estimatedAreaM2
  releasedAreaM2 remainingAreaM2 priority landUse admin1 admin2 adminPcode recordedOn
  statusChangedOn version createdAt updatedAt __typename"""
TASK_FIELDS = """
  id code taskType status assets plannedStart plannedEnd startedOn completedOn version createdAt
  updatedAt"""
TEAM_FIELDS = "id code name capabilities size status accreditationExpiresOn version createdAt"
INCIDENT_FIELDS = """
  id code incidentType occurredOn location deviceCategory activity admin1 admin2 adminPcode
  description source verified version createdAt updatedAt killed injured"""

# (id, role, query, variables): every field of the catalog, in every place it can be asked.
COMPILED: list[tuple[str, str, str, dict[str, Any]]] = [
    (
        "zones-every-field-and-connection-part",
        "partner",
        f"""{{ zones(first: 7, orderBy: REMAINING_AREA_DESC) {{
            __typename totalCount
            pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor __typename }}
            edges {{ __typename cursor node {{ {ZONE_FIELDS} }} }}
            nodes {{ code }} }} }}""",
        {},
    ),
    (
        "zones-nested-lists-and-pages",
        "partner",
        f"""{{ zones(first: 25, orderBy: CODE_ASC) {{ nodes {{ code
            tasks {{ {TASK_FIELDS} zone {{ code }} teams {{ code }} }}
            releases {{ id method areaM2 geometry releasedOn createdAt zone {{ code }}
                        task {{ code }} __typename }}
            incidents(first: 2) {{ __typename totalCount
              pageInfo {{ hasNextPage hasPreviousPage __typename }}
              nodes {{ code occurredOn killed injured }} }} }} }} }}""",
        {},
    ),
    (
        "zones-awkward-text-by-search",
        "partner",
        f"""query ($s: String) {{ zones(filter: {{search: $s}}) {{ nodes {{ {ZONE_FIELDS}
            incidents {{ nodes {{ {INCIDENT_FIELDS} zone {{ name }} task {{ code }} }} }}
          }} }} }}""",
        {"s": "edge-0"},
    ),
    (
        "zones-filters",
        "partner",
        """query ($status: [ZoneStatus!], $near: Near) {
            open: zones(filter: {status: $status, hazardType: [CHA, SHA], priorityAtMost: 3,
                                 contamination: [AP_MINE, UXO, AV_MINE]}, first: 10) {
              totalCount nodes { code status priority } }
            near: zones(filter: {near: $near}, orderBy: PRIORITY_DESC) { nodes { code } }
            box: zones(filter: {bbox: {west: -180, south: -90, east: 180, north: 90}},
                       orderBy: UPDATED_AT_DESC, first: 3) { nodes { code } } }""",
        {"status": ["OPEN", "WORKED_ON"], "near": {"lon": 30.005, "lat": 10.005, "meters": 5000}},
    ),
    (
        "zone-by-code-with-everything-below",
        "partner",
        f"""{{ zone(code: "EDGE-001") {{ {ZONE_FIELDS}
            incidents(first: 1) {{ totalCount pageInfo {{ hasNextPage }}
              nodes {{ {INCIDENT_FIELDS} casualties {{ id outcome category sex age ageGroup }} }} }}
          }}
          missing: zone(code: "NO-SUCH-ZONE") {{ code }} }}""",
        {},
    ),
    (
        "incidents-every-field",
        "partner",
        f"""{{ incidents(first: 30, orderBy: CODE_ASC) {{ totalCount nodes {{ {INCIDENT_FIELDS}
            zone {{ code status }} task {{ code status }}
            casualties {{ __typename id outcome category sex age ageGroup }} }} }} }}""",
        {},
    ),
    (
        "incidents-in-a-date-range",
        "partner",
        """query ($from: Date!, $to: Date!) {
            incidents(filter: {from: $from, to: $to}, first: 100) {
              nodes { code occurredOn incidentType casualties { outcome category sex ageGroup } }
            } }""",
        {"from": "2020-01-01", "to": "2030-12-31"},
    ),
    (
        "tasks-with-reports-devices-releases",
        "partner",
        f"""{{ tasks(first: 40) {{ totalCount pageInfo {{ endCursor hasNextPage }} nodes {{
            {TASK_FIELDS} zone {{ code remainingAreaM2 }}
            teams {{ {TEAM_FIELDS} organisation {{ code }} }}
            progressReports {{ id reportDate areaSearchedM2 notes createdAt task {{ code }}
              devices {{ category quantity disposal location }} }}
            releases {{ method areaM2 releasedOn }} }} }} }}""",
        {},
    ),
    (
        "tasks-filtered",
        "partner",
        """{ tasks(filter: {status: [ONGOING, COMPLETED], taskType: [CLEARANCE, NTS, TS]}) {
            nodes { code status taskType } } }""",
        {},
    ),
    (
        "teams-with-tasks-by-status",
        "partner",
        f"""{{ teams(first: 50) {{ nodes {{ {TEAM_FIELDS} updatedAt
            organisation {{ id code name orgType country createdAt updatedAt teams {{ code }} }}
            ongoing: tasks(status: [ONGOING]) {{ code zone {{ code }} }}
            some: tasks(status: [COMPLETED, PLANNED]) {{ code status }}
            none: tasks(status: []) {{ code }}
            tasks {{ code }} }} }} }}""",
        {},
    ),
    (
        "organisations-and-lookups",
        "partner",
        """{ organisations(orderBy: NAME_ASC) { totalCount
              edges { cursor node { code name teams { code tasks { code } } } } }
            team(id: "1") { code } task(id: "1") { code } organisation(id: "1") { name }
            incident(code: "EDGE-INC-1") { code zone { code } } }""",
        {},
    ),
    (
        "fragments-aliases-directives",
        "partner",
        """query Dashboard {
            first: zones(first: 3) { ...Page nodes { ...on Zone { name } code } }
            second: zones(first: 2, orderBy: CODE_DESC) { nodes { c: code c2: code code
              t: tasks @include(if: true) { code } s: releases @skip(if: true) { id } } } }
          fragment Page on ZoneConnection { totalCount nodes { ...Codes } }
          fragment Codes on Zone { code code priority }""",
        {},
    ),
    (
        "public-role",
        "public",
        """{ zones(first: 5) { nodes { code name incidents(first: 3) { nodes { code killed } } } }
            incidents(first: 5) { nodes { code casualties { outcome ageGroup } } } }""",
        {},
    ),
]


@pytest.mark.parametrize(
    ("role", "query", "variables"), [c[1:] for c in COMPILED], ids=[c[0] for c in COMPILED]
)
async def test_compiled_answers_are_the_executors(
    served: Served, role: str, query: str, variables: dict[str, Any]
) -> None:
    compiled, executed, path = await ask(served, role, query, variables)
    assert path == "compiled"
    assert executed.status_code == 200 and "errors" not in executed.json(), executed.text
    assert compiled.status_code == executed.status_code
    assert compiled.headers["content-type"] == executed.headers["content-type"]
    assert compiled.content == executed.content


async def test_the_next_page_follows_the_cursor(served: Served) -> None:
    query = """query ($after: String) { zones(first: 4, after: $after, orderBy: RECORDED_ON_DESC) {
        pageInfo { hasNextPage hasPreviousPage endCursor } nodes { code } } }"""
    first, _, _ = await ask(served, "partner", query)
    cursor = first.json()["data"]["zones"]["pageInfo"]["endCursor"]
    compiled, executed, path = await ask(served, "partner", query, {"after": cursor})
    assert path == "compiled"
    assert compiled.content == executed.content
    assert compiled.json()["data"]["zones"]["pageInfo"]["hasPreviousPage"] is True


async def test_the_awkward_texts_come_back_as_written(served: Served) -> None:
    compiled, _, _ = await ask(
        served, "partner", '{ zone(code: "EDGE-001") { name description createdAt } }'
    )
    zone = compiled.json()["data"]["zone"]
    assert zone == {
        "name": AWKWARD_NAME,
        "description": AWKWARD_DESCRIPTION,
        "createdAt": "2026-01-02T03:04:05+00:00",
    }


def without_request_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_request_ids(v) for k, v in value.items() if k != "requestId"}
    if isinstance(value, list):
        return [without_request_ids(v) for v in value]
    if isinstance(value, str) and "request" in value:
        return value.split("(request")[0]
    return value


# (id, role, query, variables): answered by the executor, with its answer (errors included).
EXECUTED: list[tuple[str, str, str, dict[str, Any]]] = [
    (
        "personal-data",
        "editor",
        "{ incidents(first: 3) { nodes { casualties { fullName } } } }",
        {},
    ),
    ("forbidden-for-public", "public", "{ zones(first: 2) { nodes { tasks { code } } } }", {}),
    ("page-too-large", "partner", "{ zones(first: 501) { nodes { code } } }", {}),
    ("tampered-cursor", "partner", '{ zones(after: "bm90IGEgY3Vyc29y") { nodes { code } } }', {}),
    ("id-and-code", "partner", '{ zone(id: "1", code: "X") { code } }', {}),
    ("bad-filter", "partner", '{ tasks(filter: {zoneId: "x"}) { nodes { code } } }', {}),
    (
        "bad-bbox",
        "partner",
        "{ zones(filter: {bbox: {west: 10, south: 0, east: 0, north: 10}}) { nodes { code } } }",
        {},
    ),
    (
        "directive-on-a-variable",
        "partner",
        "query ($t: Boolean!) { zones(first: 2) { nodes { tasks @include(if: $t) { code } } } }",
        {"t": True},
    ),
    (
        "cursor-in-a-nested-page",
        "partner",
        '{ zones(first: 2) { nodes { incidents(after: "x") { nodes { code } } } } }',
        {},
    ),
    (
        "edges-of-a-nested-page",
        "partner",
        "{ zones(first: 2) { nodes { incidents { edges { cursor } } } } }",
        {},
    ),
    ("not-in-the-catalog", "partner", "{ deviceStatistics { total } }", {}),
    ("introspection", "partner", "{ __schema { queryType { name } } }", {}),
    (
        "variables-that-do-not-coerce",
        "partner",
        "query ($n: Int) { zones(first: $n) { totalCount } }",
        {"n": "x"},
    ),
    ("invalid-document", "partner", "{ zones { nope } }", {}),
]


@pytest.mark.parametrize(
    ("role", "query", "variables"), [c[1:] for c in EXECUTED], ids=[c[0] for c in EXECUTED]
)
async def test_what_is_not_compiled_is_executed(
    served: Served, role: str, query: str, variables: dict[str, Any]
) -> None:
    compiled, executed, path = await ask(served, role, query, variables)
    assert path == "executed"
    assert compiled.status_code == executed.status_code
    assert without_request_ids(compiled.json()) == without_request_ids(executed.json())


async def test_a_nested_read_is_one_statement(served: Served) -> None:
    """However deep, a compiled list is one statement (the key's lookup aside)."""
    statements: list[str] = []

    def keep(record: asyncpg.LoggedQuery) -> None:
        if record.query != key_sql.AUTHENTICATE:
            statements.append(record.query)

    conn = served.conn
    conn.add_query_logger(keep)
    try:
        response = await served.compiled.post(
            "/graphql",
            json={
                "query": """{ teams(first: 50) { nodes { code organisation { name }
                    tasks { code zone { code releases { areaM2 } }
                            progressReports { devices { quantity } } } } } }"""
            },
            headers={"Authorization": f"Bearer {served.keys['partner']}"},
        )
        await asyncio.sleep(0)  # asyncpg hands log records to the logger on the next loop turn
    finally:
        conn.remove_query_logger(keep)
    assert response.status_code == 200 and "errors" not in response.json()
    assert len(statements) == 1, statements


def test_compiled_reads_can_be_turned_off() -> None:
    assert Settings.from_env({}).compiled_reads is True
    assert Settings.from_env({"MAR_COMPILED_READS": "false"}).compiled_reads is False
