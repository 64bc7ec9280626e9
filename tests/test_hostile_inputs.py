"""Hostile inputs against the real server (`mar serve`): each is a 4xx naming the problem, never a
500, and the process goes on serving."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from db.pool import connect
from tests.helpers import make_key, serving

DEEP = b"[" * 100_000
MUTATION = "mutation($input: CreateZoneInput!) { createZone(input: $input) { id } }"


@pytest.fixture
async def server(fresh_db_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """A client of `mar serve` on a database of its own, and an editor's headers."""
    setup = await connect(fresh_db_url)
    try:
        secret = await make_key(setup, "hostile editor", "editor")
    finally:
        await setup.close()
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    async with (
        serving(fresh_db_url, MAR_RATE_LIMIT="0", MAR_LOG_JSON="false") as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        yield http, headers


async def still_serving(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    assert (await http.get("/healthz")).status_code == 200
    answer = await http.post(
        "/graphql", json={"query": "{ zones(first: 1) { nodes { code } } }"}, headers=headers
    )
    assert answer.json() == {"data": {"zones": {"nodes": []}}}


async def test_deeply_nested_bodies_are_refused_and_the_server_goes_on(
    server: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    http, headers = server
    for extra in ({"Idempotency-Key": "deep-1"}, {}):
        answer = await http.post("/graphql", content=DEEP, headers={**headers, **extra})
        assert answer.status_code == 400, answer.text
        assert "nested too deeply" in answer.text
    imported = await http.post("/imports/zones", content=DEEP, headers=headers)
    assert imported.status_code == 400, imported.text
    problem = imported.json()
    assert problem["code"] == "BAD_USER_INPUT"
    assert problem["fields"] == [
        {"field": "body", "message": "is nested too deeply (arrays and objects within each other)"}
    ]
    # Deep, but within what the decoder reads: the variables are refused by GraphQL itself.
    variables = b'{"input": ' + b"[" * 900 + b"]" * 900 + b"}"
    body = b'{"query": "' + MUTATION.encode() + b'", "variables": ' + variables + b"}"
    answer = await http.post("/graphql", content=body, headers={**headers, "Idempotency-Key": "d2"})
    assert answer.status_code in (200, 400), answer.text
    assert answer.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    await still_serving(http, headers)


async def test_instants_out_of_range_are_refused_and_the_server_goes_on(
    server: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    http, headers = server
    query = "query($since: DateTime) { zones(filter: {updatedSince: $since}) { nodes { code } } }"
    for _ in range(3):
        answer = await http.post(
            "/graphql",
            json={"query": query, "variables": {"since": "0001-01-01T00:00:00+14:00"}},
            headers={**headers, "Accept": "application/graphql-response+json"},
        )
        assert answer.status_code == 400, answer.text
        (error,) = answer.json()["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["extensions"]["fields"][0]["field"] == "since"
        items = await http.get(
            "/ogc/collections/zones/items", params={"datetime": "0001-01-01T00:00:00+14:00"}
        )
        assert items.status_code == 400, items.text
        assert items.json()["fields"][0]["field"] == "datetime"
    await still_serving(http, headers)
