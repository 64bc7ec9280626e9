"""Batched GraphQL requests (a JSON array of operations) against the real server, by hand and
with @apollo/client's BatchHttpLink: answered in order, run in order, held to a length cap, to
the sum of their costs, to a token of the rate limit each, and never with an Idempotency-Key."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from tests.clients import node_client
from tests.helpers import make_key, serving
from tests.test_subscriptions import ZONE_MUTATION

pytestmark = pytest.mark.commits

COUNT = "{ zones(first: 1) { totalCount } }"
PAGE = "{ zones(first: 60) { nodes { code } } }"


@pytest.fixture
async def server(fresh_db_url: str) -> AsyncIterator[str]:
    settings = {"MAR_MAX_BATCH": "4", "MAR_MAX_COST": "100", "MAR_RATE_BURST": "12"}
    async with serving(fresh_db_url, MAR_RATE_LIMIT="1", **settings) as base_url:
        yield base_url


async def test_a_batch_runs_in_order_and_is_answered_in_order(
    server: str, db: asyncpg.Connection[asyncpg.Record]
) -> None:
    key = await make_key(db, "batcher", "editor")
    batch = [
        {"query": COUNT},
        {"query": ZONE_MUTATION, "variables": {"code": "BATCH-1", "type": "SHA"}},
        {"query": COUNT},
        {"query": "{ nope }"},
    ]
    async with httpx.AsyncClient(base_url=server) as http:
        response = await http.post(
            "/graphql", json=batch, headers={"Authorization": f"Bearer {key}"}
        )
    assert response.status_code == 200
    first, created, second, wrong = response.json()
    assert first == {"data": {"zones": {"totalCount": 0}}}
    assert created["data"]["createZone"]["version"] == 1
    assert second == {"data": {"zones": {"totalCount": 1}}}  # it saw the write before it
    assert wrong["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_a_batch_is_held_to_its_length_and_to_the_sum_of_its_costs(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as http:
        alone = await http.post("/graphql", json=[{"query": PAGE}])
        assert alone.status_code == 200 and "errors" not in alone.json()[0]
        summed = await http.post("/graphql", json=[{"query": PAGE}, {"query": PAGE}])
        assert summed.status_code == 400
        (error,) = summed.json()["errors"]
        assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        assert "add up" in error["message"]
        long = await http.post("/graphql", json=[{"query": COUNT}] * 5)
        assert long.status_code == 400
        assert long.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        assert "at most 4 operations" in long.json()["errors"][0]["message"]
        empty = await http.post("/graphql", json=[])
        assert empty.status_code == 400


async def test_a_batch_never_carries_an_idempotency_key(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as http:
        response = await http.post(
            "/graphql", json=[{"query": COUNT}], headers={"Idempotency-Key": "k-1"}
        )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_each_operation_of_a_batch_spends_a_token(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as http:
        # A burst of 12 at one a second: 4 + 4 + 4 operations spend it (within a second or
        # two, at most two tokens come back), then a fourth batch of 4 is refused.
        answers = [
            (await http.post("/graphql", json=[{"query": COUNT}] * 4)).status_code for _ in range(4)
        ]
    assert answers[:3] == [200, 200, 200]
    assert answers[3] == 429


async def test_apollo_batch_http_link_sends_one_request(server: str) -> None:
    queries = [COUNT, "{ incidents(first: 1) { totalCount } }"]
    lines = await node_client.run("apollo.mjs", "batch", f"{server}/graphql", "", *queries)
    (exchange,) = [line["fetch"] for line in lines if "fetch" in line]
    assert (exchange["method"], exchange["batch"], exchange["status"]) == ("POST", 2, 200)
    results = [line["result"] for line in lines if "result" in line]
    assert results == [{"zones": {"totalCount": 0}}, {"incidents": {"totalCount": 0}}]
