"""A key in graphql-transport-ws's connection_init payload (browsers cannot set a WebSocket's
headers) against the real server: checked as the header is (a bad, unknown or revoked key closes
with 4401), the socket then runs under that key's role, is capped and withdrawn with the key, and
counts its personal data reads; and the same with npm's graphql-ws client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from api.auth import new_secret
from tests.clients import node_client
from tests.helpers import make_key, serving
from tests.test_hostile_sockets import (
    NAMES,
    closing,
    incident_with_casualties,
    reads_become,
    sockets_open,
    subscribed,
)
from tests.test_subscriptions import INCIDENT, next_events, subscribe, subscriptions_open

pytestmark = pytest.mark.commits

DESCRIPTIONS = "subscription { incidentRecorded { code description } }"


@pytest.fixture
async def server(fresh_db_url: str) -> AsyncIterator[str]:
    async with serving(fresh_db_url, MAR_WS_MAX_PER_KEY="2") as base_url:
        yield base_url


async def raw_socket(base_url: str) -> ClientConnection:
    """A WebSocket to /graphql with no Authorization header, as a browser opens it."""
    return await connect(
        base_url.replace("http", "ws") + "/graphql",
        subprotocols=[Subprotocol("graphql-transport-ws")],
    )


async def init(ws: ClientConnection, payload: dict[str, Any]) -> dict[str, Any]:
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    answer: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 5))
    return answer


@pytest.mark.parametrize(
    "shape",
    [
        lambda k: {"Authorization": f"Bearer {k}"},
        lambda k: {"authorization": f"Bearer {k}"},
        lambda k: {"headers": {"Authorization": f"Bearer {k}"}},
        lambda k: {"authToken": k},
    ],
    ids=["Authorization", "authorization", "headers", "authToken"],
)
async def test_a_key_in_the_payload_gives_the_socket_its_role(
    server: str, db: asyncpg.Connection[asyncpg.Record], shape: Any
) -> None:
    key = await make_key(db, "dashboard", "partner")
    ws = await raw_socket(server)
    try:
        assert await init(ws, shape(key)) == {"type": "connection_ack"}
        await subscribed(ws, server, DESCRIPTIONS)
        await db.execute(INCIDENT, "BROWSER-1", "OTHER")
        (event,) = await next_events(ws, 1)
        # The partner's role reads `description`; the public would get FORBIDDEN.
        assert "errors" not in event["payload"], event
        assert event["payload"]["data"]["incidentRecorded"]["code"] == "BROWSER-1"
    finally:
        await ws.close()


@pytest.mark.parametrize(
    "payload",
    [
        {"Authorization": "Bearer mar_" + "x" * 43},  # unknown
        {"Authorization": "Basic abc"},  # not a bearer key
        {"Authorization": "Bearer nonsense"},  # not a key at all
        {"authorization": 42},  # not text
    ],
    ids=["unknown", "basic", "nonsense", "number"],
)
async def test_a_bad_key_in_the_payload_closes_with_4401(
    server: str, payload: dict[str, Any]
) -> None:
    ws = await raw_socket(server)
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    code, received = await closing(ws, 5)
    assert (code, received) == (4401, [])


async def test_a_revoked_key_in_the_payload_closes_with_4401(
    server: str, db: asyncpg.Connection[asyncpg.Record]
) -> None:
    key = await make_key(db, "old", "partner")
    await db.execute("UPDATE api_keys SET revoked_at = now() WHERE name = 'old'")
    ws = await raw_socket(server)
    await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": key}}))
    assert await closing(ws, 5) == (4401, [])


async def test_revoking_the_payload_key_closes_its_socket(
    server: str, db: asyncpg.Connection[asyncpg.Record]
) -> None:
    key = await make_key(db, "dashboard", "partner")
    ws = await raw_socket(server)
    assert await init(ws, {"Authorization": f"Bearer {key}"}) == {"type": "connection_ack"}
    await subscribed(ws, server, DESCRIPTIONS)
    await db.execute("UPDATE api_keys SET revoked_at = now() WHERE name = 'dashboard'")
    code, _ = await closing(ws, 2)
    assert code == 4401
    await sockets_open(server, 0)


async def test_payload_keys_count_against_the_keys_cap(
    server: str, db: asyncpg.Connection[asyncpg.Record]
) -> None:
    key = await make_key(db, "dashboard", "partner")
    held = [await raw_socket(server) for _ in range(2)]
    try:
        for ws in held:
            assert await init(ws, {"Authorization": f"Bearer {key}"}) == {"type": "connection_ack"}
        third = await raw_socket(server)
        await third.send(json.dumps({"type": "connection_init", "payload": {"authToken": key}}))
        code, _ = await closing(third, 5)
        assert code == 4429  # MAR_WS_MAX_PER_KEY=2
        await held[0].close()
        await sockets_open(server, 1)
        fourth = await raw_socket(server)  # the key's own socket closed: room again
        assert await init(fourth, {"authToken": key}) == {"type": "connection_ack"}
        await fourth.close()
    finally:
        for ws in held:
            await ws.close()


async def test_personal_data_read_under_a_payload_key_is_counted_for_it(
    server: str, db: asyncpg.Connection[asyncpg.Record]
) -> None:
    await incident_with_casualties(db, "WS-PAYLOAD")
    key = await make_key(db, "payload reader", "editor")
    ws = await raw_socket(server)
    try:
        assert await init(ws, {"Authorization": f"Bearer {key}"}) == {"type": "connection_ack"}
        await subscribe(ws, "q", NAMES)
        answer, done = await next_events(ws, 2)
        (incident,) = answer["payload"]["data"]["incidents"]["nodes"]
        assert {c["fullName"] for c in incident["casualties"]} == {"A Person", None}
        await reads_become(db, "payload reader", 3)
    finally:
        await ws.close()


async def test_a_different_key_in_header_and_payload_is_refused(
    server: str, db: asyncpg.Connection[asyncpg.Record]
) -> None:
    one = await make_key(db, "one", "partner")
    other = await make_key(db, "other", "partner")
    ws = await connect(
        server.replace("http", "ws") + "/graphql",
        subprotocols=[Subprotocol("graphql-transport-ws")],
        additional_headers={"Authorization": f"Bearer {one}"},
    )
    await ws.send(json.dumps({"type": "connection_init", "payload": {"authToken": other}}))
    code, _ = await closing(ws, 5)
    assert code == 4400


# --- npm graphql-ws, as a dashboard in a browser uses it ------------------------------------


async def test_graphql_ws_client_subscribes_with_connection_params(
    server: str, db: asyncpg.Connection[asyncpg.Record]
) -> None:
    key = await make_key(db, "graphql-ws", "partner")
    url = server.replace("http", "ws") + "/graphql"
    client = await node_client.start("ws_subscribe.mjs", url, key, DESCRIPTIONS, "1")
    try:
        assert await client.line() == {"connected": True}
        await subscriptions_open(server, "incident", 1)
        await db.execute(INCIDENT, "NPM-1", "OTHER")
        event = await client.line()
        assert event["next"] == {
            "data": {"incidentRecorded": {"code": "NPM-1", "description": None}}
        }
    finally:
        await client.stop()


async def test_graphql_ws_client_with_a_bad_key_is_closed_with_4401(server: str) -> None:
    url = server.replace("http", "ws") + "/graphql"
    client = await node_client.start("ws_subscribe.mjs", url, new_secret(), DESCRIPTIONS, "1")
    try:
        assert (await client.line())["closed"] == 4401
    finally:
        await client.stop()


async def test_failed_payload_keys_count_as_failed_key_checks(fresh_db_url: str) -> None:
    async with serving(fresh_db_url, MAR_AUTH_FAILURES_PER_MINUTE="2") as server:
        codes = []
        for _ in range(3):
            ws = await raw_socket(server)
            await ws.send(json.dumps({"type": "connection_init", "payload": {"authToken": "x"}}))
            code, _ = await closing(ws, 5)
            codes.append(code)
    # Two failures are allowed a minute; the third guess is refused before it is checked.
    assert codes == [4401, 4401, 4429]
