"""API.md's role table, row by row, for reads and writes (the policy lives in api/auth.py), with
the response cache off and on; what a role may read comes back as the tables hold it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from graphql import GraphQLObjectType

from api.app import create_app
from api.auth import ROLES
from api.errors import Forbidden
from api.graphql.response_cache import CACHEABLE_ROLES
from api.graphql.schema import build_schema
from api.services.rules import today
from api.settings import Settings
from db.pool import Connection as Conn
from db.pool import SingleConnectionSource
from tests.helpers import GraphQLClient, make_key
from tests.test_incidents import record as record_incident
from tests.test_land_releases import record as record_release
from tests.test_progress_reports import SUBMIT, ongoing_task, report

ROLE_LIST = list(ROLES)


@pytest.fixture(params=[False, True], ids=["uncached", "cached"])
def response_cache(request: pytest.FixtureRequest) -> bool:
    """Whether the app keeps answers in its response cache: each role must get its own answers
    either way."""
    on: bool = request.param
    return on


@pytest.fixture
def app(settings: Settings, conn: Conn, response_cache: bool) -> Any:
    """The application, with or without the response cache. (The tests here read only after
    writing, so the data version the cache checks is right inside their rolled-back
    transaction, where nothing ever commits.)"""
    configured = replace(settings, response_cache=response_cache)
    return create_app(configured, db=SingleConnectionSource(conn))


@pytest.fixture
async def records(gql: GraphQLClient, conn: Conn) -> dict[str, str]:
    """One of every record (written as the default editor), and a key for every role."""
    task = await ongoing_task(gql, conn, "RL-T1")
    zone_id = task["zone"]["id"]
    devices = [{"category": "AP_MINE", "quantity": 3, "disposal": "DESTROYED_IN_SITU"}]
    body = await gql(SUBMIT, report(task["id"], devices=devices))
    assert "errors" not in body, body
    await record_release(gql, zone_id, method="CANCELLED", areaM2=10.0)
    incident = await record_incident(
        gql,
        "RL-ACC1",
        incidentType="DEMINING_ACCIDENT",
        occurredOn=today().isoformat(),
        location={"type": "Point", "coordinates": [10.0005, 10.0005]},
        taskId=task["id"],
        description="Struck a mine while ploughing",
        source="Hospital record",
        casualties=[
            {"outcome": "INJURED", "age": 31, "fullName": "E. F.", "notes": "leg"},
            {"outcome": "KILLED", "age": 12, "fullName": "G. H.", "notes": "village"},
        ],
    )
    ids = {"zone": zone_id, "task": task["id"], "incident": incident["id"]}
    for role in ("partner", "editor", "admin"):
        ids[role] = await make_key(conn, f"role {role}", role)
    return ids


async def ask(
    gql: GraphQLClient,
    records: dict[str, str],
    role: str,
    query: str,
    variables: dict[str, Any] | None = None,
) -> httpx.Response:
    """Send the operation with the key of `role` (public: no key at all); the whole response."""
    secret = records.get(role)
    headers = {"authorization": f"Bearer {secret}"} if secret and role != "public" else {}
    response = await gql.http.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response


async def as_role(
    gql: GraphQLClient,
    records: dict[str, str],
    role: str,
    query: str,
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The answer to the operation sent with the key of `role` (public: no key at all)."""
    body: dict[str, Any] = (await ask(gql, records, role, query, variables)).json()
    return body


def forbidden_paths(body: dict[str, Any]) -> list[str]:
    """The paths of the FORBIDDEN errors of an answer (and no other error is allowed)."""
    errors = body.get("errors") or []
    assert all(e["extensions"]["code"] == "FORBIDDEN" for e in errors), errors
    return sorted(".".join(str(p) for p in e["path"]) for e in errors)


def nodes(name: str, fields: str, table: str, order: str) -> str:
    """SQL for the `data` of `{ name { nodes { ... } } }`: json_build_object arguments
    `fields` over `table`, in the list's default `order`."""
    return (
        f"SELECT json_build_object('{name}', json_build_object('nodes', coalesce("
        f"json_agg(json_build_object({fields}) ORDER BY {order}), '[]'::json))) FROM {table}"
    )


def incident(fields: str) -> str:
    """SQL for the `data` of `{ incident(code: "RL-ACC1") { ... } }`."""
    return (
        f"SELECT json_build_object('incident', json_build_object({fields})) "
        "FROM incidents AS i WHERE i.code = 'RL-ACC1'"
    )


def casualties(field: str, column: str) -> str:
    """SQL for the `data` of `{ incident(code: "RL-ACC1") { casualties { field } } }`."""
    return incident(
        f"'casualties', (SELECT json_agg(json_build_object('{field}', c.{column}) ORDER BY c.id) "
        "FROM casualties AS c WHERE c.incident_id = i.id)"
    )


KILLED_INJURED = (
    "'killed', (SELECT count(*) FROM casualties AS c "
    "WHERE c.incident_id = i.id AND c.outcome = 'KILLED'), "
    "'injured', (SELECT count(*) FROM casualties AS c "
    "WHERE c.incident_id = i.id AND c.outcome = 'INJURED')"
)
CASUALTY_GROUPS = (
    "'casualties', (SELECT json_agg(json_build_object('outcome', c.outcome, "
    "'ageGroup', c.age_group) ORDER BY c.id) FROM casualties AS c WHERE c.incident_id = i.id)"
)


# What some role may not see, as the records fixture writes it.
SECRETS = ("E. F.", "G. H.", "village", "Hospital", "ploughing")


def filled(value: Any) -> bool:
    """Whether every list in `value` has items and every value is there (not null)."""
    if isinstance(value, dict):
        return all(filled(v) for v in value.values())
    if isinstance(value, list):
        return bool(value) and all(filled(v) for v in value)
    return value is not None


@dataclass(frozen=True)
class Read:
    """A query, the roles that may read it, the path refused to the others, and the SQL that
    builds the answer's `data` straight from the tables (the oracle for its readers)."""

    query: str
    readers: tuple[str, ...] | list[str]
    refused: tuple[str, ...]
    oracle: str


READS = [
    Read(
        "{ zones { nodes { code status remainingAreaM2 } } }",
        ROLES,
        (),
        nodes(
            "zones",
            "'code', code, 'status', status, 'remainingAreaM2', remaining_area_m2::float8",
            "zones",
            "priority, id",
        ),
    ),
    Read(
        "{ incidents { nodes { code killed injured } } }",
        ROLES,
        (),
        nodes(
            "incidents", f"'code', i.code, {KILLED_INJURED}", "incidents AS i", "i.occurred_on DESC"
        ),
    ),
    Read(
        "{ teams { nodes { code organisation { code } } } }",
        ROLES,
        (),
        nodes(
            "teams",
            "'code', t.code, 'organisation', json_build_object('code', o.code)",
            "teams AS t JOIN organisations AS o ON o.id = t.organisation_id",
            "t.code",
        ),
    ),
    Read(
        "{ organisations { nodes { code } } }",
        ROLES,
        (),
        nodes("organisations", "'code', code", "organisations", "code"),
    ),
    Read(
        "{ incidents { nodes { code casualties { outcome ageGroup } } } }",
        ROLES,
        (),
        nodes(
            "incidents",
            f"'code', i.code, {CASUALTY_GROUPS}",
            "incidents AS i",
            "i.occurred_on DESC",
        ),
    ),
    Read(
        '{ incident(code: "RL-ACC1") { description } }',
        ROLE_LIST[1:],
        ("incident.description",),
        incident("'description', i.description"),
    ),
    Read(
        '{ incident(code: "RL-ACC1") { source } }',
        ROLE_LIST[1:],
        ("incident.source",),
        incident("'source', i.source"),
    ),
    Read(
        "{ tasks { nodes { code } } }",
        ROLE_LIST[1:],
        ("tasks",),
        nodes("tasks", "'code', code", "tasks", "id"),
    ),
    Read(
        '{ task(code: "RL-T1") { code } }',
        ROLE_LIST[1:],
        ("task",),
        "SELECT json_build_object('task', json_build_object('code', code)) "
        "FROM tasks WHERE code = 'RL-T1'",
    ),
    Read(
        '{ incident(code: "RL-ACC1") { task { code } } }',
        ROLE_LIST[1:],
        ("incident.task",),
        incident(
            "'task', (SELECT json_build_object('code', t.code) FROM tasks AS t "
            "WHERE t.id = i.task_id)"
        ),
    ),
    Read(
        '{ incident(code: "RL-ACC1") { casualties { fullName } } }',
        ROLE_LIST[2:],
        ("incident.casualties.0.fullName", "incident.casualties.1.fullName"),
        casualties("fullName", "full_name"),
    ),
    Read(
        '{ incident(code: "RL-ACC1") { casualties { notes } } }',
        ROLE_LIST[2:],
        ("incident.casualties.0.notes", "incident.casualties.1.notes"),
        casualties("notes", "notes"),
    ),
    Read(
        "{ auditLog { totalCount } }",
        ROLE_LIST[3:],
        ("auditLog",),
        "SELECT json_build_object('auditLog', json_build_object('totalCount', count(*))) "
        "FROM audit_log",
    ),
]


@pytest.mark.parametrize("role", ROLE_LIST)
@pytest.mark.parametrize("read", READS, ids=lambda read: read.query)
async def test_reads_by_role(
    gql: GraphQLClient,
    conn: Conn,
    records: dict[str, str],
    response_cache: bool,
    role: str,
    read: Read,
) -> None:
    if response_cache:
        # Every other role asks first: none of their cached answers may be this one's.
        for other in ROLE_LIST:
            if other != role:
                await ask(gql, records, other, read.query)
    first, again = [await ask(gql, records, role, read.query) for _ in range(2)]
    body = first.json()
    # Equal answers, but for each error's own request id.
    assert without_request_ids(again.json()) == without_request_ids(body)
    if role in read.readers:
        expected = await conn.fetchval(read.oracle)
        assert filled(expected), expected  # the oracle found the records
        assert body == {"data": expected}
    else:
        assert read.refused
        assert forbidden_paths(body) == list(read.refused)
        assert not [s for s in SECRETS if s in str(body)]
    # With the cache on, a role without personal data gets its repeated answer from it (so the
    # cached run above did use the cache); the others never do.
    cached = [r.headers.get("x-cache") for r in (first, again)]
    if not response_cache or role not in CACHEABLE_ROLES:
        assert cached == [None, None]
    elif role in read.readers:
        assert cached == ["miss", "hit"]
    else:
        assert cached == ["miss", "miss"]  # an answer with errors is never kept


@pytest.mark.parametrize("role", ROLE_LIST)
async def test_nested_records_of_a_zone_by_role(
    gql: GraphQLClient, records: dict[str, str], role: str
) -> None:
    """Zone.tasks, Zone.releases and Task.progressReports: partner and up; the zone itself: all."""
    query = """query($id: ID) { zone(id: $id) {
        code tasks { code progressReports { areaSearchedM2 } } releases { areaM2 } } }"""
    body = await as_role(gql, records, role, query, {"id": records["zone"]})
    if role == "public":
        # Both lists are non-null: the zone itself becomes null (GraphQL stops at the first
        # refused field), and nothing of them is shown.
        refused = forbidden_paths(body)
        assert refused and set(refused) <= {"zone.releases", "zone.tasks"}
        assert body["data"] == {"zone": None}
    else:
        assert "errors" not in body, body
        (task,) = body["data"]["zone"]["tasks"]
        assert task["progressReports"] == [{"areaSearchedM2": 1250.5}]
        assert body["data"]["zone"]["releases"] == [{"areaM2": 10.0}]


STATISTICS = """{
  casualtyStatistics { total killed injured }
  landReleaseStatistics { cancelledM2 releasedM2 }
  deviceStatistics { total finds }
}"""
STATISTICS_ORACLE = """
SELECT json_build_object(
  'casualtyStatistics', (SELECT json_build_object('total', count(*),
     'killed', count(*) FILTER (WHERE outcome = 'KILLED'),
     'injured', count(*) FILTER (WHERE outcome = 'INJURED')) FROM casualties),
  'landReleaseStatistics', (SELECT json_build_object(
     'cancelledM2', coalesce(sum(area_m2) FILTER (WHERE method = 'CANCELLED'), 0)::float8,
     'releasedM2', coalesce(sum(area_m2), 0)::float8) FROM land_releases),
  'deviceStatistics', (SELECT json_build_object('total', coalesce(sum(quantity), 0),
     'finds', count(*)) FROM device_finds))
"""


@pytest.mark.parametrize("role", ROLE_LIST)
async def test_every_role_reads_the_statistics(
    gql: GraphQLClient, conn: Conn, records: dict[str, str], role: str
) -> None:
    """Every statistics query of the schema answers every role, with the figures the tables
    hold."""
    query_type = build_schema()._schema.query_type
    assert isinstance(query_type, GraphQLObjectType)
    for name in (n for n in query_type.fields if n.endswith("Statistics")):
        body = await as_role(gql, records, role, f"{{ {name} {{ __typename }} }}")
        assert "errors" not in body, (name, body)
    expected = await conn.fetchval(STATISTICS_ORACLE)
    assert filled(expected) and expected["deviceStatistics"]["total"] == 3
    assert await as_role(gql, records, role, STATISTICS) == {"data": expected}


CREATE_ORG = """mutation($code: String!) {
  createOrganisation(input: {code: $code, name: "Operator", orgType: UN}) { code }
}"""
UPDATE_ZONE = """mutation($id: ID!, $version: Int!) {
  updateZone(id: $id, version: $version, input: {priority: 1}) { priority }
}"""


async def table_counts(conn: Conn) -> tuple[int, ...]:
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM organisations), (SELECT count(*) FROM audit_log), "
        "(SELECT sum(version) FROM zones)"
    )
    assert row is not None
    return tuple(row)


@pytest.mark.parametrize("role", ROLE_LIST)
async def test_writes_by_role(
    gql: GraphQLClient, conn: Conn, records: dict[str, str], role: str
) -> None:
    before = await table_counts(conn)
    created = await as_role(gql, records, role, CREATE_ORG, {"code": f"OP-{role}"})
    version = await conn.fetchval("SELECT version FROM zones WHERE id = $1", int(records["zone"]))
    zone = {"id": records["zone"], "version": version}
    updated = await as_role(gql, records, role, UPDATE_ZONE, zone)
    if role in ("editor", "admin"):
        assert created == {"data": {"createOrganisation": {"code": f"OP-{role}"}}}
        assert updated == {"data": {"updateZone": {"priority": 1}}}
    else:
        assert forbidden_paths(created) == ["createOrganisation"]
        assert forbidden_paths(updated) == ["updateZone"]
        assert created["data"] is None and updated["data"] is None
        # A refused mutation changes nothing, not even the audit log.
        assert await table_counts(conn) == before


def test_every_mutation_needs_a_writer() -> None:
    """The check is per operation type: no mutation, present or future, escapes it."""
    from api.graphql.permissions import allowed_roles

    mutation_type = build_schema()._schema.mutation_type
    assert mutation_type is not None
    partner = SimpleNamespace(context=SimpleNamespace(role="partner"))
    for name, field in mutation_type.fields.items():
        assert allowed_roles("Mutation", name, field.type) == {"editor", "admin"}, name
        assert field.resolve is not None
        with pytest.raises(Forbidden, match="may not change records"):
            field.resolve(None, partner)  # refused before the mutation's own resolver runs


def without_request_ids(body: dict[str, Any]) -> dict[str, Any]:
    """The answer with its errors' request ids left out (each request has its own)."""
    errors = [
        {**e, "extensions": {k: v for k, v in e["extensions"].items() if k != "requestId"}}
        for e in body.get("errors", [])
    ]
    return {**body, "errors": errors} if errors else body
