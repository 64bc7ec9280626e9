"""API.md's role table, row by row, for reads and writes (the policy lives in api/auth.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from graphql import GraphQLObjectType

from api.auth import ROLES
from api.errors import Forbidden
from api.graphql.schema import build_schema
from db.pool import Connection as Conn
from tests.helpers import GraphQLClient, make_key
from tests.test_incidents import record as record_incident
from tests.test_land_releases import record as record_release
from tests.test_progress_reports import SUBMIT, ongoing_task, report

ROLE_LIST = list(ROLES)


@pytest.fixture
async def records(gql: GraphQLClient, conn: Conn) -> dict[str, str]:
    """One of every record (written as the default editor), and a key for every role."""
    task = await ongoing_task(gql, conn, "RL-T1")
    zone_id = task["zone"]["id"]
    body = await gql(SUBMIT, report(task["id"]))
    assert "errors" not in body, body
    await record_release(gql, zone_id, method="CANCELLED", areaM2=10.0)
    incident = await record_incident(
        gql,
        "RL-ACC1",
        description="Struck a mine while ploughing",
        source="Hospital record",
        casualties=[{"outcome": "INJURED", "age": 31, "fullName": "E. F.", "notes": "leg"}],
    )
    ids = {"zone": zone_id, "task": task["id"], "incident": incident["id"]}
    for role in ("partner", "editor", "admin"):
        ids[role] = await make_key(conn, f"role {role}", role)
    return ids


async def as_role(
    gql: GraphQLClient,
    records: dict[str, str],
    role: str,
    query: str,
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Send the operation with the key of `role` (public: no key at all)."""
    secret = records.get(role)
    authorization = f"Bearer {secret}" if secret and role != "public" else ""
    return await gql(query, variables or {}, authorization=authorization)


def forbidden_paths(body: dict[str, Any]) -> list[str]:
    """The paths of the FORBIDDEN errors of an answer (and no other error is allowed)."""
    errors = body.get("errors") or []
    assert all(e["extensions"]["code"] == "FORBIDDEN" for e in errors), errors
    return sorted(".".join(str(p) for p in e["path"]) for e in errors)


# (query, the roles that may read it, the path refused to the others)
READS = [
    ("{ zones { nodes { code status remainingAreaM2 } } }", ROLES, None),
    ("{ incidents { nodes { code killed injured } } }", ROLES, None),
    ("{ teams { nodes { code organisation { code } } } }", ROLES, None),
    ("{ organisations { nodes { code } } }", ROLES, None),
    ("{ incidents { nodes { code casualties { outcome ageGroup } } } }", ROLES, None),
    ('{ incident(code: "RL-ACC1") { description } }', ROLE_LIST[1:], "incident.description"),
    ('{ incident(code: "RL-ACC1") { source } }', ROLE_LIST[1:], "incident.source"),
    ("{ tasks { nodes { code } } }", ROLE_LIST[1:], "tasks"),
    ('{ task(code: "RL-T1") { code } }', ROLE_LIST[1:], "task"),
    ('{ incident(code: "RL-ACC1") { task { code } } }', ROLE_LIST[1:], "incident.task"),
    (
        '{ incident(code: "RL-ACC1") { casualties { fullName } } }',
        ROLE_LIST[2:],
        "incident.casualties.0.fullName",
    ),
    (
        '{ incident(code: "RL-ACC1") { casualties { notes } } }',
        ROLE_LIST[2:],
        "incident.casualties.0.notes",
    ),
    ("{ auditLog { totalCount } }", ROLE_LIST[3:], "auditLog"),
]


@pytest.mark.parametrize("role", ROLE_LIST)
@pytest.mark.parametrize(("query", "readers", "refused"), READS)
async def test_reads_by_role(
    gql: GraphQLClient,
    records: dict[str, str],
    role: str,
    query: str,
    readers: tuple[str, ...] | list[str],
    refused: str | None,
) -> None:
    body = await as_role(gql, records, role, query)
    if role in readers:
        assert "errors" not in body, body
        assert body["data"] is not None
    else:
        assert refused is not None
        assert forbidden_paths(body) == [refused]
        assert "E. F." not in str(body) and "Hospital" not in str(body)


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


async def test_public_reads_statistics(gql: GraphQLClient, records: dict[str, str]) -> None:
    """Every statistics query of the schema answers the public role."""
    query_type = build_schema()._schema.query_type
    assert isinstance(query_type, GraphQLObjectType)
    for name in (n for n in query_type.fields if n.endswith("Statistics")):
        body = await as_role(gql, records, "public", f"{{ {name} {{ __typename }} }}")
        assert "errors" not in body, (name, body)


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
