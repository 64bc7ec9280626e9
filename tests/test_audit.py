"""The audit log: every write recorded by the database in the writer's transaction; auditLog."""

from __future__ import annotations

import re
from typing import Any

import httpx

from db.pool import Connection as Conn
from db.queries import audit as audit_sql
from tests.helpers import GraphQLClient, make_key
from tests.test_land_releases import record as record_release
from tests.test_zones_graphql import zone_input

CREATE_ZONE = "mutation($input: CreateZoneInput!) { createZone(input: $input) { id version } }"
UPDATE_ZONE = """mutation($id: ID!, $version: Int!) {
  updateZone(id: $id, version: $version, input: {name: "Riverside", priority: 1}) { version }
}"""
AUDIT = """query($entity: String, $entityId: ID, $first: Int, $after: String) {
  auditLog(entity: $entity, entityId: $entityId, first: $first, after: $after) {
    totalCount
    nodes { id occurredAt actor action entity entityId before after requestId }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def entries(conn: Conn, entity: str, entity_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT actor, action, before, after, request_id FROM audit_log "
        "WHERE entity = $1 AND entity_id = $2 ORDER BY id",
        entity,
        entity_id,
    )
    return [dict(r) for r in rows]


async def test_create_update_and_release_are_recorded(
    client: httpx.AsyncClient, conn: Conn, gql: GraphQLClient, editor_key: str
) -> None:
    editor = {"Authorization": f"Bearer {editor_key}"}
    created = await client.post(
        "/graphql",
        json={"query": CREATE_ZONE, "variables": {"input": zone_input("HA-AU1")}},
        headers={"X-Request-ID": "req-create-1", **editor},
    )
    zone = created.json()["data"]["createZone"]
    (create,) = await entries(conn, "Zone", zone["id"])
    assert create["actor"] == "test editor" and create["action"] == "create"
    # The server's own request id, never the one the client sent (api/requests.py).
    assert create["before"] is None and re.fullmatch("[0-9a-f]{32}", create["request_id"])
    assert created.headers["x-request-id"] == "req-create-1"
    assert create["after"]["code"] == "HA-AU1" and create["after"]["priority"] == 2
    assert create["after"]["geometry"]["type"] == "MultiPolygon"

    await client.post(
        "/graphql",
        json={"query": UPDATE_ZONE, "variables": {"id": zone["id"], "version": 1}},
        headers={"X-Request-ID": "req-update-1", **editor},
    )
    update = (await entries(conn, "Zone", zone["id"]))[1]
    assert update["action"] == "update" and update["request_id"] not in ("req-update-1", None)
    # Only what changed, before and after.
    assert update["before"] == {"name": "Zone HA-AU1", "priority": 2, "version": 1}
    assert update["after"] == {"name": "Riverside", "priority": 1, "version": 2}

    release = await record_release(gql, zone["id"], method="CANCELLED", areaM2=100.0)
    (made,) = await entries(conn, "LandRelease", release["id"])
    assert made["action"] == "create" and made["actor"] == "test editor"
    assert made["after"]["area_m2"] == 100.0 and made["after"]["method"] == "CANCELLED"
    # The release changed the zone too (a trigger did): that is recorded with the same request.
    zone_change = (await entries(conn, "Zone", zone["id"]))[2]
    assert zone_change["before"]["released_area_m2"] == 0
    assert zone_change["after"]["released_area_m2"] == 100.0
    assert zone_change["request_id"] == made["request_id"] is not None


async def test_a_refused_write_leaves_no_entry(gql: GraphQLClient, conn: Conn) -> None:
    before = await conn.fetchval("SELECT count(*) FROM audit_log")
    first = await gql(CREATE_ZONE, {"input": zone_input("HA-AU2")})
    assert "errors" not in first
    after_first = await conn.fetchval("SELECT count(*) FROM audit_log")
    assert after_first > before
    # A duplicate code is refused by the database, inside the transaction: no entry remains.
    again = await gql(CREATE_ZONE, {"input": zone_input("HA-AU2")})
    assert again["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert await conn.fetchval("SELECT count(*) FROM audit_log") == after_first


async def test_key_hashes_never_reach_the_log(conn: Conn) -> None:
    secret = await make_key(conn, "hash check", "editor")
    await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE name = 'hash check'")
    await conn.execute("UPDATE api_keys SET last_used_at = now(), personal_data_reads = 4")
    rows = await conn.fetch("SELECT action, before, after FROM audit_log WHERE entity = 'ApiKey'")
    key_hash = await conn.fetchval("SELECT key_hash FROM api_keys WHERE name = 'hash check'")
    text = str([dict(r) for r in rows])
    assert key_hash not in text and secret not in text and "personal_data_reads" not in text
    # Creation and revocation are recorded; mere use is not.
    assert [r["action"] for r in rows].count("update") == 1


async def test_audit_log_query_for_admins(
    client: httpx.AsyncClient, conn: Conn, gql: GraphQLClient
) -> None:
    admin = {"Authorization": f"Bearer {await make_key(conn, 'auditor', 'admin')}"}
    zone = (await gql(CREATE_ZONE, {"input": zone_input("HA-AU3")}))["data"]["createZone"]
    for version in (1, 2):
        body = await gql(UPDATE_ZONE, {"id": zone["id"], "version": version})
        assert "errors" not in body, body

    async def audit(**variables: Any) -> dict[str, Any]:
        response = await client.post(
            "/graphql", json={"query": AUDIT, "variables": variables}, headers=admin
        )
        body: dict[str, Any] = response.json()
        return body

    one = await audit(entity="Zone", entityId=zone["id"], first=2)
    log = one["data"]["auditLog"]
    assert log["totalCount"] == 3
    # Newest first; the second update changed nothing but the version, and is recorded too.
    assert [n["action"] for n in log["nodes"]] == ["update", "update"]
    assert log["nodes"][0]["before"] == {"version": 2}
    assert log["nodes"][0]["after"] == {"version": 3}
    assert log["nodes"][0]["actor"] == "test editor" and log["pageInfo"]["hasNextPage"]
    rest = await audit(entity="Zone", entityId=zone["id"], after=log["pageInfo"]["endCursor"])
    (oldest,) = rest["data"]["auditLog"]["nodes"]
    assert oldest["action"] == "create" and oldest["entityId"] == zone["id"]

    everything = (await audit())["data"]["auditLog"]
    assert everything["totalCount"] >= 3
    bad = await audit(entity="Zone", entityId="zone-1")
    assert bad["errors"][0]["extensions"]["fields"][0]["field"] == "entityId"
    tampered = await audit(after="bm90IGEgY3Vyc29y")
    assert tampered["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    # Editors write, but the log is for admins only.
    refused = await gql(AUDIT, {})
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert refused["data"] is None


async def test_an_unknown_entity_is_bad_user_input_listing_the_valid_ones(
    client: httpx.AsyncClient, conn: Conn, gql: GraphQLClient
) -> None:
    admin = {"Authorization": f"Bearer {await make_key(conn, 'auditor', 'admin')}"}
    await gql(CREATE_ZONE, {"input": zone_input("HA-AU4")})
    for name in ("Zones", "zone", "land_releases", ""):
        response = await client.post(
            "/graphql", json={"query": AUDIT, "variables": {"entity": name}}, headers=admin
        )
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        (field,) = error["extensions"]["fields"]
        assert field["field"] == "entity"
        for valid in ("Zone", "Task", "Incident", "LandRelease", "Casualty", "ApiKey"):
            assert valid in field["message"]
    known = await client.post(
        "/graphql", json={"query": AUDIT, "variables": {"entity": "Zone"}}, headers=admin
    )
    assert known.json()["data"]["auditLog"]["totalCount"] >= 1


async def test_the_valid_entities_are_those_the_triggers_write(conn: Conn) -> None:
    rows = await conn.fetch(
        """SELECT DISTINCT split_part(encode(t.tgargs, 'escape'), '\\000', 1) AS entity
           FROM pg_trigger AS t JOIN pg_proc AS p ON p.oid = t.tgfoid
           WHERE p.proname = 'audit_changes'"""
    )
    written = {r["entity"] for r in rows}
    assert "Zone" in written
    # api_keys has a trigger of its own, which writes 'ApiKey'.
    assert await conn.fetchval(
        "SELECT prosrc LIKE '%''ApiKey''%' FROM pg_proc WHERE proname = 'audit_key_changes'"
    )
    assert sorted(written | {"ApiKey"}) == sorted(audit_sql.ENTITIES)
