"""GraphQL over Server-Sent Events (graphql-sse, distinct connections mode) against the real
server, by hand and with npm's graphql-sse client: subscriptions stream `next` events under the
caller's role, a query answers once and completes, a revoked key ends its stream, streams are
capped; a subscription sent as plain HTTP is a 400 naming the transports."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from tests.clients import node_client
from tests.helpers import make_key, serving
from tests.test_hostile_sockets import sockets_open
from tests.test_subscriptions import INCIDENT, subscriptions_open

pytestmark = pytest.mark.commits

LIVE = "subscription { incidentRecorded { code description } }"
EVENTS = {"Accept": "text/event-stream"}


@pytest.fixture
async def server(fresh_db_url: str) -> AsyncIterator[str]:
    async with serving(fresh_db_url, MAR_WS_MAX_PER_ADDRESS="1") as base_url:
        yield base_url


async def read_events(lines: AsyncIterator[str], count: int) -> list[tuple[str, Any]]:
    """The next `count` events of a stream: (event, data decoded or None)."""
    found: list[tuple[str, Any]] = []
    kind = None
    async for line in lines:
        if line.startswith("event: "):
            kind = line[len("event: ") :]
        elif line.startswith("data:") and kind is not None:
            data = line[len("data:") :].strip()
            found.append((kind, json.loads(data) if data else None))
            kind = None
            if len(found) == count:
                break
    return found


async def test_a_subscription_streams_next_events_under_the_callers_role(
    server: str, db: asyncpg.Connection[asyncpg.Record]
) -> None:
    key = await make_key(db, "dashboard", "partner")
    headers = {**EVENTS, "Authorization": f"Bearer {key}"}
    async with (
        httpx.AsyncClient(base_url=server, timeout=10) as http,
        http.stream("POST", "/graphql", json={"query": LIVE}, headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        await subscriptions_open(server, "incident", 1)
        await db.execute(INCIDENT, "SSE-1", "OTHER")
        lines = response.aiter_lines()
        assert await read_events(lines, 1) == [
            ("next", {"data": {"incidentRecorded": {"code": "SSE-1", "description": None}}})
        ]
        # Revoking the key ends the stream at once, with why.
        await db.execute("UPDATE api_keys SET revoked_at = now() WHERE name = 'dashboard'")
        ((kind, data), (last, _)) = await read_events(lines, 2)
        assert kind == "next"
        assert data["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert last == "complete"
    await subscriptions_open(server, "incident", 0)


async def test_a_query_over_events_answers_once_then_completes(server: str) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=10) as http:
        response = await http.post(
            "/graphql", json={"query": "{ incidents(first: 1) { totalCount } }"}, headers=EVENTS
        )
    assert response.status_code == 200
    assert response.text == (
        'event: next\ndata: {"data": {"incidents": {"totalCount": 0}}}\n\n'
        "event: complete\ndata: \n\n"
    )


async def test_roles_apply_to_each_event(
    server: str, db: asyncpg.Connection[asyncpg.Record]
) -> None:
    await db.execute(INCIDENT, "SSE-ROLE", "OTHER")
    query = {"query": "{ incidents(first: 1) { nodes { code description } } }"}
    async with httpx.AsyncClient(base_url=server, timeout=10) as http:
        response = await http.post("/graphql", json=query, headers=EVENTS)
    assert response.status_code == 200
    lines = response.aiter_lines()
    ((kind, data), (last, _)) = await read_events(lines, 2)
    assert (kind, last) == ("next", "complete")
    assert data["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # the public role
    assert data["data"]["incidents"]["nodes"][0]["code"] == "SSE-ROLE"


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_a_subscription_as_plain_http_is_a_400_naming_the_transports(
    server: str, method: str
) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=10) as http:
        if method == "POST":
            response = await http.post("/graphql", json={"query": LIVE})
        else:
            response = await http.get("/graphql", params={"query": LIVE})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "BAD_USER_INPUT"
    assert "graphql-transport-ws" in body["detail"] and "text/event-stream" in body["detail"]


async def test_streams_count_against_the_sockets_cap(server: str) -> None:
    async with (
        httpx.AsyncClient(base_url=server, timeout=10) as http,
        http.stream("POST", "/graphql", json={"query": LIVE}, headers=EVENTS) as first,
    ):
        assert first.status_code == 200
        await sockets_open(server, 1)
        second = await http.post("/graphql", json={"query": LIVE}, headers=EVENTS)
        assert second.status_code == 429  # MAR_WS_MAX_PER_ADDRESS=1
        assert second.headers["retry-after"] == "5"
    await sockets_open(server, 0)


# --- npm graphql-sse ---------------------------------------------------------------------------


async def test_graphql_sse_client_subscribes_and_queries(
    server: str, db: asyncpg.Connection[asyncpg.Record]
) -> None:
    key = await make_key(db, "sse client", "partner")
    client = await node_client.start("sse_subscribe.mjs", f"{server}/graphql", key, LIVE, "1")
    try:
        await subscriptions_open(server, "incident", 1)
        await db.execute(INCIDENT, "NPM-SSE", "OTHER")
        assert await client.line() == {
            "next": {"data": {"incidentRecorded": {"code": "NPM-SSE", "description": None}}}
        }
    finally:
        await client.stop()
    query = "{ incidents(first: 5) { nodes { code } } }"
    lines = await node_client.run("sse_subscribe.mjs", f"{server}/graphql", "", query, "5")
    assert lines == [
        {"next": {"data": {"incidents": {"nodes": [{"code": "NPM-SSE"}]}}}},
        {"complete": True},
    ]


async def test_a_get_may_ask_for_events_too(server: str) -> None:
    query = "{ incidents(first: 1) { totalCount } }"
    async with httpx.AsyncClient(base_url=server, timeout=10) as http:
        response = await http.get("/graphql", params={"query": query}, headers=EVENTS)
    assert response.status_code == 200
    assert response.text.startswith('event: next\ndata: {"data": {"incidents"')
