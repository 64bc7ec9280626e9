"""Relay global object identification: every record type has a `nodeId` that `node(id:)` and
`nodes(ids:)` take back; roles apply per item; `nodes` reads each type in one statement."""

from __future__ import annotations

import base64
from typing import Any

import asyncpg

from tests.helpers import GraphQLClient
from tests.test_hostile_sockets import CASUALTIES
from tests.test_story import ok, square
from tests.test_subscriptions import INCIDENT

NODE = """query($id: ID!) { node(id: $id) { __typename id nodeId
  ... on Zone { code } ... on Incident { code } ... on Task { status } ... on Team { code }
  ... on Organisation { code } ... on Casualty { outcome } } }"""
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id nodeId } }"


async def records(gql: GraphQLClient, conn: asyncpg.Connection[asyncpg.Record]) -> dict[str, Any]:
    """One record of several types, by type name: {id, nodeId}."""
    org = await ok(
        gql,
        """mutation { createOrganisation(input: {code: "N-ORG", name: "Nodes",
           orgType: INTERNATIONAL_NGO, country: "ZZ"}) { id nodeId } }""",
    )
    team = await ok(
        gql,
        "mutation($input: CreateTeamInput!) { createTeam(input: $input) { id nodeId } }",
        {
            "input": {
                "code": "N-TEAM",
                "name": "Team",
                "organisationId": org["createOrganisation"]["id"],
                "size": 4,
                "capabilities": ["NTS"],
                "accreditationExpiresOn": "2099-12-31",
            }
        },
    )
    zone = await ok(
        gql,
        """mutation($g: GeoJSON!) { createZone(input: {code: "N-ZONE", name: "Z",
           hazardType: SHA, contamination: [AP_MINE], geometry: $g}) { id nodeId } }""",
        {"g": square(3.0, 3.0, 0.004)},
    )
    task = await ok(
        gql,
        "mutation($input: CreateTaskInput!) { createTask(input: $input) { id nodeId } }",
        {
            "input": {
                "zoneId": zone["createZone"]["id"],
                "taskType": "NTS",
                "teamIds": [team["createTeam"]["id"]],
            }
        },
    )
    incident_id = await conn.fetchval(INCIDENT + " RETURNING id", "N-INC", "OTHER")
    await conn.execute(CASUALTIES, incident_id)
    incidents = await ok(
        gql, "{ incidents(first: 5) { nodes { id nodeId casualties { id nodeId } } } }"
    )
    (incident,) = incidents["incidents"]["nodes"]
    return {
        "Organisation": org["createOrganisation"],
        "Team": team["createTeam"],
        "Zone": zone["createZone"],
        "Task": task["createTask"],
        "Incident": {"id": incident["id"], "nodeId": incident["nodeId"]},
        "Casualty": incident["casualties"][0],
    }


async def test_every_record_is_found_again_by_its_global_id(
    gql: GraphQLClient, conn: asyncpg.Connection[asyncpg.Record]
) -> None:
    found = await records(gql, conn)
    for type_name, record in found.items():
        # The global id says the type; the record's own id is unchanged (a decimal string).
        assert base64.b64decode(record["nodeId"]).decode() == f"{type_name}:{record['id']}"
        assert record["id"].isdigit()
        node = (await ok(gql, NODE, {"id": record["nodeId"]}))["node"]
        assert (node["__typename"], node["id"], node["nodeId"]) == (
            type_name,
            record["id"],
            record["nodeId"],
        )
    missing = base64.b64encode(b"Zone:999999").decode()
    assert (await ok(gql, NODE, {"id": missing}))["node"] is None


async def test_nodes_answer_in_order_with_one_statement_per_type(
    gql: GraphQLClient, conn: asyncpg.Connection[asyncpg.Record], sql_log: list[str]
) -> None:
    found = await records(gql, conn)
    casualties = await ok(gql, "{ incidents(first: 1) { nodes { casualties { nodeId } } } }")
    casualty_ids = [c["nodeId"] for c in casualties["incidents"]["nodes"][0]["casualties"]]
    ids = [found["Zone"]["nodeId"], *casualty_ids, found["Team"]["nodeId"]]
    sql_log.clear()
    answer = (await ok(gql, NODES, {"ids": ids}))["nodes"]
    assert [n["nodeId"] for n in answer] == ids
    assert [n["__typename"] for n in answer] == ["Zone", "Casualty", "Casualty", "Casualty", "Team"]
    reads = [s for s in sql_log if "ANY($1::bigint[])" in s]
    assert len(reads) == 3, reads  # zones, casualties, teams: once each


async def test_a_type_the_role_may_not_read_is_null_with_forbidden(
    gql: GraphQLClient, conn: asyncpg.Connection[asyncpg.Record]
) -> None:
    found = await records(gql, conn)
    ids = [found["Zone"]["nodeId"], found["Task"]["nodeId"]]
    body = await gql(NODES, {"ids": ids}, authorization="")
    assert body["data"]["nodes"][0]["nodeId"] == ids[0]
    assert body["data"]["nodes"][1] is None
    (error,) = body["errors"]
    assert error["path"] == ["nodes", 1]
    assert error["extensions"]["code"] == "FORBIDDEN"
    single = await gql(NODE, {"id": ids[1]}, authorization="")
    assert single["data"]["node"] is None
    assert single["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_id_that_is_not_global_is_refused(gql: GraphQLClient) -> None:
    for bad in ("12", base64.b64encode(b"Nope:1").decode(), base64.b64encode(b"Zone:x").decode()):
        body = await gql(NODE, {"id": bad})
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body


async def test_nodes_takes_at_most_a_page_of_ids(gql: GraphQLClient) -> None:
    ids = [base64.b64encode(f"Zone:{n}".encode()).decode() for n in range(1, 502)]
    body = await gql(NODES, {"ids": ids})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
