"""GraphQL over GET (GraphQL over HTTP): queries with their variables in the URL; mutations
never run over GET (405)."""

from __future__ import annotations

import json

import httpx
import pytest

from db.pool import Connection as Conn
from tests.helpers import GraphQLClient
from tests.test_zones_graphql import create, square

DOCUMENT = """
query Zones($n: Int) { zones(first: $n, orderBy: CODE_ASC) { totalCount nodes { code } } }
mutation Organise { createOrganisation(input: {code: "OP-GET", name: "Get", orgType: UN}) {
  code } }
"""


@pytest.fixture
async def zones(gql: GraphQLClient) -> None:
    for n, code in enumerate(("HA-GET-2", "HA-GET-1", "HA-GET-3")):
        await create(gql, code, geometry=square(12.0 + n / 100, 12.0))


@pytest.mark.parametrize("accept", ["application/json", "application/graphql-response+json"])
async def test_a_query_over_get_answers_as_over_post(
    client: httpx.AsyncClient, conn: Conn, zones: None, accept: str
) -> None:
    params = {"query": DOCUMENT, "variables": json.dumps({"n": 2}), "operationName": "Zones"}
    response = await client.get("/graphql", params=params, headers={"accept": accept})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(accept)
    codes = [r["code"] for r in await conn.fetch("SELECT code FROM zones ORDER BY code LIMIT 2")]
    assert codes == ["HA-GET-1", "HA-GET-2"]
    total = await conn.fetchval("SELECT count(*) FROM zones")
    expected = {"zones": {"totalCount": total, "nodes": [{"code": c} for c in codes]}}
    assert response.json() == {"data": expected}
    by_post = await client.post(
        "/graphql", json={"query": DOCUMENT, "variables": {"n": 2}, "operationName": "Zones"}
    )
    assert by_post.json() == response.json()


@pytest.mark.parametrize("compiled_reads", [True, False], ids=["compiled", "executed"])
async def test_a_mutation_over_get_is_405_and_never_runs(
    client: httpx.AsyncClient, conn: Conn, editor_key: str
) -> None:
    editor = {"authorization": f"Bearer {editor_key}"}
    before = await conn.fetchval("SELECT count(*) FROM organisations")
    audited = await conn.fetchval("SELECT count(*) FROM audit_log")
    for params in (
        {"query": DOCUMENT, "operationName": "Organise"},
        {
            "query": 'mutation { createOrganisation(input: {code: "OP-G2", name: "G", orgType: UN})'
            " { code } }"
        },
    ):
        response = await client.get("/graphql", params=params, headers=editor)
        assert response.status_code == 405, response.text
        assert response.headers["allow"] == "POST"
        assert "mutations are not allowed" in response.text
        assert response.headers["x-request-id"]
    assert await conn.fetchval("SELECT count(*) FROM organisations") == before
    assert await conn.fetchval("SELECT count(*) FROM audit_log") == audited
    # The same mutation POSTed runs.
    posted = await client.post(
        "/graphql", json={"query": DOCUMENT, "operationName": "Organise"}, headers=editor
    )
    assert posted.json() == {"data": {"createOrganisation": {"code": "OP-GET"}}}


async def test_bad_variables_in_the_url_are_a_client_error(client: httpx.AsyncClient) -> None:
    params = {"query": DOCUMENT, "operationName": "Zones", "variables": "{not json"}
    response = await client.get("/graphql", params=params)
    assert response.status_code == 400
    wrong_type = {**params, "variables": json.dumps({"n": "two"})}
    response = await client.get("/graphql", params=wrong_type)
    (error,) = response.json()["errors"]
    assert "$n" in error["message"] and "Int" in error["message"], error
